import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { DaemonClient, discoverDaemon } from '../../electron/model/daemon-client.js';
import { buildTrayMenu } from '../../electron/model/menu.js';
import { ApiClient } from '../../ui/src/lib/api.js';
import type { WebSocketLike } from '../../ui/src/lib/events.js';
import type { MfaRequest, TunnelStatus } from '../../ui/src/lib/types.js';
import { cliEnv, freePort, setupEmulatorAndEcho, spawnCli } from '../cli/helpers.js';
import { tunnelStatus, waitFor } from '../ui/fixtures.js';
import { startFakeDaemon, type FakeDaemon } from './fake-daemon.js';

const fixture = setupEmulatorAndEcho();

const cleanups: (() => Promise<unknown> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempStateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bastionless-tray-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function mfaRequest(id: string, profile: string): MfaRequest {
  return {
    id,
    profile,
    awsProfile: 'admin',
    mfaSerial: 'arn:aws:iam::123456789012:mfa/alice',
    requestedAt: new Date().toISOString(),
  };
}

function filesIn(dir: string) {
  return { apiFile: join(dir, 'api.json'), tokenFile: join(dir, 'token') };
}

function menuLabels(client: DaemonClient, nowMs?: number): string[] {
  const items = buildTrayMenu({
    tunnels: client.list(),
    daemonReachable: client.reachable,
    startAtLogin: false,
    loginItemSupported: false,
    nowMs,
  });
  return items.flatMap((item) => (item.type === 'separator' ? [] : [item.label]));
}

describe('discoverDaemon', () => {
  it('reads port, pid and token', async () => {
    const dir = await tempStateDir();
    await writeFile(join(dir, 'api.json'), JSON.stringify({ port: 4321, pid: 77 }));
    await writeFile(join(dir, 'token'), 'abc\n');
    expect(await discoverDaemon(filesIn(dir))).toEqual({
      port: 4321,
      token: 'abc',
      pid: 77,
      url: 'http://127.0.0.1:4321',
    });
  });

  it('returns null for missing files', async () => {
    expect(await discoverDaemon(filesIn(await tempStateDir()))).toBeNull();
  });

  it.each([
    ['malformed JSON', '{', 'abc'],
    ['port out of range', '{"port":70000}', 'abc'],
    ['port as text', '{"port":"80"}', 'abc'],
    ['empty token', '{"port":80}', '  \n'],
  ])('returns null for %s', async (_case, api, token) => {
    const dir = await tempStateDir();
    await writeFile(join(dir, 'api.json'), api);
    await writeFile(join(dir, 'token'), token);
    expect(await discoverDaemon(filesIn(dir))).toBeNull();
  });

  it('raises read errors other than a missing file', async () => {
    const dir = await tempStateDir();
    const files = { apiFile: dir, tokenFile: dir };
    await expect(discoverDaemon(files)).rejects.toMatchObject({
      code: 'ERR_STATE_FILE_INVALID',
      reason: 'it is not a regular file',
    });
  });

  it('rejects a FIFO instead of waiting for a writer', async () => {
    const dir = await tempStateDir();
    execFileSync('mkfifo', [join(dir, 'api.json')]);
    await writeFile(join(dir, 'token'), 'abc\n');
    await expect(discoverDaemon(filesIn(dir))).rejects.toMatchObject({
      code: 'ERR_STATE_FILE_INVALID',
    });
  });
});

describe('DaemonClient', () => {
  function startClient(dir: string) {
    const client = new DaemonClient({
      discover: () => discoverDaemon(filesIn(dir)),
      createSocket: (url, protocols) => new WebSocket(url, protocols) as unknown as WebSocketLike,
      retryIntervalMs: 50,
    });
    const reachable: boolean[] = [];
    const states: TunnelStatus[] = [];
    client.on('reachable', (value: boolean) => reachable.push(value));
    client.on('state', (tunnel: TunnelStatus) => states.push(tunnel));
    client.start();
    cleanups.push(() => client.stop());
    return { client, reachable, states };
  }

  /** Resolves once the events websocket is open, which the MFA list read after it marks. */
  function subscribed(client: DaemonClient): Promise<unknown> {
    return once(client, 'mfa-requests');
  }

  it('drops a tunnel on its removed event', async () => {
    const dir = await tempStateDir();
    const daemon = await startFakeDaemon(dir);
    cleanups.push(() => daemon.close());
    daemon.tunnels.push(tunnelStatus({ name: 'db' }), tunnelStatus({ name: 'web' }));
    const { client } = startClient(dir);
    await subscribed(client);
    const listsBefore = daemon.requests.filter((line) => line === 'GET /v1/tunnels').length;
    const removed: string[] = [];
    client.on('removed', (name: string) => removed.push(name));

    daemon.removeTunnel('db');
    await waitFor(() => client.list().length === 1);
    expect(removed).toEqual(['db']);
    expect(client.list().map((tunnel) => tunnel.name)).toEqual(['web']);
    expect(menuLabels(client).some((label) => label.startsWith('db '))).toBe(false);
    const listsAfter = daemon.requests.filter((line) => line === 'GET /v1/tunnels').length;
    expect(listsAfter).toBe(listsBefore);
  });

  it('ignores a removed event for an unknown tunnel', async () => {
    const dir = await tempStateDir();
    const daemon = await startFakeDaemon(dir);
    cleanups.push(() => daemon.close());
    daemon.tunnels.push(tunnelStatus({ name: 'web' }));
    const { client } = startClient(dir);
    await subscribed(client);
    const removed: string[] = [];
    client.on('removed', (name: string) => removed.push(name));

    daemon.removeTunnel('ghost');
    daemon.pushState(tunnelStatus({ name: 'web', state: 'open' }));
    await waitFor(() => client.list()[0]?.state === 'open');
    expect(removed).toEqual([]);
    expect(client.list().map((tunnel) => tunnel.name)).toEqual(['web']);
  });

  it('emits the list as a retry countdown ticks', { timeout: 10_000 }, async () => {
    const dir = await tempStateDir();
    const daemon = await startFakeDaemon(dir);
    cleanups.push(() => daemon.close());
    const { client } = startClient(dir);
    await subscribed(client);
    const labels: string[] = [];
    client.on('tunnels', () => {
      const label = menuLabels(client).find((entry) => entry.startsWith('db '));
      if (label) labels.push(label);
    });

    daemon.pushState(
      tunnelStatus({
        name: 'db',
        state: 'connecting',
        lastError: {
          code: 'ERR_ACCESS_DENIED',
          message: 'Access denied',
          at: new Date().toISOString(),
        },
        nextAttemptAt: new Date(Date.now() + 2_800).toISOString(),
      }),
    );
    await waitFor(() => labels.at(-1) === 'db (127.0.0.1:15432): Connecting', 5_000);
    // A loaded machine may deliver the first event late or run a tick late, so the countdown
    // may start at 2 s or skip a second, but it only ever counts down, then ends.
    const countdown = labels.slice(0, -1).map((label) => {
      const match = /^db \(127\.0\.0\.1:15432\): Connecting, retrying in (\d) s$/.exec(label);
      expect(match, label).not.toBeNull();
      return Number(match![1]);
    });
    expect(countdown.length).toBeGreaterThanOrEqual(2);
    expect(countdown[0]).toBeLessThanOrEqual(3);
    expect(countdown.at(-1)).toBe(1);
    for (let index = 1; index < countdown.length; index += 1) {
      expect(countdown[index]).toBeLessThan(countdown[index - 1]!);
    }
    // No countdown runs any more, so no further list arrives.
    const ended = labels.length;
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(labels).toHaveLength(ended);
  });

  it('waits for a daemon, then follows its events', async () => {
    const dir = await tempStateDir();
    const { client, reachable, states } = startClient(dir);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(client.reachable).toBe(false);

    const daemon = await startFakeDaemon(dir);
    cleanups.push(() => daemon.close());
    daemon.tunnels.push(tunnelStatus({ name: 'db', state: 'stopped' }));
    await waitFor(() => client.reachable);
    expect(reachable).toEqual([true]);
    expect(client.list().map((tunnel) => tunnel.state)).toEqual(['stopped']);

    // Wait until the websocket is subscribed; state events before that are only in the list.
    await waitFor(() => {
      daemon.pushState(tunnelStatus({ name: 'db', state: 'open' }));
      return states.length > 0;
    });
    expect(client.list()[0].state).toBe('open');
  });

  it('rediscovers a daemon restarted on a new port and token', async () => {
    const dir = await tempStateDir();
    const first: FakeDaemon = await startFakeDaemon(dir, 'first');
    const { client, reachable } = startClient(dir);
    await waitFor(() => client.reachable);
    const firstPort = client.endpoint!.port;
    await first.close();
    await waitFor(() => !client.reachable);

    const second = await startFakeDaemon(dir, 'second');
    cleanups.push(() => second.close());
    await waitFor(() => client.reachable);
    expect(reachable).toEqual([true, false, true]);
    expect(client.endpoint!.token).toBe('second');
    expect(client.endpoint!.port).toBe(second.port);
    expect(second.port).not.toBe(firstPort);
  });

  it('reports pending and new MFA requests', async () => {
    const dir = await tempStateDir();
    const daemon = await startFakeDaemon(dir);
    cleanups.push(() => daemon.close());
    const pending = mfaRequest('r1', 'db');
    daemon.mfaRequests.push(pending);
    const { client } = startClient(dir);
    const lists: MfaRequest[][] = [];
    const required: MfaRequest[] = [];
    const settled: [string, string][] = [];
    client.on('mfa-requests', (list: MfaRequest[]) => lists.push(list));
    client.on('mfa-required', (request: MfaRequest) => required.push(request));
    client.on('mfa-settled', (request: MfaRequest, outcome: string) =>
      settled.push([request.id, outcome]),
    );

    // GET /v1/mfa runs once the websocket is open, so later events are not missed.
    await waitFor(() => lists.length > 0);
    expect(lists[0]).toEqual([pending]);
    const next = mfaRequest('r2', 'cache');
    daemon.requireMfa(next);
    await waitFor(() => required.length > 0);
    expect(required[0]).toEqual(next);
    daemon.settleMfa('r1', 'timed-out');
    await waitFor(() => settled.length > 0);
    expect(settled).toEqual([['r1', 'timed-out']]);

    await daemon.close();
    await waitFor(() => !client.reachable);
    expect(lists.at(-1)).toEqual([]);
  });

  it('stays unreachable with a wrong token', async () => {
    const dir = await tempStateDir();
    const daemon = await startFakeDaemon(dir, 'right');
    cleanups.push(() => daemon.close());
    await writeFile(join(dir, 'token'), 'wrong');
    const { client } = startClient(dir);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(client.reachable).toBe(false);
  });
});

describe('DaemonClient with the real daemon', () => {
  it('drops a deleted profile within 2 s', { timeout: 60_000 }, async () => {
    const home = await tempStateDir();
    const stateDir = join(home, 'state');
    await mkdir(stateDir, { recursive: true });
    const profiles = [
      fixture.profile('db', await freePort()),
      fixture.profile('web', await freePort()),
    ];
    await writeFile(join(home, 'config.json'), JSON.stringify({ version: 2, profiles }));
    const daemon = spawnCli(['daemon'], cliEnv(home));
    daemon.stdout!.resume();
    daemon.stderr!.resume();
    cleanups.push(async () => {
      if (daemon.exitCode !== null || daemon.signalCode !== null) return;
      daemon.kill('SIGTERM');
      await once(daemon, 'exit');
    });

    const client = new DaemonClient({
      discover: () => discoverDaemon(filesIn(stateDir)),
      createSocket: (url, protocols) => new WebSocket(url, protocols) as unknown as WebSocketLike,
      retryIntervalMs: 100,
    });
    const removed: string[] = [];
    client.on('removed', (name: string) => removed.push(name));
    const subscribed = once(client, 'mfa-requests');
    client.start();
    cleanups.push(() => client.stop());
    await subscribed;
    expect(
      client
        .list()
        .map((tunnel) => tunnel.name)
        .sort(),
    ).toEqual(['db', 'web']);

    const endpoint = client.endpoint!;
    const api = new ApiClient({ baseUrl: endpoint.url, token: endpoint.token, timeoutMs: 10_000 });
    await api.deleteProfile('db');
    // The 2 s run from the daemon's reply, because a loaded machine can spend them on the
    // request itself, before the tray has anything to react to.
    const deletedAt = Date.now();
    await waitFor(() => !client.list().some((tunnel) => tunnel.name === 'db'), 2_000);
    expect(Date.now() - deletedAt).toBeLessThan(2_000);
    // Only the websocket event reports a removal; a list refresh would not emit `removed`.
    expect(removed).toEqual(['db']);
    expect(client.list().map((tunnel) => tunnel.name)).toEqual(['web']);
    const labels = menuLabels(client);
    expect(labels.some((label) => label.startsWith('db '))).toBe(false);
    expect(labels.some((label) => label.startsWith('web '))).toBe(true);
  });
});
