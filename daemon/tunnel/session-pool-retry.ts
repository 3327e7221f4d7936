// Recovery of a session pool after failed starts: the backoff timer before the next start,
// the fatal-or-retry decision, the failure streak that closes connections at once, and the
// credential poll that restarts sessions once a needed login happened.

import type pino from 'pino';
import type { Profile } from '../config/types.js';
import { nameProfileInHint, needsLogin, type BastionlessError } from '../errors.js';
import { Backoff } from './backoff.js';
import { IntervalCheck } from './interval-check.js';
import type { TunnelDeps, TunnelTimings } from './options.js';
import type { SessionPoolHost } from './session-pool.js';
import { isLastingStartFailure } from './start-failure.js';

/** The pool's ways to start sessions, which a retry calls once its delay has passed. */
export interface SessionStarts {
  /** Starts sessions until the pool is full (always-on). */
  fillPool(): void;
  /** Starts the sessions the waiting connections need (on-demand). */
  fillForWaiting(): void;
}

export interface SessionPoolRetryDependencies {
  profile: Profile;
  deps: TunnelDeps;
  timings: TunnelTimings;
  log: pino.Logger;
  host: SessionPoolHost;
  starts: SessionStarts;
}

export class SessionPoolRetry {
  private readonly profile: Profile;
  private readonly deps: TunnelDeps;
  private readonly log: pino.Logger;
  private readonly host: SessionPoolHost;
  private readonly starts: SessionStarts;
  private readonly backoff: Backoff;
  private readonly loginPoll: IntervalCheck;
  private readonly now: () => number;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Epoch milliseconds at which the pending retry fires, or null without one. */
  private retryAtMs: number | null = null;
  /** The lasting error of the last start, while it closes connections at once, or null. */
  private failure: BastionlessError | null = null;
  /** Reason shown while a start failed for want of a login; cleared once credentials work. */
  private loginNeededReason: string | null = null;
  /** True once a session of this run has opened, so an unreachable endpoint may be a blip. */
  private sessionOpened = false;
  /** Session starts in a row that failed with ERR_ENDPOINT_UNREACHABLE. */
  private endpointFailures = 0;

  constructor(options: SessionPoolRetryDependencies) {
    this.profile = options.profile;
    this.deps = options.deps;
    this.log = options.log;
    this.host = options.host;
    this.starts = options.starts;
    this.now = options.deps.now ?? Date.now;
    this.backoff = new Backoff({
      initialMs: options.timings.backoffInitialMs,
      maxMs: options.timings.backoffMaxMs,
    });
    this.loginPoll = new IntervalCheck(options.timings.loginPollIntervalMs, () =>
      this.checkLogin(),
    );
  }

  /** True while a session start waits for its backoff delay. */
  get pending(): boolean {
    return this.retryTimer !== undefined;
  }

  get loginNeeded(): string | null {
    return this.loginNeededReason;
  }

  /** Epoch milliseconds at which the pending retry fires, or null without one. */
  get nextAttemptAtMs(): number | null {
    return this.retryAtMs;
  }

  /** The lasting error of the last session start, or null once a start succeeded. */
  get lastingFailure(): BastionlessError | null {
    return this.failure;
  }

  /** Forgets the login, backoff and failure state of an earlier run. */
  reset(): void {
    this.loginNeededReason = null;
    this.failure = null;
    this.sessionOpened = false;
    this.endpointFailures = 0;
    this.backoff.reset();
  }

  /** Restarts the backoff from its first delay, after a session that lived long enough. */
  resetBackoff(): void {
    this.backoff.reset();
  }

  clearTimers(): void {
    this.cancelRetry();
    this.loginPoll.stop();
  }

  /** Ends a wait for a login and a failure streak, because a session start just succeeded. */
  onSessionStarted(): void {
    this.sessionOpened = true;
    this.endpointFailures = 0;
    if (this.loginNeededReason !== null) {
      this.log.info('credentials valid again, login no longer needed');
    }
    this.loginNeededReason = null;
    this.loginPoll.stop();
    this.endFailure('session open');
  }

