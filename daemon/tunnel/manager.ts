// The set of tunnels the daemon keeps, one per profile, and the operations the control API,
// CLI and tray call on them.

import { EventEmitter } from 'node:events';
import type pino from 'pino';
import type { Profile, TunnelStatus } from '../config/types.js';
import { BastionlessError } from '../errors.js';
import { tunnelLogger } from '../log.js';
import { watchClockDrift } from './backoff.js';
import type { TrafficHistorySnapshot } from './traffic-history.js';
import { Tunnel, type TunnelDeps } from './tunnel.js';

/** Dependencies of every tunnel. Each tunnel gets a child of `logger`. */
export interface TunnelManagerDeps extends TunnelDeps {
  /** Interval of `traffic` events, in milliseconds. */
  trafficIntervalMs?: number;
}

export interface TrafficSample {
  name: string;
  bytesIn: number;
  bytesOut: number;
  /** ISO 8601 time of the sample. */
  at: string;
}

// Shutdown must free every port within 2 s, and closing sessions gets this share of it.
const SHUTDOWN_TIMEOUT_MS = 1800;

/**
 * Keeps one Tunnel per profile. Events:
 * - `state` (TunnelStatus): on every change of a tunnel.
 * - `traffic` (TrafficSample): once per interval for every tunnel with an open session.
 * - `removed` (name: string): a profile was removed by applyProfiles.
 */
export class TunnelManager extends EventEmitter {
  private readonly deps: TunnelManagerDeps;
  private readonly log: pino.Logger;
  private readonly tunnels = new Map<string, Tunnel>();
  private readonly now: () => number;
  private readonly stopDriftWatch: () => void;
  private readonly trafficTimer: NodeJS.Timeout;

  constructor(deps: TunnelManagerDeps) {
    super();
    this.deps = deps;
    this.log = deps.logger;
    this.now = deps.now ?? Date.now;
    this.stopDriftWatch = watchClockDrift((lateByMs) => this.onWake(lateByMs));
    this.trafficTimer = setInterval(() => this.emitTraffic(), deps.trafficIntervalMs ?? 1000);
    this.trafficTimer.unref();
  }

  /** Adds, replaces and removes tunnels to match `profiles`, and starts new autoStart ones. */
  async applyProfiles(profiles: Profile[]): Promise<void> {
    const wanted = new Map(profiles.map((profile) => [profile.name, profile]));
    const work: Promise<unknown>[] = [];
    for (const [name, tunnel] of this.tunnels) {
      if (!wanted.has(name)) {
        this.tunnels.delete(name);
        work.push(tunnel.stop('profile removed').then(() => this.emit('removed', name)));
      }
    }
    for (const profile of profiles) {
      work.push(this.applyProfile(profile));
    }
    await Promise.all(work);
  }

  private async applyProfile(profile: Profile): Promise<void> {
    const existing = this.tunnels.get(profile.name);
    if (existing && JSON.stringify(existing.profile) === JSON.stringify(profile)) {
      return;
    }
    if (existing?.updateProfile(profile)) {
      this.log.info(
        { tunnel: profile.name, groups: profile.groups, autoStart: profile.autoStart },
        'profile changed, applied without a restart',
      );
      return;
    }
    // A failed tunnel counts as running, because the edit may have fixed its cause.
    const wasRunning = existing?.shouldRun ?? false;
    const tunnel = this.createTunnel(profile);
    this.tunnels.set(profile.name, tunnel);
    if (existing) {
      existing.removeAllListeners('state');
      await existing.stop('profile changed');
      this.log.info({ tunnel: profile.name }, 'profile changed, tunnel replaced');
    }
    if (wasRunning || (!existing && profile.autoStart)) {
      await tunnel.start();
    } else {
      this.emit('state', tunnel.status());
    }
  }

