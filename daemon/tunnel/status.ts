// Builds the TunnelStatus that the API, CLI, dashboard and tray show for one tunnel.

import type { Profile, TunnelError, TunnelState, TunnelStatus } from '../config/types.js';
import { openChannelStats } from '../datachannel/datachannel.js';
import type { PortForwardSession } from '../portforward/types.js';

/** Counters of sessions that have ended, so totals survive session restarts. */
export interface RetiredTotals {
  bytesIn: number;
  bytesOut: number;
}

export interface StatusInput {
  profile: Profile;
  state: TunnelState;
  reason: string | null;
  /** Epoch milliseconds of the scheduled retry of a failed session start, or null. */
  nextAttemptAtMs: number | null;
  localAddress: string;
  target: string;
  sessions: readonly PortForwardSession[];
  /** Port the agent dials in the open session, or null without one. */
  dialedPort: number | null;
  retired: RetiredTotals;
  /** Connections accepted on the listeners, keep-alive probes excluded. */
  acceptedConnections: number;
  /** Accepted connections not yet handed to a session or closed. */
  waitingConnections: number;
  dialFailures: number;
  reconnects: number;
  lastError: TunnelError | null;
  openSinceMs: number | null;
  nowMs: number;
}

export function describeTarget(profile: Profile): string {
  if (typeof profile.target === 'string') {
    return profile.target;
  }
  const tags = Object.entries(profile.target.tags).map(([key, value]) => `${key}=${value}`);
  return `tags:${tags.join(',')}`;
}

/** Sums a counter of the data channels of `sessions` that are still open. */
function sumChannelStat(
  sessions: readonly PortForwardSession[],
  field: 'protocolErrors' | 'droppedMessages',
): number {
  let sum = 0;
  for (const session of sessions) {
    sum += openChannelStats(session.sessionId)?.[field] ?? 0;
  }
  return sum;
}

function averageRtt(sessions: readonly PortForwardSession[]): number | null {
  const samples = sessions.map((session) => session.stats.rttMs).filter((rtt) => rtt !== null);
  if (samples.length === 0) {
    return null;
  }
  return samples.reduce((sum, rtt) => sum + rtt, 0) / samples.length;
}

export function buildStatus(input: StatusInput): TunnelStatus {
  const { profile, sessions } = input;
  let bytesIn = input.retired.bytesIn;
  let bytesOut = input.retired.bytesOut;
  let active = input.waitingConnections;
  for (const session of sessions) {
    bytesIn += session.stats.bytesIn;
    bytesOut += session.stats.bytesOut;
    active += session.stats.activeConnections;
  }
  const first = sessions[0];
  const open = input.state === 'open' && input.openSinceMs !== null;
  return {
    name: profile.name,
    groups: [...profile.groups],
    state: input.state,
    reason: input.reason,
    nextAttemptAt:
      input.nextAttemptAtMs === null ? null : new Date(input.nextAttemptAtMs).toISOString(),
    localAddress: input.localAddress,
    target: input.target,
    remoteHost: profile.remoteHost ?? null,
    // A profile that leaves the port to an RDS or ElastiCache lookup stores 0, so the status
    // shows the looked-up port once a session has it.
    remotePort: profile.remotePort === 0 ? (input.dialedPort ?? 0) : profile.remotePort,
    mode: profile.mode,
    sessionIds: sessions.map((session) => session.sessionId),
    agentVersion: first?.agentVersion ?? null,
    forwarding: first?.mode ?? null,
    bytesIn,
    bytesOut,
    activeConnections: active,
    totalConnections: input.acceptedConnections,
    dialFailures: input.dialFailures,
    reconnects: input.reconnects,
    rttMs: averageRtt(sessions),
    protocolErrors: sumChannelStat(sessions, 'protocolErrors'),
    droppedMessages: sumChannelStat(sessions, 'droppedMessages'),
    lastError: input.lastError,
    openSince: open ? new Date(input.openSinceMs as number).toISOString() : null,
    uptimeMs: open ? input.nowMs - (input.openSinceMs as number) : 0,
  };
}
