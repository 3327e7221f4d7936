import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { createConnection, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TunnelStatus } from '../../daemon/config/types.js';
import {
  cliEnv,
  echoThrough,
  freePort,
  portIsFree,
  runCli,
  setupEmulatorAndEcho,
  sha256,
  spawnCli,
  waitFor,
} from './helpers.js';

const fixture = setupEmulatorAndEcho();
const { profile } = fixture;
let home: string;
let env: NodeJS.ProcessEnv;
let daemon: ChildProcess | undefined;

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'bastionless-daemon-'));
  env = cliEnv(home);
});

afterEach(() => {
  if (daemon && daemon.exitCode === null && daemon.signalCode === null) {
    daemon.kill('SIGKILL');
  }
  daemon = undefined;
  rmSync(home, { recursive: true, force: true });
});

function writeConfig(text: string): void {
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, 'config.json'), text);
}

function startForeground(): ChildProcess {
  const child = spawnCli(['daemon'], env);
  child.stdout!.resume();
  child.stderr!.resume();
  return child;
}

async function apiOf(): Promise<{ port: number; token: string }> {
  return waitFor(
    'the daemon API file',
    async () => {
      try {
        const api = JSON.parse(readFileSync(join(home, 'state', 'api.json'), 'utf8')) as {
          port: number;
        };
        const token = readFileSync(join(home, 'state', 'token'), 'utf8').trim();
        return { port: api.port, token };
      } catch {
        return undefined;
      }
    },
    30_000,
  );
}

async function getJson<T>(api: { port: number; token: string }, path: string): Promise<T> {
  const response = await fetch(`http://127.0.0.1:${api.port}${path}`, {
    headers: { authorization: `Bearer ${api.token}` },
  });
  expect(response.status).toBe(200);
  return (await response.json()) as T;
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; at: number }> {
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, at: Date.now() })));
}

/** Opens a connection and checks one echo round trip, leaving the connection open. */
async function openHeldConnection(port: number): Promise<Socket> {
  const socket = createConnection({ host: '127.0.0.1', port });
  const payload = Buffer.from('held connection payload');
  const echoed = await new Promise<Buffer>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('no echo on the held connection within 15 s')),
      15_000,
    );
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(timer);
      resolve(chunk);
    });
    socket.once('error', reject);
    socket.write(payload);
  });
  expect(sha256(echoed)).toBe(sha256(payload));
  socket.on('error', () => {});
  return socket;
}

