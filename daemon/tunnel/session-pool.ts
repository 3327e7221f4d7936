// Sessions of one tunnel: starts them as the profile's mode requires, restarts them after
// they end, and closes them. session-pool-retry.ts decides what follows a failed start.

import type pino from 'pino';
import type { Profile } from '../config/types.js';
import { BastionlessError, classifyError, mayNeedFreshCredentials } from '../errors.js';
import { auditEntryFor } from '../audit/log.js';
import type { ReconnectAttemptFailure } from '../datachannel/reconnect.js';
import type { SessionEnd } from '../portforward/types.js';
import type { TunnelDeps, TunnelTimings } from './options.js';
import {
  classifyReconnectFailure,
  type ReconnectFailure,
  nextResumeAttemptAtMs,
  ReconnectFailureLog,
  resetsOpenConnections,
} from './reconnect-failure.js';
import { withTimeout, type LaunchedSession, type SessionLauncher } from './session-launcher.js';
import { SessionPoolRetry } from './session-pool-retry.js';
import { SessionSlot } from './session-slot.js';
import type { RetiredTotals } from './status.js';

/** The parts of its tunnel a session pool reads and drives. */
export interface SessionPoolHost {
  isRunning(): boolean;
  /** Returns the tunnel's run counter, so late results of an older run are discarded. */
  generation(): number;
  /** Returns the bound local port, which StartSession receives as localPortNumber. */
  localPort(): number;
  waitingCount(): number;
  flushWaiting(): void;
  /** Closes waiting and new connections at once, after a start failed with a lasting error. */
  beginFailure(error: BastionlessError): void;
  /** Lets connections wait for sessions again. `reason` is the cause, for the log. */
  endFailure(reason: string): void;
  /** Closes waiting connections at once if every session's resume failed with a lasting error. */
  closeWaitingIfResumesStalled(error: BastionlessError): void;
  /** Returns true while the credential provider waits for the user, e.g. for an MFA code. */
  isLoginWaiting(): boolean;
  setLastError(error: BastionlessError): void;
  /** Clears the tunnel's last error if `error` is still the one it shows. */
  clearLastError(error: BastionlessError): void;
  setReason(reason: string): void;
  refreshState(): void;
  /** Stops the tunnel and marks it failed, after an error that retrying cannot fix. */
  failFatal(error: BastionlessError): void;
  onDialFailed(slot: SessionSlot): void;
}

export interface SessionPoolDependencies {
  profile: Profile;
  deps: TunnelDeps;
  timings: TunnelTimings;
  log: pino.Logger;
  now: () => number;
  launcher: SessionLauncher;
  host: SessionPoolHost;
}

/** Returns the number of sessions a profile may open: its sessionPool, from 1 to 8. */
export function poolSizeOf(profile: Profile): number {
  return Math.max(1, Math.min(8, Math.floor(profile.sessionPool || 1)));
}

export class SessionPool {
  private readonly profile: Profile;
  private readonly deps: TunnelDeps;
  private readonly timings: TunnelTimings;
  private readonly log: pino.Logger;
  private readonly now: () => number;
  private readonly launcher: SessionLauncher;
  private readonly host: SessionPoolHost;
  private readonly retry: SessionPoolRetry;
  private slotList: SessionSlot[] = [];
  private starting = new Set<AbortController>();
  private reconnectCount = 0;
  private retiredTotals: RetiredTotals = { bytesIn: 0, bytesOut: 0 };
  private readonly reconnectLog: ReconnectFailureLog;

  constructor(options: SessionPoolDependencies) {
    this.profile = options.profile;
    this.deps = options.deps;
    this.timings = options.timings;
    this.log = options.log;
    this.now = options.now;
    this.launcher = options.launcher;
    this.host = options.host;
    this.retry = new SessionPoolRetry({
      profile: this.profile,
      deps: this.deps,
      timings: this.timings,
      log: this.log,
      host: this.host,
      starts: this,
    });
    this.reconnectLog = new ReconnectFailureLog(this.log, this.now);
  }

  get slots(): readonly SessionSlot[] {
    return this.slotList;
  }

  get startingCount(): number {
    return this.starting.size;
  }

