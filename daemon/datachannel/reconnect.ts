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

/** One failed reconnect attempt, reported before the wait for the next attempt. */
export interface ReconnectAttemptFailure {
  /** Number of the attempt since the websocket was lost, starting at 1. */
  attempt: number;
  /** Step that failed: the ResumeSession call, or opening the websocket with its token. */
  stage: 'resume' | 'connect';
  error: unknown;
  /**
   * Delay before the next attempt, in milliseconds, or null when no attempt follows because
   * the error is final or the time allowed for recovery has run out.
   */
  nextDelayMs: number | null;
}

export interface ReconnectPlan extends BackoffPolicy {
  /** Total time allowed for recovery, in milliseconds. */
  reconnectForMs: number;
  signal: AbortSignal;
  /** Returns a fresh token from ResumeSession; an empty token means the session is over. */
  resume: () => Promise<{ tokenValue: string }>;
  /** Called when an attempt begins after its backoff delay, with its number from 1. */
  onAttemptStarted?: (attempt: number) => void;
  /** Called after every failed attempt, unless the signal aborted meanwhile. */
  onAttemptFailed?: (failure: ReconnectAttemptFailure) => void;
}

export type ReconnectOutcome<T> =
  { kind: 'connected'; connection: T } | { kind: 'ended'; end: SessionEnd } | { kind: 'aborted' };

type AttemptResult<T> =
  | { kind: 'connected'; connection: T }
  | { kind: 'no-token' }
  | { kind: 'aborted' }
  | { kind: 'failed'; stage: 'resume' | 'connect'; error: unknown };

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

/** Runs one resume-then-connect attempt and reports which step failed, if any. */
async function attemptOnce<T>(
  plan: ReconnectPlan,
  connect: (tokenValue: string) => Promise<T>,
): Promise<AttemptResult<T>> {
  let tokenValue: string;
  try {
    ({ tokenValue } = await plan.resume());
  } catch (error) {
    return { kind: 'failed', stage: 'resume', error };
  }
  if (plan.signal.aborted) {
    return { kind: 'aborted' };
  }
  if (!tokenValue) {
    return { kind: 'no-token' };
  }
  try {
    return { kind: 'connected', connection: await connect(tokenValue) };
  } catch (error) {
    return { kind: 'failed', stage: 'connect', error };
  }
}

/**
 * Runs resume-then-connect attempts until one connects, the plan's time runs out, resume
 * reports a final error (`retryable: false`) or an empty token, or the signal aborts. Each
 * attempt is announced to `plan.onAttemptStarted` as it begins, and each failed one goes to
 * `plan.onAttemptFailed` with the delay before the next one.
 */
export async function reconnect<T>(
  plan: ReconnectPlan,
  connect: (tokenValue: string) => Promise<T>,
  cause: Error,
): Promise<ReconnectOutcome<T>> {
  const deadline = Date.now() + plan.reconnectForMs;
  let lastError: unknown = cause;
  let delay = backoffDelayMs(0, plan);
  for (let attempt = 1; ; attempt++) {
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
    plan.onAttemptStarted?.(attempt);
    const result = await attemptOnce(plan, connect);
    if (plan.signal.aborted) {
      // The channel closed during the attempt; a connection that opened meanwhile is the
      // caller's to close, so it is still returned.
      return result.kind === 'connected' ? result : { kind: 'aborted' };
    }
    if (result.kind === 'connected' || result.kind === 'aborted') {
      return result;
    }
    if (result.kind === 'no-token') {
      return {
        kind: 'ended',
        end: {
          by: 'service',
          reason: 'ResumeSession returned no token: the session timed out or was terminated',
        },
      };
    }
    lastError = result.error;
    const final = result.stage === 'resume' && isNonRetryable(result.error);
    delay = backoffDelayMs(attempt, plan);
    const nextDelayMs = final || Date.now() + delay > deadline ? null : delay;
    plan.onAttemptFailed?.({ attempt, stage: result.stage, error: result.error, nextDelayMs });
    if (final) {
      const error = new DataChannelError(
        'ERR_RESUME_FAILED',
        `ResumeSession failed and cannot be retried: ${describe(result.error)}`,
        { cause: result.error },
      );
      return { kind: 'ended', end: { by: 'error', reason: error.message, error } };
    }
  }
}