describe('daemon process', () => {
  it('frees every port within 2 s of SIGTERM', { timeout: 90_000 }, async () => {
    const ports = [await freePort(), await freePort()];
    writeConfig(
      JSON.stringify({
        version: 2,
        profiles: [
          profile('one', ports[0]!, { autoStart: true }),
          profile('two', ports[1]!, { autoStart: true, mode: 'always-on' }),
        ],
      }),
    );
    daemon = startForeground();
    const api = await apiOf();
    await waitFor(
      'both tunnels to listen',
      async () => {
        const tunnels = await getJson<TunnelStatus[]>(api, '/v1/tunnels');
        return tunnels.length === 2 && tunnels.every((t) => t.state !== 'stopped')
          ? true
          : undefined;
      },
      30_000,
    );

    const heldSockets = await Promise.all(ports.map((port) => openHeldConnection(port)));
    const transfer = await echoThrough(ports[0]!, 64 * 1024);
    expect(transfer.received).toBe(transfer.sent);
    const sessionsBefore = fixture.emulator.sessions
      .filter((s) => s.state === 'connected')
      .map((s) => s.sessionId);
    expect(sessionsBefore.length).toBeGreaterThanOrEqual(2);
    expect(existsSync(join(home, 'state', 'sessions.json'))).toBe(true);

    const exited = exitOf(daemon);
    const signalledAt = Date.now();
    daemon.kill('SIGTERM');
    const { code, at } = await exited;

    expect(code).toBe(0);
    expect(at - signalledAt).toBeLessThan(2000);
    for (const port of [...ports, api.port]) {
      expect(await portIsFree(port)).toBe(true);
    }
    for (const sessionId of sessionsBefore) {
      const record = fixture.emulator.sessions.find((s) => s.sessionId === sessionId);
      expect(record?.state).toBe('terminated');
    }
    expect(existsSync(join(home, 'state', 'daemon.pid'))).toBe(false);
    expect(existsSync(join(home, 'state', 'sessions.json'))).toBe(false);
    heldSockets.forEach((socket) => socket.destroy());
  });

  it('survives a corrupted config file', { timeout: 90_000 }, async () => {
    const corrupted = '{"version": 2, "profiles": [ { "name": "db", ';
    writeConfig(corrupted);
    daemon = startForeground();
    const api = await apiOf();

    const status = await getJson<{ configError: { code: string; message: string } | null }>(
      api,
      '/v1/status',
    );
    expect(status.configError?.code).toBe('ERR_CONFIG_PARSE');
    expect(await getJson<TunnelStatus[]>(api, '/v1/tunnels')).toEqual([]);

    const response = await fetch(`http://127.0.0.1:${api.port}/v1/profiles`, {
      method: 'POST',
      headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(profile('db', await freePort())),
    });
    expect(response.status).toBe(409);
    expect(readFileSync(join(home, 'config.json'), 'utf8')).toBe(corrupted);

    const localPort = await freePort();
    writeConfig(JSON.stringify({ version: 2, profiles: [profile('db', localPort)] }));
    const tunnels = await waitFor('the fixed config to apply', async () => {
      const list = await getJson<TunnelStatus[]>(api, '/v1/tunnels');
      return list.length === 1 ? list : undefined;
    });
    expect(tunnels[0]?.name).toBe('db');
    const fixed = await getJson<{ configError: unknown }>(api, '/v1/status');
    expect(fixed.configError).toBeNull();

    const created = await fetch(`http://127.0.0.1:${api.port}/v1/profiles`, {
      method: 'POST',
      headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(profile('cache', await freePort())),
    });
    expect(created.status).toBe(201);
    const names = await waitFor('the profile created through the API to apply', async () => {
      const list = await getJson<TunnelStatus[]>(api, '/v1/tunnels');
      return list.length === 2 ? list.map((tunnel) => tunnel.name).sort() : undefined;
    });
    expect(names).toEqual(['cache', 'db']);
  });

  it('stops in order on SIGTERM during start-up', { timeout: 60_000 }, async () => {
    writeConfig(JSON.stringify({ version: 2, profiles: [] }));
    daemon = startForeground();
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      daemon!.once('exit', (code, signal) => resolve([code, signal])),
    );
    // `stop` may signal as soon as api.json exists, which is before start-up has finished.
    const apiFile = join(home, 'state', 'api.json');
    const deadline = Date.now() + 30_000;
    while (!existsSync(apiFile) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(existsSync(apiFile)).toBe(true);
    daemon.kill('SIGTERM');

    const [code, signal] = await exited;
    expect(signal).toBeNull();
    expect(code).toBe(0);
    expect(readFileSync(join(home, 'state', 'daemon.log'), 'utf8')).toContain('received SIGTERM');
    expect(existsSync(apiFile)).toBe(false);
  });

  it('rejects a second daemon on one state directory', { timeout: 60_000 }, async () => {
    writeConfig(JSON.stringify({ version: 2, profiles: [] }));
    daemon = startForeground();
    const api = await apiOf();
    const second = await runCli(['daemon'], env);
    expect(second.code).toBe(3);
    expect(second.stderr).toBe(
      `bastionless: another daemon runs on this state directory (pid ${daemon.pid}, control API on 127.0.0.1:${api.port}); stop it with \`bastionless stop\`\n`,
    );
    expect(readFileSync(join(home, 'state', 'daemon.pid'), 'utf8').trim()).toBe(String(daemon.pid));
  });

  it('terminates sessions a killed daemon left open', { timeout: 90_000 }, async () => {
    const localPort = await freePort();
    writeConfig(
      JSON.stringify({ version: 2, profiles: [profile('db', localPort, { autoStart: true })] }),
    );
    daemon = startForeground();
    await apiOf();
    const heldSocket = await waitFor(
      'the tunnel to accept',
      async () => {
        try {
          return await openHeldConnection(localPort);
        } catch {
          return undefined;
        }
      },
      30_000,
    );
    const recorded = await waitFor('the session id to be recorded', async () => {
      try {
        const file = JSON.parse(readFileSync(join(home, 'state', 'sessions.json'), 'utf8')) as {
          sessions: { sessionId: string }[];
        };
        return file.sessions.length > 0 ? file.sessions : undefined;
      } catch {
        return undefined;
      }
    });
    const exited = exitOf(daemon);
    daemon.kill('SIGKILL');
    await exited;
    heldSocket.destroy();
    const leftover = recorded[0]!.sessionId;
    expect(fixture.emulator.sessions.find((s) => s.sessionId === leftover)?.state).not.toBe(
      'terminated',
    );

    rmSync(join(home, 'state', 'api.json'));
    daemon = startForeground();
    await apiOf();
    await waitFor('the leftover session to be terminated', async () =>
      fixture.emulator.sessions.find((s) => s.sessionId === leftover)?.state === 'terminated'
        ? true
        : undefined,
    );
  });
});
