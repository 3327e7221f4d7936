import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { discoverDaemon, type DaemonEndpoint } from '../../electron/model/daemon-client.js';
import { DaemonLauncher, type DaemonProcess } from '../../electron/model/daemon-launcher.js';
import { ApiClient } from '../../ui/src/lib/api.js';
import { startFakeDaemon } from './fake-daemon.js';

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
  const api = new ApiClient({ baseUrl: endpoint.url, token: endpoint.token, timeoutMs: 1_000 });
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

function launcherFor(dir: string, script = FAKE_DAEMON) {
  const spawned: number[] = [];
  const launcher = new DaemonLauncher({
    discover: () =>
      discoverDaemon({ apiFile: join(dir, 'api.json'), tokenFile: join(dir, 'token') }),
    probe,
    spawnDaemon: (): DaemonProcess => {
      const child = spawn(process.execPath, ['--import', 'tsx', script, dir], { stdio: 'ignore' });
      spawned.push(child.pid!);
      cleanups.push(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });
      return { pid: child.pid, kill: (signal) => child.kill(signal), exited: once(child, 'exit') };
    },
    readyTimeoutMs: 20_000,
  });
  return { launcher, spawned };
}

describe('DaemonLauncher', () => {
  it('attaches to a running daemon and leaves it running', async () => {
    const dir = await tempStateDir();
    const daemon = await startFakeDaemon(dir);
    cleanups.push(() => daemon.close());
    const { launcher, spawned } = launcherFor(dir);
    const result = await launcher.ensureRunning();
    expect(result.started).toBe(false);
    expect(result.endpoint.port).toBe(daemon.port);
    expect(launcher.startedByUs).toBe(false);
    expect(await launcher.shutdown()).toBe('left-running');
    expect(spawned).toEqual([]);
    expect(await probe(result.endpoint)).toBe(true);
  });

  it('starts a daemon and stops it on shutdown', async () => {
    const dir = await tempStateDir();
    const { launcher, spawned } = launcherFor(dir);
    const result = await launcher.ensureRunning();
    expect(result.started).toBe(true);
    expect(launcher.startedByUs).toBe(true);
    expect(spawned).toHaveLength(1);
    expect(result.endpoint.token).toBe(`token-${spawned[0]}`);
    expect(await launcher.shutdown()).toBe('stopped');
    expect(isAlive(spawned[0])).toBe(false);
    expect(launcher.startedByUs).toBe(false);
  });

  it('replaces stale state files of a dead daemon', async () => {
    const dir = await tempStateDir();
    const stale = await startFakeDaemon(dir, 'stale');
    await stale.close();
    const { launcher, spawned } = launcherFor(dir);
    const result = await launcher.ensureRunning();
    expect(result.started).toBe(true);
    expect(result.endpoint.token).toBe(`token-${spawned[0]}`);
    await launcher.shutdown();
  });

  it('reports a daemon that exits during startup', async () => {
    const dir = await tempStateDir();
    const { launcher } = launcherFor(dir, join(dir, 'missing-script.ts'));
    await expect(launcher.ensureRunning()).rejects.toMatchObject({
      code: 'ERR_DAEMON_START_FAILED',
      message: expect.stringContaining('exited during startup'),
    });
    expect(launcher.startedByUs).toBe(false);
  });
});
