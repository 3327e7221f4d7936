// One tunnel: the local listeners of a profile and the port-forwarding sessions that carry
// their connections, with the start, restart and stop rules of the profile's mode.
// This file owns the lifecycle, the state machine and the status. connection-queue.ts
// places local sockets, session-pool.ts starts and renews sessions, session-pool-retry.ts
// retries failed starts and waits for a login, and session-health.ts checks the sessions.

import { EventEmitter } from 'node:events';
import type pino from 'pino';
import type { Profile, TunnelError, TunnelState, TunnelStatus } from '../config/types.js';
import { BastionlessError, classifyError, toTunnelError } from '../errors.js';
import { ConnectionQueue } from './connection-queue.js';
import {
  bindListeners,
  formatHostPort,
  resolveBindAddresses,
  type BoundListeners,
} from './listeners.js';
import { DEFAULT_TIMINGS, type TunnelDeps, type TunnelTimings } from './options.js';
import { SessionHealth } from './session-health.js';
import { SessionLauncher } from './session-launcher.js';
import { describeResume } from './reconnect-failure.js';
import { poolSizeOf, SessionPool } from './session-pool.js';
import { describeStartFailure } from './start-failure.js';
import { buildStatus, describeTarget } from './status.js';
import { TrafficHistory, type TrafficHistorySnapshot } from './traffic-history.js';

export { DEFAULT_TIMINGS } from './options.js';

/**
 * Profile fields that do not affect the listeners or sessions, so an edit of only these
 * applies to a running tunnel without a restart. autoStart matters only when the daemon
 * starts or a profile is added.
 */
export const RESTART_FREE_FIELDS = ['groups', 'autoStart'] as const;

