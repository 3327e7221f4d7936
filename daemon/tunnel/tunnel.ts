// One tunnel: the local listeners of a profile and the port-forwarding sessions that carry
// their connections, with the start, restart and stop rules of the profile's mode.

import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type pino from 'pino';
import type { Profile, TunnelError, TunnelState, TunnelStatus } from '../config/types.js';
import {
  BastionlessError,
  classifyError,
  mayNeedFreshCredentials,
  needsLogin,
  toTunnelError,
} from '../errors.js';
import { auditEntryFor } from '../audit/log.js';
import type { SessionEnd } from '../portforward/types.js';
import { Backoff } from './backoff.js';
import { IntervalCheck } from './interval-check.js';
import { KeepAliveProber } from './keepalive.js';
import {
  bindListeners,
  formatHostPort,
  resolveBindAddresses,
  type BoundListeners,
} from './listeners.js';
import { DEFAULT_TIMINGS, type TunnelDeps, type TunnelTimings } from './options.js';
import {
  namesAwsResource,
  SessionLauncher,
  withTimeout,
  type LaunchedSession,
} from './session-launcher.js';
import { isPingable, leastLoaded, SessionSlot } from './session-slot.js';
import { buildStatus, describeTarget, type RetiredTotals } from './status.js';

export { DEFAULT_TIMINGS } from './options.js';
export type { SessionStarter, TunnelDeps, TunnelTimings } from './options.js';

interface WaitingConnection {
  socket: Socket;
  timer: NodeJS.Timeout;
}

/**
 * Lifecycle of one profile. Events: `state` (TunnelStatus) whenever the state, reason,
 * sessions, counters or last error change.
 */
export class Tunnel extends EventEmitter {
  readonly profile: Profile;
  private readonly deps: TunnelDeps;
  private readonly timings: TunnelTimings;
  private readonly log: pino.Logger;
  private readonly now: () => number;
  private readonly backoff: Backoff;
  private readonly launcher: SessionLauncher;

  private running = false;
  /** Incremented by every start and stop, so late results of an older run are discarded. */
  private generation = 0;
  private bound: BoundListeners | undefined;
  private slots: SessionSlot[] = [];
  private starting = new Set<AbortController>();
  private waiting: WaitingConnection[] = [];
  private retryTimer: NodeJS.Timeout | undefined;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private readonly prober = new KeepAliveProber();
  private readonly loginPoll: IntervalCheck;
  private readonly targetCheck: IntervalCheck;
  /** Reason shown while a start failed for want of a login; cleared once credentials work. */
  private loginNeeded: string | null = null;
  /** Reason shown while the credential provider waits for the user, e.g. for an MFA code. */
  private loginWait: string | null = null;

  private state: TunnelState = 'stopped';
  private reason: string | null = null;
  private lastError: TunnelError | null = null;
  private openSinceMs: number | null = null;
  private retired: RetiredTotals = { bytesIn: 0, bytesOut: 0 };
  private acceptedConnections = 0;
  private dialFailures = 0;
  private reconnects = 0;
  private lastEmitted = '';

  constructor(profile: Profile, deps: TunnelDeps) {
    super();
    this.profile = profile;
    this.deps = deps;
    this.timings = { ...DEFAULT_TIMINGS, ...deps.timings };
    this.log = deps.logger;
    this.now = deps.now ?? Date.now;
    this.backoff = new Backoff({
      initialMs: this.timings.backoffInitialMs,
      maxMs: this.timings.backoffMaxMs,
    });
    this.launcher = new SessionLauncher(profile, deps, this.timings, this.log);
    this.loginPoll = new IntervalCheck(this.timings.loginPollIntervalMs, () => this.checkLogin());
    this.targetCheck = new IntervalCheck(this.timings.targetCheckIntervalMs, () =>
      this.checkTarget(),
    );
  }

  get isRunning(): boolean {
    return this.running;
  }