  /** True while a session start waits for its backoff delay. */
  get retryPending(): boolean {
    return this.retry.pending;
  }

  get loginNeeded(): string | null {
    return this.retry.loginNeeded;
  }

  /** Epoch milliseconds at which the pending retry fires, or null without one. */
  get nextAttemptAtMs(): number | null {
    return this.retry.nextAttemptAtMs;
  }

  /** The lasting error of the last session start, or null once a start succeeded. */
  get lastingFailure(): BastionlessError | null {
    return this.retry.lastingFailure;
  }

  /** Epoch milliseconds of the earliest next resume attempt of a session, or null. */
  get nextResumeAttemptAtMs(): number | null {
    return nextResumeAttemptAtMs(this.slotList);
  }

  /** Websocket losses of the sessions, each counted when resuming began. */
  get reconnects(): number {
    return this.reconnectCount;
  }

  /** Byte counts of ended sessions, so totals survive session restarts. */
  get retired(): RetiredTotals {
    return this.retiredTotals;
  }

  /** Forgets the login and backoff state of an earlier run. */
  reset(): void {
    this.retry.reset();
  }

  /** Starts sessions until the pool is full (always-on). */
  fillPool(): void {
    while (
      this.host.isRunning() &&
      this.slotList.length + this.starting.size < poolSizeOf(this.profile)
    ) {
      void this.startOneSession();
    }
  }

  /** Starts as many sessions as waiting connections need, up to the pool size (on-demand). */
  fillForWaiting(): void {
    if (this.retry.pending) {
      return;
    }
    const waiting = this.host.waitingCount();
    const busy = this.slotList.every((slot) => slot.load > 0);
    const wanted = Math.min(poolSizeOf(this.profile), this.slotList.length + (busy ? waiting : 0));
    while (
      this.host.isRunning() &&
      this.slotList.length + this.starting.size <
        Math.max(wanted, this.slotList.length === 0 ? 1 : 0)
    ) {
      void this.startOneSession();
    }
  }

  clearTimers(): void {
    this.retry.clearTimers();
  }

  /**
   * Schedules another start after the backoff delay for a connection that was closed at once,
   * unless a start is already pending or running. Without this, an on-demand tunnel would not
   * retry after a lasting failure, because no connection stays waiting to ask for a session.
   */
  onFastClose(): void {
    if (this.starting.size === 0) {
      this.retry.schedule();
    }
  }

  /** Ends a failure streak of an unreachable SSM endpoint once the endpoint responded. */
  onEndpointResponded(): void {
    this.retry.onEndpointResponded();
  }

  /** Cancels every session start in progress. */
  abortStarting(): void {
    for (const controller of this.starting) {
      controller.abort(
        new BastionlessError('ERR_SESSION_FAILED', 'Tunnel stopped during session start'),
      );
    }
    this.starting.clear();
  }

  /** Closes every session (TerminateSession) and records each in the audit log. */
  async closeAll(reason: string): Promise<void> {
    const slots = this.slotList;
    this.slotList = [];
    await Promise.all(
      slots.map(async (slot) => {
        slot.detach();
        this.retire(slot);
        try {
          await withTimeout(
            slot.session.close(reason),
            this.timings.closeTimeoutMs,
            () => new Error(`session close timed out after ${this.timings.closeTimeoutMs} ms`),
          );
        } catch (error) {
          this.log.warn({ sessionId: slot.session.sessionId, err: error }, 'session close failed');
        }
        this.recordAudit(slot, { by: 'client', reason });
      }),
    );
  }

  private async startOneSession(): Promise<void> {
    const generation = this.host.generation();
    const controller = new AbortController();
    this.starting.add(controller);
    this.host.refreshState();
    let launched: LaunchedSession;
    try {
      launched = await this.launcher.start(controller, this.host.localPort());
    } catch (error) {
      this.starting.delete(controller);
      if (generation === this.host.generation()) {
        this.retry.onStartFailed(
          classifyError(error, {
            awsProfile: this.profile.awsProfile,
            endpoint: this.profile.endpoints.ssm,
          }),
        );
      }
      return;
    } finally {
      this.starting.delete(controller);
    }
    if (generation !== this.host.generation() || !this.host.isRunning()) {
      void launched.session.close('tunnel stopped').catch(() => {});
      return;
    }
    this.attach(launched);
  }