/** Returns the profile without RESTART_FREE_FIELDS, as JSON, to compare what a tunnel uses. */
function forwardingSettings(profile: Profile): string {
  const settings: Partial<Profile> = { ...profile };
  for (const field of RESTART_FREE_FIELDS) {
    delete settings[field];
  }
  return JSON.stringify(settings);
}
export type { SessionStarter, TunnelDeps, TunnelTimings } from './options.js';

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
  private readonly launcher: SessionLauncher;
  private readonly connections: ConnectionQueue;
  private readonly pool: SessionPool;
  private readonly health: SessionHealth;
  private readonly trafficHistory = new TrafficHistory();

  private running = false;
  /** Incremented by every start and stop, so late results of an older run are discarded. */
  private generation = 0;
  private bound: BoundListeners | undefined;
  /** Reason shown while the credential provider waits for the user, e.g. for an MFA code. */
  private loginWait: string | null = null;

  private state: TunnelState = 'stopped';
  private reason: string | null = null;
  private lastError: TunnelError | null = null;
  /** The error lastError was built from, so a pool can clear only an error it set. */
  private lastErrorSource: BastionlessError | null = null;
  /**
   * Hand-over count of the connection queue at the latest refused remote connection. A later
   * connection that receives bytes shows that the remote host accepts connections again.
   */
  private refusedAtHandOver = 0;
  private openSinceMs: number | null = null;
  private lastEmitted = '';

  constructor(profile: Profile, deps: TunnelDeps) {
    super();
    // A copy, because updateProfile changes some fields in place and the components below
    // read them from this object.
    this.profile = { ...profile, groups: [...profile.groups] };
    this.deps = deps;
    this.timings = { ...DEFAULT_TIMINGS, ...deps.timings };
    this.log = deps.logger;
    this.now = deps.now ?? Date.now;
    this.launcher = new SessionLauncher(this.profile, deps, this.timings, this.log, () =>
      this.onSsmResponse(),
    );
    const setLastError = (error: BastionlessError): void => {
      this.lastError = toTunnelError(error, new Date(this.now()), this.profile.name);
      this.lastErrorSource = error;
    };
    this.connections = new ConnectionQueue({
      log: this.log,
      connectionWaitMs: this.timings.connectionWaitMs,
      poolSize: () => poolSizeOf(this.profile),
      isRunning: () => this.running,
      slots: () => this.pool.slots,
      startingCount: () => this.pool.startingCount,
      requestSessions: () => this.pool.fillForWaiting(),
      onFastClose: () => this.pool.onFastClose(),
      onChange: () => this.emitIfChanged(),
    });
    this.pool = new SessionPool({
      profile: this.profile,
      deps,
      timings: this.timings,
      log: this.log,
      now: this.now,
      launcher: this.launcher,
      host: {
        isRunning: () => this.running,
        generation: () => this.generation,
        localPort: () => this.bound?.port ?? this.profile.localPort,
        waitingCount: () => this.connections.waitingCount,
        flushWaiting: () => this.connections.flush(),
        beginFailure: (error) => this.connections.beginFailure(error),
        endFailure: (reason) => this.connections.endFailure(reason),
        closeWaitingIfResumesStalled: (error) =>
          this.connections.closeWaitingIfResumesStalled(error),
        isLoginWaiting: () => this.loginWait !== null,
        setLastError,
        clearLastError: (error) => {
          if (this.lastErrorSource === error) {
            this.lastError = null;
            this.lastErrorSource = null;
          }
        },
        setReason: (reason) => {
          this.reason = reason;
        },
        refreshState: () => this.refreshState(),
        failFatal: (error) => void this.teardown(error.message).then(() => this.fail(error)),
        onDialFailed: (slot) => {
          this.refusedAtHandOver = this.connections.handOverCount;
          this.health.onDialFailed(slot);
        },
      },
    });
    this.health = new SessionHealth({
      profile: this.profile,
      deps,
      timings: this.timings,
      log: this.log,
      launcher: this.launcher,
      slots: () => this.pool.slots,
      handOver: (slot, socket) => this.connections.handOver(slot, socket),
      setLastError,
      onChange: () => this.emitIfChanged(),
    });
  }

  /**
   * Applies `next` in place when it differs from the current profile in RESTART_FREE_FIELDS
   * only, so listeners, sessions and connections stay, and emits the new status. Returns
   * false, changing nothing, when another field differs and the tunnel must be replaced.
   */
  updateProfile(next: Profile): boolean {
    if (
      next.name !== this.profile.name ||
      forwardingSettings(next) !== forwardingSettings(this.profile)
    ) {
      return false;
    }
    this.profile.groups = [...next.groups];
    this.profile.autoStart = next.autoStart;
    this.emit('state', this.status());
    return true;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /**
   * True while the tunnel runs or after it failed. Only a start or a running tunnel can fail,
   * and a stop sets `stopped`, so a failed tunnel is one the user meant to run.
   */
  get shouldRun(): boolean {
    return this.running || this.state === 'failed';
  }

  /**
   * Builds the current status and adds the bytes counted since the last call to the history.
   * It first clears an ERR_REMOTE_REFUSED error once a later connection has received bytes.
   */
  status(): TunnelStatus {
    this.clearRefusalAfterResponse();
    const nowMs = this.now();
    const status = buildStatus({
      profile: this.profile,
      state: this.state,
      reason: this.reason,
      nextAttemptAtMs:
        this.pool.nextAttemptAtMs ??
        (this.state === 'reconnecting' ? this.pool.nextResumeAttemptAtMs : null),
      localAddress: this.localAddress(),
      target: this.launcher.target ?? describeTarget(this.profile),
      sessions: this.pool.slots.map((slot) => slot.session),
      dialedPort: this.pool.slots[0]?.route.remotePort ?? null,
      retired: this.pool.retired,
      acceptedConnections: this.connections.acceptedConnections,
      waitingConnections: this.connections.waitingCount,
      dialFailures: this.health.dialFailures,
      reconnects: this.pool.reconnects,
      lastError: this.lastError,
      openSinceMs: this.openSinceMs,
      nowMs,
    });
    this.trafficHistory.record(nowMs, status.bytesIn, status.bytesOut);
    return status;
  }

  /** Returns the traffic of the last five minutes in 5 s buckets, up to this moment. */
  traffic(): TrafficHistorySnapshot {
    this.status();
    return this.trafficHistory.snapshot(this.profile.name, this.now());
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
    this.lastErrorSource = null;
    this.pool.reset();
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
      this.pool.fillPool();
    }
    this.health.start();
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
      (socket) => this.connections.accept(socket),
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
    this.pool.clearTimers();
    this.health.stopTimers();
    this.pool.abortStarting();
    const bound = this.bound;
    this.bound = undefined;
    await bound?.close();
    this.health.closeProber();
    this.connections.endFailure(`tunnel stopped: ${reason}`);
    this.connections.dropAll();
    await this.pool.closeAll(reason);
  }

  private fail(error: BastionlessError): void {
    const lastError = toTunnelError(error, new Date(this.now()), this.profile.name);
    this.lastError = lastError;
    this.lastErrorSource = error;
    // Built from lastError, whose hint names the profile, so the dashboard can see that the
    // reason repeats the error and show it once.
    this.setState(
      'failed',
      lastError.hint ? `${lastError.message}. ${lastError.hint}` : lastError.message,
    );
  }

  /**
   * Clears an ERR_REMOTE_REFUSED last error once a connection accepted after the refusal has
   * received bytes, because then the remote host accepts connections again.
   */
  private clearRefusalAfterResponse(): void {
    if (
      this.lastErrorSource?.code !== 'ERR_REMOTE_REFUSED' ||
      !this.connections.receivedBytesAfter(this.refusedAtHandOver)
    ) {
      return;
    }
    this.log.info(
      { code: this.lastErrorSource.code },
      'remote host sent bytes on a later connection, cleared the last error',
    );
    this.lastError = null;
    this.lastErrorSource = null;
  }

  /**
   * Clears an ERR_ENDPOINT_UNREACHABLE last error and reason once the SSM endpoint responded
   * to a request, so the status does not name them while the next attempt's websocket opens.
   */
  private onSsmResponse(): void {
    this.pool.onEndpointResponded();
    const source = this.lastErrorSource;
    if (source?.code !== 'ERR_ENDPOINT_UNREACHABLE') {
      return;
    }
    this.log.info(
      { code: source.code, endpoint: this.profile.endpoints.ssm },
      'SSM endpoint responded again, cleared the last error',
    );
    this.lastError = null;
    this.lastErrorSource = null;
    // The reason starts with the error's message, as describeStartFailure builds it.
    if (this.reason?.startsWith(source.message.replace(/\.$/, ''))) {
      this.reason = null;
    }
    this.refreshState();
    this.emitIfChanged();
  }

  // --- login ---------------------------------------------------------------------------

  /**
   * Shows `needs-login` with `reason` and `lastError` while the credential provider waits for
   * the user, e.g. for an MFA code, unless a session is open. `endLoginWait` undoes it.
   */
  beginLoginWait(reason: string, hint: string): void {
    this.loginWait = reason;
    const error = new BastionlessError('ERR_NEEDS_LOGIN', reason, { hint });
    this.lastError = toTunnelError(error, new Date(this.now()), this.profile.name);
    this.lastErrorSource = error;
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
      this.lastErrorSource = null;
    }
    this.refreshState();
    this.emitIfChanged();
  }

  // --- health ----------------------------------------------------------------------------

  /**
   * Pings every session that supports it and closes the ones that do not reply. It runs
   * after a sleep, when websockets may be dead without having noticed.
   */
  async checkHealth(): Promise<void> {
    await this.health.checkHealth();
  }

  // --- state -----------------------------------------------------------------------------

  private refreshState(): void {
    if (!this.running) {
      return;
    }
    const slots = this.pool.slots;
    if (slots.length > 0) {
      if (slots.every((slot) => slot.reconnecting)) {
        this.setState('reconnecting', describeResume(slots));
      } else {
        this.setState('open', null);
      }
      return;
    }
    const loginReason = this.loginWait ?? this.pool.loginNeeded;
    if (loginReason !== null) {
      this.setState('needs-login', loginReason);
      return;
    }
    const starting = this.pool.startingCount > 0;
    const failure = this.pool.lastingFailure;
    const reason = failure
      ? describeStartFailure(failure, this.pool.nextAttemptAtMs, starting)
      : this.reason;
    if (starting || this.pool.retryPending) {
      this.setState('connecting', reason);
      return;
    }
    this.setState('listening', reason);
  }

  private setState(state: TunnelState, reason: string | null): void {
    // A resume keeps the sessions and their connections, so the open period goes on through
    // `reconnecting`, and errors of the resume stay errors of the current open period.
    if (state === 'open' && this.openSinceMs === null) {
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
      status.nextAttemptAt,
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
