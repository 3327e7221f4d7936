// Child process that carries bench traffic through bastionless port-forwarding sessions
// over the emulator, so the parent can read its CPU time and memory from /proc without
// counting the load generator, the target server or the emulator.
//
// Usage: tsx bench/tunnel-host.ts '<json TunnelHostConfig>'
// It prints one JSON line {"ports":[...]} once every listener is up, then runs until
// SIGTERM or SIGINT, when it closes every session.

import { createServer, type Server } from 'node:net';
import { once } from 'node:events';
import { createSsmClient } from '../daemon/aws/clients.js';
import { startPortForwardSession } from '../daemon/portforward/index.js';
import type { PortForwardSession } from '../daemon/portforward/types.js';

export interface TunnelHostConfig {
  ssmEndpoint: string;
  target: string;
  remotePort: number;
  /** Number of tunnels, each with its own listener, like daemon profiles. */
  tunnels: number;
  /** Sessions per tunnel; each new connection goes to the least busy one. */
  sessionPool: number;
}

function pickSession(pool: PortForwardSession[]): PortForwardSession {
  let best = pool[0]!;
  for (const session of pool) {
    if (session.stats.activeConnections < best.stats.activeConnections) {
      best = session;
    }
  }
  return best;
}

async function startTunnel(
  config: TunnelHostConfig,
): Promise<{ server: Server; pool: PortForwardSession[] }> {
  const ssm = createSsmClient({
    region: 'us-east-1',
    endpoint: config.ssmEndpoint,
    credentials: async () => ({ accessKeyId: 'AKIABENCH', secretAccessKey: 'bench' }),
  });
  const pool: PortForwardSession[] = [];
  for (let index = 0; index < config.sessionPool; index++) {
    pool.push(
      await startPortForwardSession({
        getSsmClient: () => ssm,
        target: config.target,
        remoteHost: '127.0.0.1',
        remotePort: config.remotePort,
        reason: 'bastionless benchmark',
      }),
    );
  }
  const server = createServer((socket) => pickSession(pool).handleConnection(socket));
  server.listen(0, '127.0.0.1', 1024);
  await once(server, 'listening');
  return { server, pool };
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '') as TunnelHostConfig;
  const tunnels: { server: Server; pool: PortForwardSession[] }[] = [];
  for (let index = 0; index < config.tunnels; index++) {
    tunnels.push(await startTunnel(config));
  }
  const ports = tunnels.map(({ server }) => {
    const address = server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  });
  process.stdout.write(`${JSON.stringify({ ports })}\n`);
  const stop = async (): Promise<void> => {
    for (const { server, pool } of tunnels) {
      server.close();
      await Promise.all(pool.map((session) => session.close('benchmark finished')));
    }
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

main().catch((error: unknown) => {
  process.stderr.write(`tunnel host failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
