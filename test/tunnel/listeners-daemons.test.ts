// ERR_PORT_IN_USE between processes: two real daemons in two homes that want the same local
// port, and a plain process that listens on it.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TunnelStatus } from '../../daemon/config/types.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { cliEnv, freePort, runCli, waitFor } from '../cli/helpers.js';

let emulator: Emulator;
const homes: string[] = [];

beforeAll(async () => {
  emulator = await startEmulator({ pacing: false });
});

afterAll(async () => {
  for (const home of homes) {
    await runCli(['stop'], cliEnv(home)).catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  }
  await emulator?.close();
});

/** Creates a home whose config has one on-demand tunnel "web" on `localPort`. */
function createHome(localPort: number): string {
  const home = mkdtempSync(join(tmpdir(), 'bastionless-port-owner-'));
  homes.push(home);
  const profile = {
    name: 'web',
    target: 'i-0123456789abcdef0',
    remotePort: 80,
    localPort,
    region: 'us-east-1',
    autoStart: true,
    mode: 'on-demand',
    endpoints: { ssm: emulator.url, ec2: emulator.url, sts: emulator.url },
  };
  writeFileSync(join(home, 'config.json'), `${JSON.stringify({ profiles: [profile] })}\n`);
  return home;
}

async function tunnelStatus(home: string): Promise<TunnelStatus | undefined> {
  const result = await runCli(['status', '--json'], cliEnv(home));
  expect(result.code).toBe(0);
  return (JSON.parse(result.stdout) as TunnelStatus[]).find((tunnel) => tunnel.name === 'web');
}

/** Waits until the "web" tunnel of `home` reports an error, and returns its status. */
function waitForLastError(home: string): Promise<TunnelStatus> {
  return waitFor('the tunnel to report an error', async () => {
    const status = await tunnelStatus(home);
    return status?.lastError ? status : undefined;
  });
}

/** Reads the pid the daemon of `home` wrote, which `bastionless start` also prints. */
function daemonPid(home: string): number {
  return Number.parseInt(readFileSync(join(home, 'state', 'daemon.pid'), 'utf8'), 10);
}

describe('port held by another daemon', () => {
  it('names that daemon and its stop command', { timeout: 90_000 }, async () => {
    const port = await freePort();
    const first = createHome(port);
    const second = createHome(port);

    const firstStart = await runCli(['start'], cliEnv(first));
    expect(firstStart.code).toBe(0);
    const firstPid = daemonPid(first);
    await waitFor('the first daemon to listen', async () =>
      (await tunnelStatus(first))?.state === 'listening' ? true : undefined,
    );

    const secondStart = await runCli(['start'], cliEnv(second));
    expect(secondStart.code).toBe(0);
    const blocked = await waitForLastError(second);
    expect(blocked.lastError?.code).toBe('ERR_PORT_IN_USE');
    expect(blocked.lastError?.message).toBe(
      `Port 127.0.0.1:${port} is already in use by another bastionless daemon ` +
        `(pid ${firstPid}, config ${join(first, 'config.json')})`,
    );
    const stopCommand = `BASTIONLESS_HOME=${first} bastionless stop`;
    expect(blocked.lastError?.hint).toBe(
      `Stop that daemon with \`${stopCommand}\`, or choose another port with \`bastionless edit web --local-port N\` (localPort).`,
    );

    // The hint's command must stop the first daemon, which frees the port for the second.
    const stopped = await runCli(['stop'], cliEnv(first));
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toContain(`pid ${firstPid}`);
    const up = await runCli(['up', 'web'], cliEnv(second));
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    const listening = await tunnelStatus(second);
    expect(listening?.state).toBe('listening');
  });
});

describe('port held by another program', () => {
  let holder: ChildProcess | undefined;

  afterAll(() => {
    holder?.kill('SIGTERM');
  });

  it('names the program and its pid', { timeout: 60_000 }, async () => {
    const port = await freePort();
    holder = spawn(
      process.execPath,
      ['-e', `require('net').createServer().listen(${port}, '127.0.0.1', () => console.log('up'))`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise((resolve) => holder!.stdout!.once('data', resolve));
    const home = createHome(port);

    const started = await runCli(['start'], cliEnv(home));
    expect(started.code).toBe(0);
    const blocked = await waitForLastError(home);
    expect(blocked.lastError?.code).toBe('ERR_PORT_IN_USE');
    expect(blocked.lastError?.message).toBe(
      `Port 127.0.0.1:${port} is already in use by node (pid ${holder.pid})`,
    );
    expect(blocked.lastError?.hint).toBe(
      `Stop the program that uses port ${port} or choose another port with \`bastionless edit web --local-port N\` (localPort).`,
    );
  });
});