  status(): TunnelStatus {
    return buildStatus({
      profile: this.profile,
      state: this.state,
      reason: this.reason,
      localAddress: this.localAddress(),
      target: this.launcher.target ?? describeTarget(this.profile),
      sessions: this.slots.map((slot) => slot.session),
      retired: this.retired,
      acceptedConnections: this.acceptedConnections,
      waitingConnections: this.waiting.length,
      dialFailures: this.dialFailures,
      reconnects: this.reconnects,
      lastError: this.lastError,
      openSinceMs: this.openSinceMs,
      nowMs: this.now(),
    });
  }

  private localAddress(): string {
    if (this.bound) {
      return this.bound.addresses.join(', ');
    }
    const host = this.profile.bindAddress || '127.0.0.1';
    return formatHostPort(host, this.profile.localPort);
  }

  /**
   * Binds the local port, then starts sessions as the mode requires. The port is bound
   * before any AWS call, so a port in use fails at once without a StartSession call.
   */
  async start(): Promise<TunnelStatus> {
    if (this.running) {
      return this.status();
    }
    this.running = true;
    this.generation += 1;
    this.lastError = null;
    this.loginNeeded = null;
    this.backoff.reset();
    try {
      await this.bind();
    } catch (error) {
      this.running = false;
      this.fail(classifyError(error));
      return this.status();
    }
    if (!this.running) {
      return this.status();
    }
    this.log.info(
      { localAddress: this.localAddress(), mode: this.profile.mode },
      'tunnel listening',
    );
    this.setState('listening', null);
    if (this.profile.mode === 'always-on') {
      this.fillPool();
    }
    this.scheduleKeepAlive();
    if (typeof this.profile.target !== 'string' && this.deps.resolveTarget) {
      this.targetCheck.start();
    }
    return this.status();
  }

  private async bind(): Promise<void> {
    const addresses = resolveBindAddresses(this.profile.bindAddress, this.profile.allowNonLoopback);
    if (
      this.profile.allowNonLoopback &&
      !addresses.every((address) => address.startsWith('127.') || address === '::1')
    ) {
      this.log.warn(
        { bindAddress: this.profile.bindAddress },
        'tunnel bound to a non-loopback address: other machines can connect',
      );
    }
    const generation = this.generation;
    const listeners = await bindListeners(
      addresses,
      this.profile.localPort,
      (socket) => this.onConnection(socket),
      (address, error) =>
        this.log.warn(
          { address, err: error },
          'IPv6 loopback not available, listening on IPv4 only',
        ),
    );
    if (generation !== this.generation) {
      await listeners.close();
      return;
    }
    this.bound = listeners;
  }

  /** Stops accepting, closes every session (TerminateSession) and frees the port. */
  async stop(reason = 'stopped'): Promise<TunnelStatus> {
    const wasRunning = this.running;
    await this.teardown(reason);
    if (wasRunning) {
      this.log.info({ reason }, 'tunnel stopped');
    }
    this.setState('stopped', null);
    return this.status();
  }

  private async teardown(reason: string): Promise<void> {
    this.running = false;
    this.generation += 1;
    this.clearTimers();
    for (const controller of this.starting) {
      controller.abort(
        new BastionlessError('ERR_SESSION_FAILED', 'Tunnel stopped during session start'),
      );
    }
    this.starting.clear();
    const bound = this.bound;
    this.bound = undefined;
    await bound?.close();
    this.prober.close();
    this.dropWaiting();
    await this.closeSessions(reason);
  }