  /**
   * Ends a failure streak of an unreachable SSM endpoint, because the endpoint responded to a
   * request. A later unreachable failure then counts from one again.
   */
  onEndpointResponded(): void {
    this.endpointFailures = 0;
    if (this.failure?.code === 'ERR_ENDPOINT_UNREACHABLE') {
      this.endFailure('SSM endpoint responded');
    }
  }

  /** Schedules a session start after the next backoff delay, unless one is already pending. */
  schedule(): void {
    if (this.retryTimer || !this.host.isRunning()) {
      return;
    }
    const delay = this.backoff.next();
    this.log.info({ delayMs: delay, attempt: this.backoff.attempts }, 'retrying session start');
    this.retryAtMs = this.now() + delay;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.retryAtMs = null;
      if (this.profile.mode === 'always-on') {
        this.starts.fillPool();
      } else if (this.host.waitingCount() > 0 || this.failure !== null) {
        // During a failure streak an on-demand retry is scheduled only by a connection that
        // was closed at once, and that connection is the demand this start serves.
        this.starts.fillForWaiting();
      }
      this.host.refreshState();
    }, delay);
    this.retryTimer.unref();
    this.host.refreshState();
  }

  /** Waits for a login, stops the tunnel or schedules a retry, as the error requires. */
  onStartFailed(error: BastionlessError): void {
    // While the user is asked for a code, that request stays the error to show: a start that
    // timed out meanwhile is retried anyway.
    if (!this.host.isLoginWaiting()) {
      this.host.setLastError(error);
    }
    const context = { code: error.code, err: error.cause ?? error };
    if (needsLogin(error)) {
      this.log.warn(context, 'session start needs a login by the user');
      // The port stays bound, so after the login the next connection (or retry) starts a session.
      this.beginFailure(error);
      const hint = error.hint ? nameProfileInHint(error.hint, this.profile.name) : '';
      this.loginNeededReason = `${error.message}. ${hint}`.trim();
      if (this.deps.checkCredentials) {
        this.loginPoll.start();
      }
      if (this.profile.mode === 'always-on') {
        this.schedule();
      }
      this.host.refreshState();
      return;
    }
    if (!error.retryable) {
      this.log.error(context, 'session start failed with a fatal error, not retrying');
      this.host.failFatal(error);
      return;
    }
    const history = {
      sessionOpened: this.sessionOpened,
      endpointFailuresBefore: this.endpointFailures,
    };
    this.endpointFailures =
      error.code === 'ERR_ENDPOINT_UNREACHABLE' ? this.endpointFailures + 1 : 0;
    this.log.warn(
      { ...context, endpointFailures: this.endpointFailures },
      'session start failed, retrying with backoff',
    );
    if (isLastingStartFailure(error, history)) {
      this.beginFailure(error);
    } else {
      this.endFailure('transient start error');
    }
    if (this.profile.mode === 'always-on' || this.host.waitingCount() > 0) {
      this.schedule();
    }
    this.host.setReason(error.message);
    this.host.refreshState();
  }

  /** Polled while a login is needed: once the credentials load again, sessions restart. */
  private async checkLogin(): Promise<void> {
    if (this.loginNeededReason === null || !this.host.isRunning() || !this.deps.checkCredentials) {
      this.loginPoll.stop();
      return;
    }
    const generation = this.host.generation();
    await this.deps.checkCredentials(this.profile);
    if (generation !== this.host.generation() || this.loginNeededReason === null) {
      return;
    }
    this.log.info('credentials valid again, restarting sessions');
    this.loginNeededReason = null;
    this.loginPoll.stop();
    this.endFailure('credentials valid again');
    this.backoff.reset();
    this.cancelRetry();
    if (this.profile.mode === 'always-on') {
      this.starts.fillPool();
    }
    this.host.refreshState();
  }

  private cancelRetry(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.retryAtMs = null;
  }

  private beginFailure(error: BastionlessError): void {
    this.failure = error;
    this.host.beginFailure(error);
  }

  private endFailure(reason: string): void {
    if (this.failure === null) {
      return;
    }
    this.failure = null;
    this.host.endFailure(reason);
  }
}
