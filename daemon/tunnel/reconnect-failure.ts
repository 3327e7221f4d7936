// Failed reconnect attempts of a session, turned into what the tunnel shows and does: the
// classified error, whether it lasts, the status reason, and the rate-limited log line.

import type pino from 'pino';
import type { ReconnectAttemptFailure } from '../datachannel/reconnect.js';
import { classifyError, type BastionlessError, type ClassifyContext } from '../errors.js';
import { isLastingStartFailure } from './start-failure.js';

/** Minimum time between two log lines about failed reconnect attempts of one tunnel, in ms. */
export const RECONNECT_LOG_INTERVAL_MS = 30_000;

/** Status reason of a reconnecting tunnel before its first attempt has failed. */
export const RECONNECTING_REASON = 'websocket lost, resuming';

/** Closing words of the reason while a resume fails with a lasting error. */
export const RESUME_FAST_CLOSE_NOTICE =
  'new connections are closed at once until the session resumes';

/** The latest failed reconnect attempt of one session, classified for the tunnel. */
export interface ReconnectFailure {
  error: BastionlessError;
  attempt: number;
  stage: ReconnectAttemptFailure['stage'];
  /** Epoch milliseconds of the failure. */
  failedAtMs: number;
  /** Epoch milliseconds of the next attempt, or null when the session ends instead. */
  nextAttemptAtMs: number | null;
  /** Attempts in a row, this one included, that failed with ERR_ENDPOINT_UNREACHABLE. */
  endpointFailures: number;
  /** True when the error will not clear within a connection's wait, see isLastingStartFailure. */
  lasting: boolean;
  /** Open connections of the session reset during this resume, up to and including this failure. */
  resetConnections: number;
}

/**
 * Codes of lasting resume errors that a network outage causes: the SSM endpoint is
 * unreachable from here (a laptop asleep, a wifi switch) or the target's agent lost its
 * connection. Open connections keep waiting through them, because a resume that succeeds
 * later carries their bytes on.
 */
const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ERR_ENDPOINT_UNREACHABLE',
  'ERR_TARGET_NOT_CONNECTED',
]);

/**
 * Returns true when the session's open connections should be reset after `failure`: its error
 * is lasting and not about the network, for example denied access or expired credentials.
 */
export function resetsOpenConnections(failure: ReconnectFailure): boolean {
  return failure.lasting && !NETWORK_CODES.has(failure.error.code);
}

/**
 * Classifies a failed attempt as a failed session start would be. A session of this run has
 * opened, so an unreachable endpoint counts as lasting from its second failure in a row, or
 * at once when its host name does not resolve. `previous` is the session's earlier failure
 * of the same websocket loss, or null for the first one.
 */
export function classifyReconnectFailure(
  report: ReconnectAttemptFailure,
  previous: ReconnectFailure | null,
  context: ClassifyContext,
  nowMs: number,
): ReconnectFailure {
  const error = classifyError(report.error, context);
  const endpointFailuresBefore = previous?.endpointFailures ?? 0;
  const unreachable = error.code === 'ERR_ENDPOINT_UNREACHABLE';
  return {
    error,
    attempt: report.attempt,
    stage: report.stage,
    failedAtMs: nowMs,
    nextAttemptAtMs: report.nextDelayMs === null ? null : nowMs + report.nextDelayMs,
    endpointFailures: unreachable ? endpointFailuresBefore + 1 : 0,
    lasting: isLastingStartFailure(error, { sessionOpened: true, endpointFailuresBefore }),
    resetConnections: previous?.resetConnections ?? 0,
  };
}

/** Returns the name of the step a reconnect attempt failed at, as status and CLI lines show it. */
export function reconnectStageLabel(stage: ReconnectAttemptFailure['stage']): string {
  return stage === 'resume' ? 'ResumeSession' : 'websocket open';
}

/**
 * Builds the status reason of a reconnecting tunnel: why the latest resume attempt failed, when
 * the next one runs, and what happens to new connections meanwhile. The `reconnecting` state
 * already names what the tunnel does, so the reason leaves that word out. `retrying` is true while the next
 * attempt of the same session runs.
 */
export function describeReconnectFailure(
  failure: ReconnectFailure | null,
  retrying = false,
): string {
  if (failure === null) {
    return RECONNECTING_REASON;
  }
  const message = failure.error.message.replace(/\.$/, '');
  let next = 'No further attempt';
  if (retrying) {
    next = 'Retrying now';
  } else if (failure.nextAttemptAtMs !== null) {
    next = `Next attempt at ${new Date(failure.nextAttemptAtMs).toISOString()}`;
  }
  const connections = failure.lasting
    ? RESUME_FAST_CLOSE_NOTICE
    : 'new connections wait for the resume';
  let reset = '';
  if (failure.resetConnections > 0) {
    const count = failure.resetConnections;
    const connectionsWere = count === 1 ? 'connection was' : 'connections were';
    reset = ` ${count} open ${connectionsWere} reset, because the error is not about the network.`;
  }
  return (
    `Resume attempt ${failure.attempt} failed at ${reconnectStageLabel(failure.stage)}: ` +
    `${message}. ${next}; ${connections}.${reset}`
  );
}