  private async closeSessions(reason: string): Promise<void> {
    const slots = this.slots;
    this.slots = [];
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

  private clearTimers(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = undefined;
    this.loginPoll.stop();
    this.targetCheck.stop();
  }

  private dropWaiting(): void {
    for (const entry of this.waiting) {
      clearTimeout(entry.timer);
      entry.socket.destroy();
    }
    this.waiting = [];
  }

  // --- connections -------------------------------------------------------------------

  private onConnection(socket: Socket): void {
    // Errors on a waiting socket (client reset) must not crash the daemon. The session
    // installs its own handlers once it owns the socket.
    socket.on('error', () => {});
    if (!this.running) {
      socket.destroy();
      return;
    }
    this.acceptedConnections += 1;
    const slot = this.pickSlot(this.waiting.length + 1);
    if (slot) {
      this.handOver(slot, socket);
    } else {
      this.enqueue(socket);
      this.fillForWaiting();
    }
    this.emitIfChanged();
  }

  /**
   * Returns the session for the next connection: an idle one, else undefined while the pool
   * can grow or a starting session can take it, else the least-loaded one. `queued` counts
   * the connections waiting for a session, the one being placed included.
   */
  private pickSlot(queued: number): SessionSlot | undefined {
    const best = leastLoaded(this.slots);
    if (best && best.load === 0) {
      return best;
    }
    if (this.slots.length + this.starting.size < this.poolSize()) {
      return undefined;
    }
    if (queued <= this.starting.size) {
      return undefined;
    }
    return best;
  }

  private poolSize(): number {
    return Math.max(1, Math.min(8, Math.floor(this.profile.sessionPool || 1)));
  }

  private handOver(slot: SessionSlot, socket: Socket): void {
    slot.load += 1;
    slot.session.handleConnection(socket);
    // Registered after handleConnection so the session's own close listener runs first and
    // its activeConnections count is already lower when the change is emitted.
    socket.once('close', () => {
      slot.load -= 1;
      this.emitIfChanged();
    });
  }

  private enqueue(socket: Socket): void {
    const entry: WaitingConnection = {
      socket,
      timer: setTimeout(() => {
        this.waiting = this.waiting.filter((other) => other !== entry);
        this.log.warn(
          { waitedMs: this.timings.connectionWaitMs },
          'connection closed: no session became ready in time',
        );
        socket.destroy();
        this.emitIfChanged();
      }, this.timings.connectionWaitMs),
    };
    entry.timer.unref();
    socket.once('close', () => {
      clearTimeout(entry.timer);
      if (!this.waiting.includes(entry)) {
        return;
      }
      // A client that gave up while queued lowers the active count, and no other change
      // would announce that.
      this.waiting = this.waiting.filter((other) => other !== entry);
      this.emitIfChanged();
    });
    this.waiting.push(entry);
  }

  /** Hands waiting connections to sessions, leaving some for sessions still starting. */
  private flushWaiting(): void {
    while (this.waiting.length > 0) {
      const slot = this.pickSlot(this.waiting.length);
      if (!slot) {
        break;
      }
      const entry = this.waiting.shift() as WaitingConnection;
      clearTimeout(entry.timer);
      this.handOver(slot, entry.socket);
    }
    if (this.waiting.length > 0) {
      this.fillForWaiting();
    }
  }

  // --- sessions ----------------------------------------------------------------------

  /** Starts sessions until the pool is full (always-on). */
  private fillPool(): void {
    while (this.running && this.slots.length + this.starting.size < this.poolSize()) {
      void this.startOneSession();
    }
  }

  /** Starts as many sessions as waiting connections need, up to the pool size (on-demand). */
  private fillForWaiting(): void {
    if (this.retryTimer) {
      return;
    }
    const busy = this.slots.every((slot) => slot.load > 0);
    const wanted = Math.min(this.poolSize(), this.slots.length + (busy ? this.waiting.length : 0));
    while (
      this.running &&
      this.slots.length + this.starting.size < Math.max(wanted, this.slots.length === 0 ? 1 : 0)
    ) {
      void this.startOneSession();
    }
  }

  private async startOneSession(): Promise<void> {
    const generation = this.generation;
    const controller = new AbortController();
    this.starting.add(controller);
    this.refreshState();
    let launched: LaunchedSession;
    try {
      launched = await this.launcher.start(controller, this.bound?.port ?? this.profile.localPort);
    } catch (error) {
      this.starting.delete(controller);
      if (generation === this.generation) {
        this.onStartFailed(
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
    if (generation !== this.generation || !this.running) {
      void launched.session.close('tunnel stopped').catch(() => {});
      return;
    }
    this.attach(launched);
  }

  private attach({ session, route }: LaunchedSession): void {
    if (this.loginNeeded !== null) {
      this.log.info('credentials valid again, login no longer needed');
    }
    this.loginNeeded = null;
    this.loginPoll.stop();
    const slot = new SessionSlot(session, route, this.now(), {
      reconnecting: (_slot, error) => {
        this.reconnects += 1;
        this.log.warn(
          { sessionId: session.sessionId, err: error },
          'websocket lost, resuming session',
        );
        this.refreshState();
      },
      reconnected: () => {
        this.log.info({ sessionId: session.sessionId }, 'session resumed');
        this.refreshState();
      },
      dialFailed: (failed) => this.onDialFailed(failed),
      ended: (ended, end) => this.onSessionEnded(ended, end),
    });
    this.slots.push(slot);
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
    this.flushWaiting();
    this.refreshState();
  }

  private onDialFailed(slot: SessionSlot): void {
    const sessionId = slot.session.sessionId;
    this.dialFailures += 1;
    const host = slot.route.remoteHost ?? slot.route.target;
    const remote = `${host}:${slot.route.remotePort}`;
    const error = new BastionlessError(
      'ERR_REMOTE_REFUSED',
      `The agent could not connect to ${remote}`,
      {
        hint: `Check that a server listens on ${remote} and that security groups allow the target to reach it.`,
      },
    );
    this.lastError = toTunnelError(error, new Date(this.now()));
    this.log.warn(
      { sessionId, remote, dialFailures: this.dialFailures },
      'remote connection refused',
    );
    this.emitIfChanged();
    if (namesAwsResource(this.profile.remoteHost) && this.deps.invalidateRemoteHost) {
      void this.followRemoteHost(slot);
    }
  }

  /**
   * Looks the remote host up again after a failed dial. When a failover moved the endpoint,
   * the session is closed, because its document fixed the old host; the next session start
   * uses the new one.
   */
  private async followRemoteHost(slot: SessionSlot): Promise<void> {
    this.deps.invalidateRemoteHost?.(this.profile);
    let current;
    try {
      current = await this.launcher.resolveRemote();
    } catch (error) {
      this.log.warn(
        { err: error, remoteHost: this.profile.remoteHost },
        'remote host lookup failed',
      );
      return;
    }
    const moved =
      current.remoteHost !== slot.route.remoteHost || current.remotePort !== slot.route.remotePort;
    if (!moved || !this.slots.includes(slot)) {
      return;
    }
    this.log.info(
      {
        sessionId: slot.session.sessionId,
        from: `${slot.route.remoteHost}:${slot.route.remotePort}`,
        to: `${current.remoteHost}:${current.remotePort}`,
      },
      'remote host endpoint moved, replacing session',
    );
    await slot.session.close('remote host endpoint moved').catch(() => {});
  }

  /** Closes sessions whose instance is no longer the resolver's choice for the tag target. */
  private async checkTarget(): Promise<void> {
    if (this.slots.length === 0 || !this.deps.resolveTarget) {
      return;
    }
    let chosen: string;
    try {
      chosen = await this.deps.resolveTarget(this.profile);
    } catch (error) {
      this.log.warn({ err: error }, 'target check failed; keeping the open sessions');
      return;
    }
    for (const slot of this.slots.filter((other) => other.route.target !== chosen)) {
      this.log.info(
        { sessionId: slot.session.sessionId, from: slot.route.target, to: chosen },
        'target instance no longer chosen, replacing session',
      );
      await slot.session.close(`target ${slot.route.target} replaced by ${chosen}`).catch(() => {});
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
    this.retired.bytesIn += slot.session.stats.bytesIn;
    this.retired.bytesOut += slot.session.stats.bytesOut;
  }

  private onSessionEnded(slot: SessionSlot, end: SessionEnd): void {
    this.retire(slot);
    this.recordAudit(slot, end);
    this.slots = this.slots.filter((other) => other !== slot);
    const sessionId = slot.session.sessionId;
    const lived = this.now() - slot.startedAt;
    if (end.by === 'error') {
      const error = classifyError(end.error ?? new Error(end.reason), {
        awsProfile: this.profile.awsProfile,
      });
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
    this.reason = reason;
    if (lived >= this.timings.stableSessionMs) {
      this.backoff.reset();
    }
    this.restartAfterEnd(lived);
  }

  private onSessionError(error: BastionlessError): void {
    if (mayNeedFreshCredentials(error) && this.deps.refreshCredentials) {
      // A resume rejected with 403 or ExpiredToken usually means the credentials rotated,
      // and fresh ones let the next start succeed.
      this.launcher.refreshCredentials().then(
        () => this.restartAfterEnd(0),
        (refreshError: unknown) =>
          this.onStartFailed(classifyError(refreshError, { awsProfile: this.profile.awsProfile })),
      );
      return;
    }
    if (!error.retryable) {
      this.onStartFailed(error);
      return;
    }
    this.lastError = toTunnelError(error, new Date(this.now()));
    this.restartAfterEnd(0);
  }

  /** Applies the mode's rule after a session ended: always-on restarts, on-demand waits. */
  private restartAfterEnd(livedMs: number): void {
    if (!this.running) {
      return;
    }
    if (this.profile.mode === 'always-on') {
      if (livedMs >= this.timings.stableSessionMs) {
        this.fillPool();
      } else {
        this.scheduleRetry();
      }
    } else if (this.waiting.length > 0) {
      this.fillForWaiting();
    }
    this.refreshState();
  }

  private scheduleRetry(): void {
    if (this.retryTimer || !this.running) {
      return;
    }
    const delay = this.backoff.next();
    this.log.info({ delayMs: delay, attempt: this.backoff.attempts }, 'retrying session start');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.profile.mode === 'always-on') {
        this.fillPool();
      } else if (this.waiting.length > 0) {
        this.fillForWaiting();
      }
      this.refreshState();
    }, delay);
    this.retryTimer.unref();
    this.refreshState();
  }

  private onStartFailed(error: BastionlessError): void {
    // While the user is asked for a code, that request stays the error to show: a start that
    // timed out meanwhile is retried anyway.
    if (this.loginWait === null) {
      this.lastError = toTunnelError(error, new Date(this.now()));
    }
    const context = { code: error.code, err: error.cause ?? error };
    if (needsLogin(error)) {
      this.log.warn(context, 'session start needs a login by the user');
      // The port stays bound, so after the login the next connection (or retry) starts a session.
      this.dropWaiting();
      this.loginNeeded = `${error.message}. ${error.hint ?? ''}`.trim();
      if (this.deps.checkCredentials) {
        this.loginPoll.start();
      }
      if (this.profile.mode === 'always-on') {
        this.scheduleRetry();
      }
      this.refreshState();
      return;
    }
    if (!error.retryable) {
      this.log.error(context, 'session start failed with a fatal error, not retrying');
      void this.teardown(error.message).then(() => this.fail(error));
      return;
    }
    this.log.warn(context, 'session start failed, retrying with backoff');
    if (this.profile.mode === 'always-on' || this.waiting.length > 0) {
      this.scheduleRetry();
    }
    this.reason = error.message;
    this.refreshState();
  }

  private fail(error: BastionlessError): void {
    this.lastError = toTunnelError(error, new Date(this.now()));
    this.setState('failed', error.hint ? `${error.message}. ${error.hint}` : error.message);
  }

  // --- login ---------------------------------------------------------------------------

  /** Polled while a login is needed: once the credentials load again, sessions restart. */
  private async checkLogin(): Promise<void> {
    if (this.loginNeeded === null || !this.running || !this.deps.checkCredentials) {
      this.loginPoll.stop();
      return;
    }
    const generation = this.generation;
    await this.deps.checkCredentials(this.profile);
    if (generation !== this.generation || this.loginNeeded === null) {
      return;
    }
    this.log.info('credentials valid again, restarting sessions');
    this.loginNeeded = null;
    this.loginPoll.stop();
    this.backoff.reset();
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.profile.mode === 'always-on') {
      this.fillPool();
    }
    this.refreshState();
  }

  /**
   * Shows `needs-login` with `reason` and `lastError` while the credential provider waits for
   * the user, e.g. for an MFA code, unless a session is open. `endLoginWait` undoes it.
   */
  beginLoginWait(reason: string, hint: string): void {
    this.loginWait = reason;
    const error = new BastionlessError('ERR_NEEDS_LOGIN', reason, { hint });
    this.lastError = toTunnelError(error, new Date(this.now()));
    this.refreshState();
    this.emitIfChanged();
  }

  endLoginWait(): void {
    if (this.loginWait === null) {
      return;
    }
    this.loginWait = null;
    if (this.lastError?.code === 'ERR_NEEDS_LOGIN') {
      this.lastError = null;
    }
    this.refreshState();
    this.emitIfChanged();
  }

  // --- health and keep-alive ------------------------------------------------------------

  /**
   * Pings every session that supports it and closes the ones that do not reply. It runs
   * after a sleep, when websockets may be dead without having noticed.
   */
  async checkHealth(): Promise<void> {
    await Promise.all(
      this.slots.map(async (slot) => {
        if (!isPingable(slot.session)) {
          // NOTE: sessions without ping() are trusted until their own keep-alive or an
          // error notices the dead websocket.
          return;
        }
        try {
          await slot.session.ping(this.timings.healthCheckTimeoutMs);
        } catch (error) {
          this.log.warn(
            { sessionId: slot.session.sessionId, err: error },
            'session failed its health check; replacing it',
          );
          await slot.session.close('health check failed').catch(() => {});
        }
      }),
    );
  }

  /**
   * Opens and closes one connection through every session at an interval, so the
   * service's idle timeout never ends the session. This bypasses the administrator's
   * idle-session policy, which is why the profile must opt in with keepAlive.
   */
  private scheduleKeepAlive(): void {
    if (!this.profile.keepAlive) {
      return;
    }
    this.keepAliveTimer = setInterval(() => this.sendKeepAlive(), this.timings.keepAliveIntervalMs);
    this.keepAliveTimer.unref();
  }

  private sendKeepAlive(): void {
    for (const slot of this.slots) {
      this.prober
        .probe((socket) => this.handOver(slot, socket))
        .catch((error: unknown) =>
          this.log.warn(
            { sessionId: slot.session.sessionId, err: error },
            'keep-alive probe failed',
          ),
        );
    }
  }

  // --- state -----------------------------------------------------------------------------

  private refreshState(): void {
    if (!this.running) {
      return;
    }
    if (this.slots.length > 0) {
      const allReconnecting = this.slots.every((slot) => slot.reconnecting);
      this.setState(
        allReconnecting ? 'reconnecting' : 'open',
        allReconnecting ? 'websocket lost, resuming' : null,
      );
      return;
    }
    const loginReason = this.loginWait ?? this.loginNeeded;
    if (loginReason !== null) {
      this.setState('needs-login', loginReason);
      return;
    }
    if (this.starting.size > 0 || this.retryTimer) {
      this.setState('connecting', this.reason);
      return;
    }
    this.setState('listening', this.reason);
  }

  private setState(state: TunnelState, reason: string | null): void {
    if (state === 'open' && this.state !== 'open') {
      this.openSinceMs = this.now();
    } else if (state !== 'open' && state !== 'reconnecting') {
      this.openSinceMs = null;
    }
    this.state = state;
    this.reason = reason;
    this.emitIfChanged();
  }

  private emitIfChanged(): void {
    const status = this.status();
    const key = JSON.stringify([
      status.state,
      status.reason,
      status.sessionIds,
      status.activeConnections,
      status.totalConnections,
      status.dialFailures,
      status.reconnects,
      status.lastError,
    ]);
    if (key !== this.lastEmitted) {
      this.lastEmitted = key;
      this.emit('state', status);
    }
  }
}
