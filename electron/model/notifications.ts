import type { TunnelState, TunnelStatus } from '../../ui/src/lib/types.js';

export type NotificationKind = 'failed' | 'needs-login' | 'recovered';

export interface TrayNotification {
  kind: NotificationKind;
  tunnel: string;
  title: string;
  body: string;
}

export interface NotificationPolicyOptions {
  /** Minimum time between two notifications of the same kind for the same tunnel. */
  perTunnelCooldownMs?: number;
  /** At most `burstLimit` notifications in any `burstWindowMs`, across all tunnels. */
  burstLimit?: number;
  burstWindowMs?: number;
  now?: () => number;
}

/**
 * Decides which tunnel state changes become desktop notifications: entering `failed`,
 * entering `needs-login`, and reaching `open` again after one of those was notified.
 * A flapping tunnel or a mass outage is rate-limited, and the next notification shown
 * states how many were suppressed.
 */
export class NotificationPolicy {
  private readonly cooldownMs: number;
  private readonly burstLimit: number;
  private readonly burstWindowMs: number;
  private readonly now: () => number;
  private readonly lastState = new Map<string, TunnelState>();
  private readonly lastShown = new Map<string, number>();
  /** Tunnels whose problem was notified, so only they get a "recovered" notification. */
  private readonly notifiedProblem = new Set<string>();
  private recentShown: number[] = [];
  private suppressed = 0;

  constructor(options: NotificationPolicyOptions = {}) {
    this.cooldownMs = options.perTunnelCooldownMs ?? 5 * 60_000;
    this.burstLimit = options.burstLimit ?? 3;
    this.burstWindowMs = options.burstWindowMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /** Number of notifications suppressed since the last one shown. */
  get suppressedCount(): number {
    return this.suppressed;
  }

  /** Records a status and returns the notification to show, or null. */
  observe(status: TunnelStatus): TrayNotification | null {
    const previous = this.lastState.get(status.name);
    this.lastState.set(status.name, status.state);
    // The first status of a tunnel is its state at startup, not a change worth a notification.
    if (previous === undefined || previous === status.state) return null;
    const candidate = this.candidateFor(status);
    if (!candidate) return null;
    return this.admit(candidate);
  }

  /** Forgets a removed tunnel, so a new profile with the same name starts clean. */
  forget(name: string): void {
    this.lastState.delete(name);
    this.notifiedProblem.delete(name);
    for (const key of [...this.lastShown.keys()]) {
      if (key.endsWith(`\u0000${name}`)) this.lastShown.delete(key);
    }
  }

  private candidateFor(status: TunnelStatus): TrayNotification | null {
    const error = status.lastError;
    if (status.state === 'failed') {
      const message = error?.message ?? status.reason ?? 'the daemon stopped retrying';
      const body = error?.hint ? `${message}\n${error.hint}` : message;
      return { kind: 'failed', tunnel: status.name, title: `Tunnel ${status.name} failed`, body };
    }
    if (status.state === 'needs-login') {
      const body =
        error?.hint ??
        'The AWS credentials are missing or expired; log in again, e.g. `aws sso login`.';
      return {
        kind: 'needs-login',
        tunnel: status.name,
        title: `Tunnel ${status.name} needs login`,
        body,
      };
    }
    if (status.state === 'open' && this.notifiedProblem.has(status.name)) {
      return {
        kind: 'recovered',
        tunnel: status.name,
        title: `Tunnel ${status.name} recovered`,
        body: `Connections to ${status.localAddress} are forwarded again.`,
      };
    }
    return null;
  }

  private admit(candidate: TrayNotification): TrayNotification | null {
    const now = this.now();
    const key = `${candidate.kind}\u0000${candidate.tunnel}`;
    const last = this.lastShown.get(key);
    this.recentShown = this.recentShown.filter((at) => now - at < this.burstWindowMs);
    const coolingDown = last !== undefined && now - last < this.cooldownMs;
    if (coolingDown || this.recentShown.length >= this.burstLimit) {
      this.suppressed += 1;
      // A suppressed problem still counts as notified: the user saw the tunnel was in trouble
      // or will see the suppressed count, so a later recovery is worth telling.
      if (candidate.kind !== 'recovered') this.notifiedProblem.add(candidate.tunnel);
      return null;
    }
    this.lastShown.set(key, now);
    this.recentShown.push(now);
    if (candidate.kind === 'recovered') this.notifiedProblem.delete(candidate.tunnel);
    else this.notifiedProblem.add(candidate.tunnel);
    if (this.suppressed > 0) {
      const count = this.suppressed;
      this.suppressed = 0;
      const noun = count === 1 ? 'notification was' : 'notifications were';
      return { ...candidate, body: `${candidate.body}\n(${count} more ${noun} suppressed.)` };
    }
    return candidate;
  }
}
