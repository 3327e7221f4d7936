// Replacement sessions of `bastionless connect`: after the service has lost the session (for
// example when the endpoint restarted), StartSession runs again for the same target and
// document, retried with backoff until it succeeds or fails for a lasting reason.

import { setTimeout as sleep } from 'node:timers/promises';
import { DATA_CHANNEL_DEFAULTS } from '../datachannel/options.js';
import { backoffDelayMs, type BackoffPolicy } from '../datachannel/reconnect.js';
import { classifyError, type BastionlessError, type ClassifyContext } from '../errors.js';
import type { PortForwardSession } from '../portforward/types.js';
import { isLastingStartFailure } from '../tunnel/start-failure.js';
import { withoutFinalPeriod } from './connect-reconnect.js';

/** Backoff between replacement starts, the same as between resume attempts by default. */
const RESTART_BACKOFF: BackoffPolicy = {
  initialDelayMs: DATA_CHANNEL_DEFAULTS.reconnectInitialDelayMs,
  maxDelayMs: DATA_CHANNEL_DEFAULTS.reconnectMaxDelayMs,
};

export interface RestartPlan {
  /** Calls StartSession and opens the data channel, as the first start did. */
  start: () => Promise<PortForwardSession>;
  signal: AbortSignal;
  context: ClassifyContext;
  print: (line: string) => void;
  /**
   * Called after every failed start with the daemon's fast-close verdict: true when new
   * connections should be closed at once until a session opens.
   */
  onVerdict: (closeNewConnections: boolean) => void;
  /** Total time for transient failures, in milliseconds. Default: the resume period. */
  restartForMs?: number;
  backoff?: BackoffPolicy;
}

export type RestartOutcome =
  | { kind: 'started'; session: PortForwardSession }
  | { kind: 'failed'; error: BastionlessError }
  | { kind: 'aborted' };

/**
 * Starts a replacement session. A lasting error (access denied, target offline, …) ends the
 * attempts at once, and transient ones are retried until `restartForMs` has passed.
 */
export async function startReplacementSession(plan: RestartPlan): Promise<RestartOutcome> {
  const deadline = Date.now() + (plan.restartForMs ?? DATA_CHANNEL_DEFAULTS.reconnectForMs);
  const policy = plan.backoff ?? RESTART_BACKOFF;
  let endpointFailuresBefore = 0;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return { kind: 'started', session: await plan.start() };
    } catch (error) {
      if (plan.signal.aborted) {
        return { kind: 'aborted' };
      }
      const classified = classifyError(error, plan.context);
      const delay = backoffDelayMs(attempt - 1, policy);
      if (isLastingStartFailure(classified) || Date.now() + delay > deadline) {
        return { kind: 'failed', error: classified };
      }
      // A session of this run has opened, so an unreachable endpoint closes connections
      // from its second failure in a row, as in the daemon.
      plan.onVerdict(
        isLastingStartFailure(classified, { sessionOpened: true, endpointFailuresBefore }),
      );
      endpointFailuresBefore =
        classified.code === 'ERR_ENDPOINT_UNREACHABLE' ? endpointFailuresBefore + 1 : 0;
      plan.print(
        `new session start ${attempt} failed: ${classified.code}: ` +
          `${withoutFinalPeriod(classified.message)}; next attempt in ${(delay / 1000).toFixed(1)} s`,
      );
      try {
        await sleep(delay, undefined, { signal: plan.signal });
      } catch {
        return { kind: 'aborted' };
      }
    }
  }
}
