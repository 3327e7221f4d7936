// Progress lines of `bastionless connect` while a session reconnects, driven by the session's
// `reconnecting`, `reconnect-failed` and `reconnected` events.

import type { EventEmitter } from 'node:events';
import { DATA_CHANNEL_DEFAULTS } from '../datachannel/options.js';
import type { ReconnectAttemptFailure } from '../datachannel/reconnect.js';
import type { ClassifyContext } from '../errors.js';
import {
  classifyReconnectFailure,
  reconnectStageLabel,
  resetsOpenConnections,
  RESUME_FAST_CLOSE_NOTICE,
  type ReconnectFailure,
} from '../tunnel/reconnect-failure.js';

/** Minimum time between two progress lines while reconnecting, in milliseconds. */
export const RECONNECT_REPORT_INTERVAL_MS = 30_000;

export interface ReconnectReporterOptions {
  print: (line: string) => void;
  now?: () => number;
  /** Total retry time of the data channel, in milliseconds. */
  reconnectForMs?: number;
  reportIntervalMs?: number;
}

/** Formats an error as its code and message, e.g. `ECONNREFUSED: connect ECONNREFUSED …`. */
export function describeAttemptError(error: unknown): string {
  if (!(error instanceof Error)) {
    return String(error);
  }
  // Node 20's connect with several addresses fails with an AggregateError without a message.
  const inner = (error as { errors?: unknown[] }).errors;
  if (!error.message && Array.isArray(inner) && inner[0] instanceof Error) {
    return describeAttemptError(inner[0]);
  }
  const code = (error as NodeJS.ErrnoException).code;
  const label = typeof code === 'string' ? code : error.name;
  return error.message.includes(label) ? error.message : `${label}: ${error.message}`;
}

/** Removes the closing period of an error message, so a `;` or `.` can follow it. */
export function withoutFinalPeriod(text: string): string {
  return text.replace(/\.+$/, '');
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}

/** Describes when the next attempt runs, from the delay the data channel reported. */
function describeNextAttempt(nextDelayMs: number | null): string {
  if (nextDelayMs === null) {
    return 'no further attempt';
  }
  return `next attempt in ${(nextDelayMs / 1000).toFixed(1)} s`;
}

/**
 * Prints one line when the websocket is lost, one per failed attempt but at most one per
 * `reportIntervalMs` (with the count of failures in between), a line every `reportIntervalMs`
 * when no attempt finishes, and one line on recovery.
 */
export class ReconnectReporter {
  readonly #print: (line: string) => void;
  readonly #now: () => number;
  readonly #reconnectForMs: number;
  readonly #intervalMs: number;
  #since: number | null = null;
  #failures = 0;
  #unreported = 0;
  #lastError: string | null = null;
  #lastPrintAt = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: ReconnectReporterOptions) {
    this.#print = options.print;
    this.#now = options.now ?? Date.now;
    this.#reconnectForMs = options.reconnectForMs ?? DATA_CHANNEL_DEFAULTS.reconnectForMs;
    this.#intervalMs = options.reportIntervalMs ?? RECONNECT_REPORT_INTERVAL_MS;
  }

  get reconnecting(): boolean {
    return this.#since !== null;
  }

  /** Handles the session's `reconnecting` event. */
  lost(cause: Error): void {
    this.#since = this.#now();
    this.#failures = 0;
    this.#unreported = 0;
    this.#lastError = null;
    const giveUpAt = new Date(this.#since + this.#reconnectForMs).toISOString();
    this.#emit(
      `websocket lost (${cause.message}); reconnecting, giving up at ${giveUpAt} ` +
        `(after ${Math.round(this.#reconnectForMs / 60_000)} min)`,
    );
    clearInterval(this.#timer);
    this.#timer = setInterval(() => this.#heartbeat(), this.#intervalMs);
    this.#timer.unref();
  }

  /**
   * Records one failed attempt and prints it, unless a line went out less than the interval
   * ago. `details` names the failed step and the delay the data channel waits before the next
   * attempt. The last attempt (no next delay) is always printed, because its error ends the
   * session.
   */
  attemptFailed(
    error: unknown,
    details: Pick<ReconnectAttemptFailure, 'stage' | 'nextDelayMs'>,
  ): void {
    if (this.#since === null) {
      return;
    }
    this.#failures += 1;
    this.#lastError = withoutFinalPeriod(describeAttemptError(error));
    const last = details.nextDelayMs === null;
    if (!last && this.#now() - this.#lastPrintAt < this.#intervalMs && this.#failures > 1) {
      this.#unreported += 1;
      return;
    }
    const hidden = this.#unreported > 0 ? ` (${this.#unreported} earlier failures not shown)` : '';
    this.#unreported = 0;
    this.#emit(
      `reconnect attempt ${this.#failures} failed (${reconnectStageLabel(details.stage)}): ` +
        `${this.#lastError}; ${describeNextAttempt(details.nextDelayMs)}${hidden}`,
    );
  }

  /** Handles the session's `reconnected` event. */
  recovered(): void {
    if (this.#since === null) {
      return;
    }
    const failures =
      this.#failures === 1 ? '1 failed attempt' : `${this.#failures} failed attempts`;
    this.#emit(`reconnected after ${seconds(this.#now() - this.#since)} and ${failures}`);
    this.stop();
  }

  /** Stops the progress timer, e.g. when the session ends. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#since = null;
  }

  #heartbeat(): void {
    if (this.#since === null || this.#now() - this.#lastPrintAt < this.#intervalMs) {
      return;
    }
    const last = this.#lastError ?? 'no attempt has finished yet';
    this.#emit(
      `still reconnecting after ${seconds(this.#now() - this.#since)}, ${this.#failures} ` +
        `failed attempts; last error: ${last}`,
    );
  }

  #emit(line: string): void {
    this.#lastPrintAt = this.#now();
    this.#print(line);
  }
}

/**
 * Passes the reconnect events of `session` to `reporter` and returns a function that removes
 * the listeners. Each failed attempt arrives with its step and its real next delay, whether
 * ResumeSession or the websocket open failed.
 */