/** Outcome of a session's reconnect, as ReconnectFailureLog.finish logs it. */
export type ReconnectOutcome = 'resumed' | 'session ended';

/**
 * Logs failed reconnect attempts of one tunnel as warnings, at most one line per
 * `intervalMs`. Each line counts the failed attempts of its session since that session's
 * previous line, and `finish` logs the attempts still uncounted when the reconnect ends.
 */
export class ReconnectFailureLog {
  private lastLineAtMs: number | null = null;
  /** Failed attempts not logged yet, and the latest of them, by session id. */
  private readonly unlogged = new Map<string, { count: number; latest: ReconnectFailure }>();

  constructor(
    private readonly log: pino.Logger,
    private readonly now: () => number,
    private readonly intervalMs = RECONNECT_LOG_INTERVAL_MS,
  ) {}

  record(sessionId: string, failure: ReconnectFailure): void {
    const count = (this.unlogged.get(sessionId)?.count ?? 0) + 1;
    this.unlogged.set(sessionId, { count, latest: failure });
    const nowMs = this.now();
    if (this.lastLineAtMs !== null && nowMs - this.lastLineAtMs < this.intervalMs) {
      return;
    }
    this.log.warn(
      {
        sessionId,
        ...failureFields(failure),
        lasting: failure.lasting,
        nextAttemptAt:
          failure.nextAttemptAtMs === null ? null : new Date(failure.nextAttemptAtMs).toISOString(),
        failedAttemptsSinceLastLine: count,
      },
      'reconnect attempt failed',
    );
    this.lastLineAtMs = nowMs;
    this.unlogged.delete(sessionId);
  }

  /**
   * Logs the session's failed attempts that the rate limit left out, once its reconnect has
   * ended, so every failed attempt is counted in some line. Logs nothing when none are left.
   */
  finish(sessionId: string, outcome: ReconnectOutcome): void {
    const pending = this.unlogged.get(sessionId);
    if (pending === undefined) {
      return;
    }
    this.unlogged.delete(sessionId);
    this.log.warn(
      {
        sessionId,
        outcome,
        ...failureFields(pending.latest),
        failedAttemptsSinceLastLine: pending.count,
      },
      'reconnect ended after failed attempts not logged yet',
    );
  }
}

/**
 * Returns the log fields of a failed attempt. Only the classified code and message are
 * logged, never the raw error object with the request and response fields an SDK error may
 * carry. The message goes in `err`, the field every other error line uses.
 */
function failureFields(failure: ReconnectFailure) {
  return {
    attempt: failure.attempt,
    stage: failure.stage,
    code: failure.error.code,
    err: failure.error.message,
  };
}

/** The resume state of a session that the status reads. */
export interface ResumingSession {
  readonly reconnecting: boolean;
  readonly reconnectFailure: ReconnectFailure | null;
  readonly resumeAttemptRunning: boolean;
}

/** Returns the resuming session whose latest attempt failed most recently, or null. */
export function latestFailedResume<T extends ResumingSession>(sessions: readonly T[]): T | null {
  let latest: T | null = null;
  for (const session of sessions) {
    const failure = session.reconnecting ? session.reconnectFailure : null;
    if (
      failure !== null &&
      (latest === null || failure.failedAtMs >= latest.reconnectFailure!.failedAtMs)
    ) {
      latest = session;
    }
  }
  return latest;
}

/** Returns the most recent failed attempt among the sessions that resume, or null. */
export function latestReconnectFailure(
  sessions: readonly ResumingSession[],
): ReconnectFailure | null {
  return latestFailedResume(sessions)?.reconnectFailure ?? null;
}

/**
 * Returns the status reason of a reconnecting tunnel, built from the session whose latest
 * attempt failed most recently.
 */
export function describeResume(sessions: readonly ResumingSession[]): string {
  const latest = latestFailedResume(sessions);
  return describeReconnectFailure(
    latest?.reconnectFailure ?? null,
    latest?.resumeAttemptRunning ?? false,
  );
}

/**
 * Returns the epoch milliseconds of the earliest next resume attempt that waits for its delay,
 * or null without one. A session whose attempt runs has no such time until that attempt fails.
 */
export function nextResumeAttemptAtMs(sessions: readonly ResumingSession[]): number | null {
  let earliest: number | null = null;
  for (const session of sessions) {
    const waiting = session.reconnecting && !session.resumeAttemptRunning;
    const next = waiting ? (session.reconnectFailure?.nextAttemptAtMs ?? null) : null;
    if (next !== null && (earliest === null || next < earliest)) {
      earliest = next;
    }
  }
  return earliest;
}