  private attach({ session, route }: LaunchedSession): void {
    this.retry.onSessionStarted();
    const slot = new SessionSlot(session, route, this.now(), {
      reconnecting: (lost, error) => {
        this.reconnectCount += 1;
        this.log.warn(
          { sessionId: session.sessionId, err: error },
          'websocket lost, resuming session',
        );
        // The loss is the cause of the new state, so an error of an earlier session or
        // resume must not stay in the status as if it were.
        this.setResumeError(lost, classifyError(error, { awsProfile: this.profile.awsProfile }));
        this.host.refreshState();
      },
      // The scheduled time of a running attempt has passed, so the status shows none.
      reconnectAttempt: () => this.host.refreshState(),
      reconnectFailed: (failed, report) => this.onReconnectFailed(failed, report),
      reconnected: (resumed) => {
        this.reconnectLog.finish(session.sessionId, 'resumed');
        this.log.info(
          { sessionId: session.sessionId, failedAttempts: resumed.reconnectFailure?.attempt ?? 0 },
          'session resumed',
        );
        // Connections that arrived during the resume waited for it, not for a new session.
        this.host.flushWaiting();
        this.host.refreshState();
      },
      dialFailed: (failed) => this.host.onDialFailed(failed),
      ended: (ended, end) => this.onSessionEnded(ended, end),
    });
    this.slotList.push(slot);
    this.log.info(
      {
        sessionId: session.sessionId,
        agentVersion: session.agentVersion,
        forwarding: session.mode,
        target: route.target,
        remoteHost: route.remoteHost,
        remotePort: route.remotePort,
      },
      'session open',
    );
    this.host.flushWaiting();
    this.host.refreshState();
  }

  /**
   * Stores the classified failed attempt on the slot, where a lasting error makes the
   * connection queue close new and waiting connections at once. A lasting error that is not
   * about the network also resets the session's open connections. The error becomes the
   * tunnel's last error and is logged with a rate limit.
   */
  private onReconnectFailed(slot: SessionSlot, report: ReconnectAttemptFailure): void {
    const context = {
      awsProfile: this.profile.awsProfile,
      endpoint:
        report.stage === 'resume'
          ? this.profile.endpoints.ssm
          : 'the Session Manager websocket endpoint',
    };
    const failure = classifyReconnectFailure(report, slot.reconnectFailure, context, this.now());
    slot.reconnectFailure = failure;
    if (resetsOpenConnections(failure)) {
      this.resetOpenConnections(slot, failure);
    }
    this.setResumeError(slot, failure.error);
    this.reconnectLog.record(slot.sessionId, failure);
    this.host.refreshState();
    if (failure.lasting) {
      this.host.closeWaitingIfResumesStalled(failure.error);
    }
  }

  /**
   * Resets the open connections of a resuming session whose resume failed with a lasting error
   * that is not about the network, and logs how many. Without the reset, their clients would
   * wait until the resume gives up, which takes the whole reconnect period.
   */
  private resetOpenConnections(slot: SessionSlot, failure: ReconnectFailure): void {
    const reset = slot.resetConnections();
    if (reset === 0) {
      return;
    }
    failure.resetConnections += reset;
    this.log.warn(
      {
        sessionId: slot.sessionId,
        code: failure.error.code,
        err: failure.error.message,
        attempt: failure.attempt,
        resetConnections: reset,
      },
      'resume failed with a lasting error that is not about the network, reset the open connections',
    );
  }

  /**
   * Sets the tunnel's last error to a resume error, unless the credential provider waits for
   * the user: that request stays the error to show, as it does for failed starts.
   */
  private setResumeError(slot: SessionSlot, error: BastionlessError): void {
    slot.resumeError = error;
    if (!this.host.isLoginWaiting()) {
      this.host.setLastError(error);
    }
  }

