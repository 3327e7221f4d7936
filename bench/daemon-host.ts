// The real bastionless daemon as the tunnel process: profiles written with ConfigStore
// into a throwaway BASTIONLESS_HOME, `bastionless daemon` in a child process, and the
// control API polled until every tunnel has its whole session pool open.

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigStore } from '../daemon/config/store.js';
import type { TunnelStatus } from '../daemon/config/types.js';
import type { ApiFile } from '../daemon/paths.js';
import type { Child } from './child.js';
import { freePort } from './net-util.js';

export interface DaemonHostOptions {
  ssmEndpoint: string;
  target: string;
  remotePort: number;
  tunnels: number;
  sessionPool: number;
  timeoutMs: number;
}

/** Starts `bastionless daemon` with environment `env` and extra node options. */
export type DaemonLauncher = (env: NodeJS.ProcessEnv, nodeArgs?: string[]) => Child;

export interface DaemonHost {
  child: Child;
  ports: number[];
  stop(): Promise<void>;
}

async function listTunnels(home: string): Promise<TunnelStatus[] | undefined> {
  const apiFile = join(home, 'state', 'api.json');
  const tokenFile = join(home, 'state', 'token');
  if (!existsSync(apiFile) || !existsSync(tokenFile)) {
    return undefined;
  }
  const api = JSON.parse(readFileSync(apiFile, 'utf8')) as ApiFile;
  const token = readFileSync(tokenFile, 'utf8').trim();
  const response = await fetch(`http://127.0.0.1:${api.port}/v1/tunnels`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return response.ok ? ((await response.json()) as TunnelStatus[]) : undefined;
}

/** Resolves when every tunnel is open with its whole pool; rejects after `timeoutMs`. */
async function waitForOpenPools(home: string, options: DaemonHostOptions, child: Child) {
  const deadline = Date.now() + options.timeoutMs;
  let last = 'no control API yet';
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null) {
      throw new Error(
        `the daemon exited with code ${child.process.exitCode}: ${child.stderrTail()}`,
      );
    }
    const tunnels = await listTunnels(home).catch(() => undefined);
    if (tunnels) {
      const ready = tunnels.filter(
        (tunnel) => tunnel.state === 'open' && tunnel.sessionIds.length >= options.sessionPool,
      );
      last = `${ready.length} of ${options.tunnels} tunnels open with ${options.sessionPool} sessions`;
      if (ready.length === options.tunnels) {
        return;
      }
    }
    await sleep(200);
  }
  throw new Error(`daemon tunnels not ready in ${options.timeoutMs} ms: ${last}`);
}

/** Writes the profiles, starts the daemon and waits until every session is open. */
export async function startDaemonHost(
  options: DaemonHostOptions,
  launch: DaemonLauncher,
): Promise<DaemonHost> {
  const home = mkdtempSync(join(tmpdir(), 'bastionless-bench-home-'));
  const store = new ConfigStore({ file: join(home, 'config.json') });
  const ports: number[] = [];
  for (let index = 0; index < options.tunnels; index++) {
    const localPort = await freePort();
    ports.push(localPort);
    store.create({
      name: `bench-${index + 1}`,
      region: 'us-east-1',
      target: options.target,
      remoteHost: '127.0.0.1',
      remotePort: options.remotePort,
      localPort,
      mode: 'always-on',
      autoStart: true,
      sessionPool: options.sessionPool,
      endpoints: { ssm: options.ssmEndpoint },
    });
  }
  const child = launch({
    ...process.env,
    BASTIONLESS_HOME: home,
    AWS_ACCESS_KEY_ID: 'AKIABENCH',
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_REGION: 'us-east-1',
  });
  const stop = async (): Promise<void> => {
    await child.stop();
    rmSync(home, { recursive: true, force: true });
  };
  try {
    await waitForOpenPools(home, options, child);
  } catch (error) {
    await stop();
    throw error;
  }
  return { child, ports, stop };
}
