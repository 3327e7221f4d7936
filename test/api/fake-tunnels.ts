// Stand-in for the tunnel manager in API tests: it records calls and emits the same events,
// so the routes can be tested without AWS sessions. The daemon suite runs the real manager.

import { EventEmitter } from 'node:events';
import type { TunnelStatus } from '../../daemon/config/types.js';
import type { TunnelController } from '../../daemon/api/types.js';
import {
  TrafficHistory,
  type TrafficHistorySnapshot,
} from '../../daemon/tunnel/traffic-history.js';

export function makeStatus(name: string, overrides: Partial<TunnelStatus> = {}): TunnelStatus {
  return {
    name,
    groups: [],
    state: 'stopped',
    reason: null,
    nextAttemptAt: null,
    localAddress: '127.0.0.1:15432',
    target: 'i-0123456789abcdef0',
    remoteHost: null,
    remotePort: 5432,
    mode: 'on-demand',
    sessionIds: [],
    agentVersion: null,
    forwarding: null,
    bytesIn: 0,
    bytesOut: 0,
    activeConnections: 0,
    totalConnections: 0,
    dialFailures: 0,
    reconnects: 0,
    rttMs: null,
    lastError: null,
    openSince: null,
    uptimeMs: 0,
    ...overrides,
  };
}

export class FakeTunnels extends EventEmitter implements TunnelController {
  readonly tunnels = new Map<string, TunnelStatus>();
  readonly calls: string[] = [];
  private readonly histories = new Map<string, TrafficHistorySnapshot>();

  add(status: TunnelStatus): void {
    this.tunnels.set(status.name, status);
  }

  list(): TunnelStatus[] {
    return [...this.tunnels.values()];
  }

  get(name: string): TunnelStatus | undefined {
    return this.tunnels.get(name);
  }

  /** Returns the history set with `setTraffic`, or an empty one for a known tunnel. */
  traffic(name: string): TrafficHistorySnapshot | undefined {
    const status = this.tunnels.get(name);
    if (!status) {
      return undefined;
    }
    return this.histories.get(name) ?? new TrafficHistory().snapshot(name, Date.now());
  }

  setTraffic(snapshot: TrafficHistorySnapshot): void {
    this.histories.set(snapshot.name, snapshot);
  }

  async start(name: string): Promise<TunnelStatus> {
    return this.#setState(`start ${name}`, name, 'listening');
  }

  async stop(name: string): Promise<TunnelStatus> {
    return this.#setState(`stop ${name}`, name, 'stopped');
  }

  async restart(name: string): Promise<TunnelStatus> {
    return this.#setState(`restart ${name}`, name, 'listening');
  }

  async startGroup(group: string): Promise<TunnelStatus[]> {
    this.calls.push(`startGroup ${group}`);
    return this.list().filter((status) => status.groups.includes(group));
  }

  async stopGroup(group: string): Promise<TunnelStatus[]> {
    this.calls.push(`stopGroup ${group}`);
    return this.list().filter((status) => status.groups.includes(group));
  }

  #setState(call: string, name: string, state: TunnelStatus['state']): TunnelStatus {
    this.calls.push(call);
    const status = { ...this.tunnels.get(name)!, state };
    this.tunnels.set(name, status);
    this.emit('state', status);
    return status;
  }
}
