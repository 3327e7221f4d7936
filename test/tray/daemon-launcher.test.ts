import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { TunnelStatus } from '../../daemon/config/types.js';
import { discoverDaemon, type DaemonEndpoint } from '../../electron/model/daemon-client.js';
import {
  DaemonLauncher,
  type DaemonLauncherDeps,
  type DaemonProcess,
} from '../../electron/model/daemon-launcher.js';
import { ApiClient } from '../../ui/src/lib/api.js';
import {
  cliEnv,
  freePort,
  openHeldConnection,
  setupEmulatorAndEcho,
  spawnCli,
  terminatedSessionIds,
  waitFor,
} from '../cli/helpers.js';
import { startFakeDaemon } from './fake-daemon.js';

const fixture = setupEmulatorAndEcho();

const cleanups: (() => Promise<unknown> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const FAKE_DAEMON = join(import.meta.dirname, 'fake-daemon-main.ts');

async function tempStateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bastionless-launch-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function probe(endpoint: DaemonEndpoint): Promise<boolean> {
  const api = new ApiClient({ baseUrl: endpoint.url, token: endpoint.token, timeoutMs: 10_000 });
  try {
    await api.listTunnels();
    return true;
  } catch {
    return false;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Returns the part of a spawned child that the launcher uses, killed after the test. */
function trackedProcess(child: ChildProcess): DaemonProcess {
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { pid: child.pid, kill: (signal) => child.kill(signal), exited: once(child, 'exit') };
}

function launcherFor(
  stateDir: string,
  spawnDaemon: () => ChildProcess,
  options: Partial<DaemonLauncherDeps> = {},
) {
  const spawned: ChildProcess[] = [];
  const launcher = new DaemonLauncher({
    discover: () =>
      discoverDaemon({
        apiFile: join(stateDir, 'api.json'),
        tokenFile: join(stateDir, 'token'),
      }),
    probe,
    spawnDaemon: () => {
      const child = spawnDaemon();
      spawned.push(child);
      return trackedProcess(child);
    },
    readyTimeoutMs: 20_000,
    ...options,
  });
  return { launcher, spawned };
}

/** Creates a launcher that runs `script`, by default the fake daemon without a shutdown route. */
function fakeLauncherFor(
  dir: string,
  {
    script = FAKE_DAEMON,
    args = [] as string[],
    ...options
  }: Partial<DaemonLauncherDeps> & {
    script?: string;
    args?: string[];
  } = {},
) {
  return launcherFor(
    dir,
    () => spawn(process.execPath, ['--import', 'tsx', script, dir, ...args], { stdio: 'ignore' }),
    options,
  );
}

describe('DaemonLauncher', () => {
  it('attaches to a running daemon and leaves it running', async () => {
    const dir = await tempStateDir();
    const daemon = await startFakeDaemon(dir);
    cleanups.push(() => daemon.close());
    const { launcher, spawned } = fakeLauncherFor(dir);
    const result = await launcher.ensureRunning();
    expect(result.started).toBe(false);
    expect(result.endpoint.port).toBe(daemon.port);
    expect(launcher.startedByUs).toBe(false);
    expect(await launcher.shutdown()).toEqual({ stopped: false });
    expect(spawned).toEqual([]);
    expect(daemon.requests).not.toContain('POST /v1/shutdown');
    expect(await probe(result.endpoint)).toBe(true);
  });

  it('falls back to SIGTERM without the route', async () => {
    const dir = await tempStateDir();
    const { launcher, spawned } = fakeLauncherFor(dir);
    const result = await launcher.ensureRunning();
    expect(result.started).toBe(true);
    expect(launcher.startedByUs).toBe(true);
    expect(spawned).toHaveLength(1);
    expect(result.endpoint.token).toBe(`token-${spawned[0]!.pid}`);
    expect(await launcher.shutdown()).toEqual({
      stopped: true,
      via: 'SIGTERM',
      reason: 'POST /v1/shutdown returned HTTP 404',
    });
    expect(spawned[0]!.exitCode).toBe(0);
    expect(isAlive(spawned[0]!.pid!)).toBe(false);
    expect(launcher.startedByUs).toBe(false);
  });

  it('sends SIGKILL to a daemon that ignores SIGTERM', async () => {
    const dir = await tempStateDir();
    const { launcher, spawned } = fakeLauncherFor(dir, {
      args: ['--ignore-sigterm'],
      stopTimeoutMs: 500,
    });
    await launcher.ensureRunning();
    expect(await launcher.shutdown()).toEqual({
      stopped: true,
      via: 'SIGKILL',
      reason: 'POST /v1/shutdown returned HTTP 404, and it did not exit within 500 ms of SIGTERM',
    });
    expect(spawned[0]!.signalCode).toBe('SIGKILL');
  });

  it('signals without a request when the API file names another pid', async () => {
    const dir = await tempStateDir();
    const { launcher, spawned } = fakeLauncherFor(dir);
    await launcher.ensureRunning();
    const apiFile = join(dir, 'api.json');
    const api = JSON.parse(readFileSync(apiFile, 'utf8')) as { port: number; pid: number };
    writeFileSync(apiFile, JSON.stringify({ ...api, pid: process.pid }));
    expect(await launcher.shutdown()).toEqual({
      stopped: true,
      via: 'SIGTERM',
      reason: `the API file names pid ${process.pid}, not the started daemon's pid ${spawned[0]!.pid}`,
    });
  });

  it('replaces stale state files of a dead daemon', async () => {
    const dir = await tempStateDir();
    const stale = await startFakeDaemon(dir, 'stale');
    await stale.close();
    const { launcher, spawned } = fakeLauncherFor(dir);
    const result = await launcher.ensureRunning();
    expect(result.started).toBe(true);
    expect(result.endpoint.token).toBe(`token-${spawned[0]!.pid}`);
    await launcher.shutdown();
  });

  it('reports a daemon that exits during startup', async () => {
    const dir = await tempStateDir();
    const { launcher } = fakeLauncherFor(dir, { script: join(dir, 'missing-script.ts') });
    await expect(launcher.ensureRunning()).rejects.toMatchObject({
      code: 'ERR_DAEMON_START_FAILED',
      message: expect.stringContaining('exited during startup'),
    });
    expect(launcher.startedByUs).toBe(false);
  });
});

describe('DaemonLauncher with the real daemon', () => {
  it('stops it through POST /v1/shutdown', { timeout: 90_000 }, async () => {
    const home = await tempStateDir();
    const stateDir = join(home, 'state');
    const localPort = await freePort();
    const profile = fixture.profile('db', localPort, { autoStart: true, mode: 'always-on' });
    writeFileSync(join(home, 'config.json'), JSON.stringify({ version: 2, profiles: [profile] }));
    const { launcher, spawned } = launcherFor(stateDir, () => {
      const child = spawnCli(['daemon'], cliEnv(home));
      child.stdout!.resume();
      child.stderr!.resume();
      return child;
    });
    const { endpoint, started } = await launcher.ensureRunning();
    expect(started).toBe(true);
    expect(endpoint.pid).toBe(spawned[0]!.pid);

    const socket = await openHeldConnection(localPort);
    cleanups.push(() => void socket.destroy());
    const api = new ApiClient({ baseUrl: endpoint.url, token: endpoint.token, timeoutMs: 10_000 });
    const sessionIds = await waitFor('the tunnel to open a session', async () => {
      const tunnels: TunnelStatus[] = await api.listTunnels();
      const ids = tunnels.flatMap((tunnel) => tunnel.sessionIds);
      return ids.length > 0 ? ids : undefined;
    });
    const callsBefore = fixture.emulator.calls.length;

    expect(await launcher.shutdown()).toEqual({ stopped: true, via: 'api' });
    expect(spawned[0]!.exitCode).toBe(0);
    const terminated = terminatedSessionIds(fixture.emulator, callsBefore);
    for (const sessionId of sessionIds) {
      expect(terminated).toContain(sessionId);
    }
    const log = readFileSync(join(stateDir, 'daemon.log'), 'utf8');
    expect(log).toContain('shutdown requested through the control API');
    expect(log).not.toContain('received SIGTERM');
    expect(existsSync(join(stateDir, 'api.json'))).toBe(false);
  });
});