  /** Appends the audit entry of an ended session; a failed write is logged, not raised. */
  private recordAudit(slot: SessionSlot, end: SessionEnd): void {
    if (!this.deps.recordAudit) {
      return;
    }
    const entry = auditEntryFor({
      profile: { ...this.profile, remotePort: slot.route.remotePort },
      target: slot.route.target,
      remoteHost: slot.route.remoteHost,
      sessionId: slot.session.sessionId,
      startedAt: new Date(slot.startedAt),
      endedAt: new Date(this.now()),
      end,
      stats: slot.session.stats,
    });
    this.deps.recordAudit(entry).catch((error: unknown) => {
      this.log.warn({ err: error, sessionId: entry.sessionId }, 'writing the audit entry failed');
    });
  }

  private retire(slot: SessionSlot): void {
    this.retiredTotals.bytesIn += slot.session.stats.bytesIn;
    this.retiredTotals.bytesOut += slot.session.stats.bytesOut;
  }

  private onSessionEnded(slot: SessionSlot, end: SessionEnd): void {
    this.reconnectLog.finish(slot.sessionId, 'session ended');
    this.retire(slot);
    this.recordAudit(slot, end);
    this.slotList = this.slotList.filter((other) => other !== slot);
    const sessionId = slot.session.sessionId;
    const lived = this.now() - slot.startedAt;
    if (end.by === 'error') {
      const error = classifyError(end.error ?? new Error(end.reason), {
        awsProfile: this.profile.awsProfile,
      });
      if (error.code === 'ERR_SESSION_NOT_FOUND') {
        this.onSessionForgotten(slot, end, lived);
        return;
      }
      this.log.warn(
        { sessionId, err: end.error, code: error.code, livedMs: lived },
        'session ended by an error',
      );
      this.onSessionError(error);
      return;
    }
    const reason =
      end.by === 'service'
        ? `session ended by the service: ${end.reason}`
        : `session closed: ${end.reason}`;
    this.log.info({ sessionId, by: end.by, reason: end.reason, livedMs: lived }, 'session ended');
    this.host.setReason(reason);
    if (lived >= this.timings.stableSessionMs) {
      this.retry.resetBackoff();
    }
    this.restartAfterEnd(lived);
  }

  /**
   * Ends a session that the service reports as not found (DoesNotExistException), which a
   * resume meets after a long outage. The service replied, so the errors of this session's
   * resume no longer apply, and the end becomes the reason of the next state, not an error.
   */
  private onSessionForgotten(slot: SessionSlot, end: SessionEnd, livedMs: number): void {
    this.log.info(
      { sessionId: slot.sessionId, code: 'ERR_SESSION_NOT_FOUND', reason: end.reason, livedMs },
      'session ended, not found by the service',
    );
    if (slot.resumeError !== null) {
      this.host.clearLastError(slot.resumeError);
    }
    this.host.setReason(`session ended by the service: ${end.reason}`);
    this.restartAfterEnd(0);
  }

  private onSessionError(error: BastionlessError): void {
    if (mayNeedFreshCredentials(error) && this.deps.refreshCredentials) {
      // A resume rejected with 403 or ExpiredToken usually means the credentials rotated,
      // and fresh ones let the next start succeed.
      this.launcher.refreshCredentials().then(
        () => this.restartAfterEnd(0),
        (refreshError: unknown) =>
          this.retry.onStartFailed(
            classifyError(refreshError, { awsProfile: this.profile.awsProfile }),
          ),
      );
      return;
    }
    if (!error.retryable) {
      this.retry.onStartFailed(error);
      return;
    }
    this.host.setLastError(error);
    // Replaces a resume failure's reason, which no longer applies once the session is over.
    this.host.setReason(`session ended by an error: ${error.message}`);
    this.restartAfterEnd(0);
  }

  /** Applies the mode's rule after a session ended: always-on restarts, on-demand waits. */
  private restartAfterEnd(livedMs: number): void {
    if (!this.host.isRunning()) {
      return;
    }
    if (this.profile.mode === 'always-on') {
      if (livedMs >= this.timings.stableSessionMs) {
        this.fillPool();
      } else {
        this.retry.schedule();
      }
    } else if (this.host.waitingCount() > 0) {
      this.fillForWaiting();
    }
    this.host.refreshState();
  }
}