export function followReconnects(session: EventEmitter, reporter: ReconnectReporter): () => void {
  const onReconnecting = (error: Error): void => reporter.lost(error);
  const onReconnectFailed = (failure: ReconnectAttemptFailure): void =>
    reporter.attemptFailed(failure.error, failure);
  const onReconnected = (): void => reporter.recovered();
  session.on('reconnecting', onReconnecting);
  session.on('reconnect-failed', onReconnectFailed);
  session.on('reconnected', onReconnected);
  return () => {
    session.off('reconnecting', onReconnecting);
    session.off('reconnect-failed', onReconnectFailed);
    session.off('reconnected', onReconnected);
  };
}

export interface ResumeFailureTrackerOptions {
  /** Settings named in the hints of classified errors. */
  context: ClassifyContext;
  print: (line: string) => void;
  now?: () => number;
}

/**
 * The latest failed resume attempt of connect's session, classified by the daemon's rule
 * (`classifyReconnectFailure`). While it is lasting, connect closes new connections at once
 * instead of holding them for a resume that will not come soon. Prints one line each time
 * that verdict changes.
 */
export class ResumeFailureTracker {
  readonly #context: ClassifyContext;
  readonly #print: (line: string) => void;
  readonly #now: () => number;
  #latest: ReconnectFailure | null = null;

  constructor(options: ResumeFailureTrackerOptions) {
    this.#context = options.context;
    this.#print = options.print;
    this.#now = options.now ?? Date.now;
  }

  /** True while the latest attempt of the current websocket loss failed with a lasting error. */
  get closesNewConnections(): boolean {
    return this.#latest?.lasting === true;
  }

  /**
   * True while the latest attempt failed with a lasting error that is not about the network,
   * such as denied access, after which open connections are reset as the daemon does.
   */
  get resetsOpenConnections(): boolean {
    return this.#latest !== null && resetsOpenConnections(this.#latest);
  }

  /** Prints how many open connections a lasting resume error reset, when there were any. */
  reportReset(count: number): void {
    if (count > 0) {
      const connections = count === 1 ? '1 open connection' : `${count} open connections`;
      this.#print(
        `reset ${connections}, because the resume failed with an error that is not about the network`,
      );
    }
  }

  /** Forgets the attempts of the previous websocket loss, on `reconnecting` and `reconnected`. */
  reset(): void {
    this.#latest = null;
  }

  /** Classifies one failed attempt and returns true when it starts the fast-close verdict. */
  record(report: ReconnectAttemptFailure): boolean {
    const before = this.closesNewConnections;
    this.#latest = classifyReconnectFailure(report, this.#latest, this.#context, this.#now());
    const after = this.closesNewConnections;
    if (after && !before) {
      const { code, message } = this.#latest.error;
      this.#print(`${code}: ${withoutFinalPeriod(message)}; ${RESUME_FAST_CLOSE_NOTICE}`);
    } else if (before && !after && report.nextDelayMs !== null) {
      // Without a next attempt the session ends and connect prints what follows instead.
      this.#print(
        'the last resume attempt failed with a transient error; new connections wait again',
      );
    }
    return after && !before;
  }
}
