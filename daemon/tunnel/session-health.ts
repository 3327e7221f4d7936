// Health of a tunnel's open sessions: ping checks after a sleep, keep-alive probes, and the
// replacement of sessions whose tag target or remote endpoint moved.

import type { Socket } from 'node:net';
import type pino from 'pino';
import type { Profile } from '../config/types.js';
import { BastionlessError } from '../errors.js';
import { IntervalCheck } from './interval-check.js';
import { KeepAliveProber } from './keepalive.js';
import type { TunnelDeps, TunnelTimings } from './options.js';
import { namesAwsResource, type SessionLauncher } from './session-launcher.js';
import { isPingable, type SessionSlot } from './session-slot.js';

export interface SessionHealthDependencies {
  profile: Profile;
  deps: TunnelDeps;
  timings: TunnelTimings;
  log: pino.Logger;
  launcher: SessionLauncher;
  /** Returns the open sessions of the tunnel. */
  slots: () => readonly SessionSlot[];
  /** Gives a keep-alive probe's socket to the session of `slot`. */
  handOver: (slot: SessionSlot, socket: Socket) => void;
  setLastError: (error: BastionlessError) => void;
  /** Called when a count shown in the status may have changed. */
  onChange: () => void;
}

export class SessionHealth {
  private readonly profile: Profile;
  private readonly deps: TunnelDeps;
  private readonly timings: TunnelTimings;
  private readonly log: pino.Logger;
  private readonly launcher: SessionLauncher;
  private readonly dependencies: SessionHealthDependencies;
  private readonly prober = new KeepAliveProber();
  private readonly targetCheck: IntervalCheck;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private dialFailureCount = 0;

  constructor(options: SessionHealthDependencies) {
    this.dependencies = options;
    this.profile = options.profile;
    this.deps = options.deps;
    this.timings = options.timings;
    this.log = options.log;
    this.launcher = options.launcher;
    this.targetCheck = new IntervalCheck(this.timings.targetCheckIntervalMs, () =>
      this.checkTarget(),
    );
  }

  /** Connections the agent failed to open to the remote host. */
  get dialFailures(): number {
    return this.dialFailureCount;
  }

  private get slots(): readonly SessionSlot[] {
    return this.dependencies.slots();
  }

  /** Starts the keep-alive probes (if the profile opted in) and the tag target check. */
  start(): void {
    this.scheduleKeepAlive();
    if (typeof this.profile.target !== 'string' && this.deps.resolveTarget) {
      this.targetCheck.start();
    }
  }

  /** Stops the keep-alive and target-check timers. closeProber() frees the probe listener. */
  stopTimers(): void {
    clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = undefined;
    this.targetCheck.stop();
  }

  closeProber(): void {
    this.prober.close();
  }

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

  /** Counts a refused remote connection and, for AWS resource names, looks the host up again. */
  onDialFailed(slot: SessionSlot): void {
    const sessionId = slot.session.sessionId;
    this.dialFailureCount += 1;
    const host = slot.route.remoteHost ?? slot.route.target;
    const remote = `${host}:${slot.route.remotePort}`;
    const error = new BastionlessError(
      'ERR_REMOTE_REFUSED',
      `The agent could not connect to ${remote}`,
      {
        hint: `Check that a server listens on ${remote} and that security groups allow the target to reach it.`,
      },
    );
    this.dependencies.setLastError(error);
    this.log.warn(
      { sessionId, remote, dialFailures: this.dialFailureCount },
      'remote connection refused',
    );
    this.dependencies.onChange();
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
        .probe((socket) => this.dependencies.handOver(slot, socket))
        .catch((error: unknown) =>
          this.log.warn(
            { sessionId: slot.session.sessionId, err: error },
            'keep-alive probe failed',
          ),
        );
    }
  }
}
