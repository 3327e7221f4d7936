import type { TunnelStatus } from '../../ui/src/lib/types.js';

/** Builds a complete TunnelStatus with plausible values, replacing fields from `overrides`. */
export function tunnelStatus(overrides: Partial<TunnelStatus> = {}): TunnelStatus {
  return {
    name: 'db',
    groups: [],
    state: 'stopped',
    reason: null,
    nextAttemptAt: null,
    localAddress: '127.0.0.1:15432',
    target: 'i-0123456789abcdef0',
    remoteHost: 'db.internal',
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

/** Polls `predicate` every 10 ms until it returns a value other than undefined or false. */
export function waitFor<T>(predicate: () => T | undefined | false, timeoutMs = 5_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = () => {
      const value = predicate();
      if (value !== undefined && value !== false) return resolve(value);
      if (Date.now() - started > timeoutMs) {
        return reject(new Error(`condition not met within ${timeoutMs} ms`));
      }
      setTimeout(poll, 10);
    };
    poll();
  });
}
