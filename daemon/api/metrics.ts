// Prometheus metrics per tunnel, read from the tunnel manager at scrape time.

import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { TunnelState, TunnelStatus } from '../config/types.js';
import { dataChannelTotals } from '../datachannel/malformed-frames.js';
import type { TunnelController } from './types.js';

const STATES: readonly TunnelState[] = [
  'stopped',
  'listening',
  'connecting',
  'open',
  'reconnecting',
  'needs-login',
  'failed',
];

type CounterField = 'bytesIn' | 'bytesOut' | 'totalConnections' | 'dialFailures' | 'reconnects';

/** Builds a registry of its own, so two daemons in one process do not share metrics. */
export function createMetricsRegistry(manager: TunnelController): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'bastionless_' });
  replaceCpuCounters(registry);

  new Gauge({
    name: 'bastionless_tunnel_state',
    help: 'Tunnel state: 1 for the current state, 0 for the others',
    labelNames: ['tunnel', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const status of manager.list()) {
        for (const state of STATES) {
          this.set({ tunnel: status.name, state }, status.state === state ? 1 : 0);
        }
      }
    },
  });

  const gauge = (name: string, help: string, read: (status: TunnelStatus) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['tunnel'],
      registers: [registry],
      collect() {
        this.reset();
        for (const status of manager.list()) {
          const value = read(status);
          if (value !== null) {
            this.set({ tunnel: status.name }, value);
          }
        }
      },
    });
  gauge(
    'bastionless_tunnel_active_connections',
    'Local connections open now',
    (s) => s.activeConnections,
  );
  gauge('bastionless_tunnel_sessions', 'SSM sessions open now', (s) => s.sessionIds.length);
  gauge('bastionless_tunnel_rtt_seconds', 'Smoothed data-channel round-trip time', (s) =>
    s.rttMs === null ? null : s.rttMs / 1000,
  );
  gauge(
    'bastionless_tunnel_uptime_seconds',
    'Time since the tunnel last became open',
    (s) => s.uptimeMs / 1000,
  );

  // The manager owns the running totals, so each scrape copies them into fresh counters.
  const counter = (name: string, help: string, field: CounterField) =>
    new Counter({
      name,
      help,
      labelNames: ['tunnel'],
      registers: [registry],
      collect() {
        this.reset();
        for (const status of manager.list()) {
          this.inc({ tunnel: status.name }, status[field]);
        }
      },
    });
  counter('bastionless_tunnel_bytes_in_total', 'Bytes received from the remote host', 'bytesIn');
  counter('bastionless_tunnel_bytes_out_total', 'Bytes sent to the remote host', 'bytesOut');
  counter('bastionless_tunnel_connections_total', 'Local connections accepted', 'totalConnections');
  counter(
    'bastionless_tunnel_dial_failures_total',
    'Connections the agent could not dial',
    'dialFailures',
  );
  counter('bastionless_tunnel_reconnects_total', 'Data-channel reconnects', 'reconnects');
  addDataChannelCounters(registry);
  return registry;
}

/** Registers the counters summed over every data channel of the process, ended ones included. */
/**
 * Replaces the default CPU counters with the process totals. The registry is built on the
 * first scrape, and the default counters count only from their creation, so a daemon that
 * had moved gigabytes before it was first scraped reported milliseconds.
 */
function replaceCpuCounters(registry: Registry): void {
  const counters: Array<[string, string, (usage: NodeJS.CpuUsage) => number]> = [
    ['user', 'User CPU time of the process in seconds', (usage) => usage.user],
    ['system', 'System CPU time of the process in seconds', (usage) => usage.system],
    [
      '',
      'User and system CPU time of the process in seconds',
      (usage) => usage.user + usage.system,
    ],
  ];
  for (const [kind, help, read] of counters) {
    const name = `bastionless_process_cpu_${kind === '' ? '' : `${kind}_`}seconds_total`;
    registry.removeSingleMetric(name);
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read(process.cpuUsage()) / 1e6);
      },
    });
  }
}

function addDataChannelCounters(registry: Registry): void {
  new Counter({
    name: 'bastionless_datachannel_malformed_frames_total',
    help: 'Malformed frames and payloads from the service that data channels dropped, by error code',
    labelNames: ['code'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [code, count] of dataChannelTotals().malformedFrames) {
        this.inc({ code }, count);
      }
    },
  });
  const total = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  // NOTE: dropped messages and stalls are added when a channel ends, which a stall does at once.
  total(
    'bastionless_datachannel_dropped_messages_total',
    'Messages dropped unacknowledged because a reorder buffer was full, counted when the channel ends',
    () => dataChannelTotals().droppedMessages,
  );
  total(
    'bastionless_datachannel_stalls_total',
    'Data channels ended with ERR_STREAM_STALLED because a gap in the incoming stream was not repaired',
    () => dataChannelTotals().stalls,
  );
}
