// Recovery after a lost websocket: ResumeSession for a new token, then reopen the original
// stream URL, retried with capped exponential backoff for a long period. The official
// plugin gives up after about 5 s of retries; a laptop waking from sleep needs minutes.

import { setTimeout as sleep } from 'node:timers/promises';
import type { SessionEnd } from '../portforward/types.js';
import { DataChannelError } from './errors.js';

export interface BackoffPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
}

/**
 * Returns the delay before retry `attempt` (0-based). The base doubles from
 * `initialDelayMs` up to `maxDelayMs`. The delay is drawn uniformly between half the base
 * and the full base, so clients that lost the same service do not retry in step.
 */
export function backoffDelayMs(
  attempt: number,
  policy: BackoffPolicy,
  random = Math.random,
): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.min(attempt, 30));
  return base / 2 + (random() * base) / 2;
}

export interface ReconnectPlan extends BackoffPolicy {
  /** Total time allowed for recovery, in milliseconds. */
  reconnectForMs: number;
  signal: AbortSignal;
  /** Returns a fresh token from ResumeSession; an empty token means the session is over. */
  resume: () => Promise<{ tokenValue: string }>;
}

export type ReconnectOutcome<T> =
  { kind: 'connected'; connection: T } | { kind: 'ended'; end: SessionEnd } | { kind: 'aborted' };

function isNonRetryable(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { retryable?: unknown }).retryable === false
  );
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs resume-then-connect attempts until one connects, the plan's time runs out, resume
 * reports a final error (`retryable: false`) or an empty token, or the signal aborts.
 */
export async function reconnect<T>(
  plan: ReconnectPlan,
  connect: (tokenValue: string) => Promise<T>,
  cause: Error,
): Promise<ReconnectOutcome<T>> {
  const deadline = Date.now() + plan.reconnectForMs;
  let lastError: unknown = cause;
  for (let attempt = 0; ; attempt++) {
    const delay = backoffDelayMs(attempt, plan);
    if (Date.now() + delay > deadline) {
      const error = new DataChannelError(
        'ERR_RECONNECT_TIMEOUT',
        `could not reconnect within ${plan.reconnectForMs} ms; last error: ${describe(lastError)}`,
        { cause: lastError },
      );
      return { kind: 'ended', end: { by: 'error', reason: error.message, error } };
    }
    try {
      await sleep(delay, undefined, { signal: plan.signal });
    } catch {
      return { kind: 'aborted' };
    }
    let tokenValue: string;
    try {
      ({ tokenValue } = await plan.resume());
    } catch (error) {
      if (isNonRetryable(error)) {
        const final = new DataChannelError(
          'ERR_RESUME_FAILED',
          `ResumeSession failed and cannot be retried: ${describe(error)}`,
          { cause: error },
        );
        return { kind: 'ended', end: { by: 'error', reason: final.message, error: final } };
      }
      lastError = error;
      continue;
    }
    if (plan.signal.aborted) {
      return { kind: 'aborted' };
    }
    if (!tokenValue) {
      return {
        kind: 'ended',
        end: {
          by: 'service',
          reason: 'ResumeSession returned no token: the session timed out or was terminated',
        },
      };
    }
    try {
      return { kind: 'connected', connection: await connect(tokenValue) };
    } catch (error) {
      lastError = error;
    }
  }
}