  private createTunnel(profile: Profile): Tunnel {
    const tunnel = new Tunnel(profile, {
      ...this.deps,
      logger: tunnelLogger(this.log, profile.name),
    });
    tunnel.on('state', (status: TunnelStatus) => this.emit('state', status));
    return tunnel;
  }

  list(): TunnelStatus[] {
    return [...this.tunnels.values()].map((tunnel) => tunnel.status());
  }

  get(name: string): TunnelStatus | undefined {
    return this.tunnels.get(name)?.status();
  }

  /** Returns the last five minutes of traffic of tunnel `name`, or undefined without one. */
  traffic(name: string): TrafficHistorySnapshot | undefined {
    return this.tunnels.get(name)?.traffic();
  }

  private require(name: string): Tunnel {
    const tunnel = this.tunnels.get(name);
    if (!tunnel) {
      const known = [...this.tunnels.keys()].join(', ') || 'none';
      throw new BastionlessError(
        'ERR_UNKNOWN_TUNNEL',
        `Tunnel "${name}" not found (configured: ${known})`,
        {
          hint: 'Run `bastionless list` to see the configured tunnels.',
        },
      );
    }
    return tunnel;
  }

  async start(name: string): Promise<TunnelStatus> {
    return this.require(name).start();
  }

  async stop(name: string): Promise<TunnelStatus> {
    return this.require(name).stop();
  }

  async restart(name: string): Promise<TunnelStatus> {
    const tunnel = this.require(name);
    await tunnel.stop('restart');
    return tunnel.start();
  }

  /** Shows `needs-login` on tunnel `name` while its credentials wait for the user. */
  beginLoginWait(name: string, reason: string, hint: string): void {
    this.tunnels.get(name)?.beginLoginWait(reason, hint);
  }

  endLoginWait(name: string): void {
    this.tunnels.get(name)?.endLoginWait();
  }

  private inGroup(group: string): Tunnel[] {
    const members = [...this.tunnels.values()].filter((tunnel) =>
      tunnel.profile.groups.includes(group),
    );
    if (members.length === 0) {
      throw new BastionlessError('ERR_UNKNOWN_TUNNEL', `No tunnel is in group "${group}"`, {
        hint: 'Add the group to the profiles in the config file, or run `bastionless list`.',
      });
    }
    return members;
  }

  async startGroup(group: string): Promise<TunnelStatus[]> {
    return Promise.all(this.inGroup(group).map((tunnel) => tunnel.start()));
  }

  async stopGroup(group: string): Promise<TunnelStatus[]> {
    return Promise.all(this.inGroup(group).map((tunnel) => tunnel.stop()));
  }

  /**
   * Stops every tunnel: listeners close at once, every session gets TerminateSession, and
   * the call returns within about 2 s even when some session close hangs.
   */
  async shutdown(): Promise<void> {
    this.stopDriftWatch();
    clearInterval(this.trafficTimer);
    const stops = Promise.all(
      [...this.tunnels.values()].map((tunnel) => tunnel.stop('daemon shutdown')),
    );
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), SHUTDOWN_TIMEOUT_MS);
      timer.unref();
    });
    const outcome = await Promise.race([stops.then(() => 'done' as const), deadline]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.log.warn(
        { timeoutMs: SHUTDOWN_TIMEOUT_MS },
        'shutdown timed out waiting for sessions to close',
      );
    }
  }

  private onWake(lateByMs: number): void {
    this.log.info({ lateByMs }, 'clock jumped after a sleep or suspend, checking sessions');
    for (const tunnel of this.tunnels.values()) {
      void tunnel.checkHealth();
    }
  }

  private emitTraffic(): void {
    const at = new Date(this.now()).toISOString();
    for (const tunnel of this.tunnels.values()) {
      const status = tunnel.status();
      if (status.sessionIds.length === 0) {
        continue;
      }
      const sample: TrafficSample = {
        name: status.name,
        bytesIn: status.bytesIn,
        bytesOut: status.bytesOut,
        at,
      };
      this.emit('traffic', sample);
    }
  }
}
