// `start`, `stop` and `status` across restarts with real daemons on 127.0.0.1: the port and
// token a dashboard keeps, the tunnels that come back, and the messages for bad input.

import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TunnelStatus } from '../../daemon/config/types.js';
import {
  cliEnv,
  echoThrough,
  freePort,
  runCli,
  setupEmulatorAndEcho,
  spawnCli,
  waitFor,
} from './helpers.js';

const fixture = setupEmulatorAndEcho();
let home: string;
let env: NodeJS.ProcessEnv;
const servers: Server[] = [];

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'bastionless-restart-'));
  env = cliEnv(home);
});

afterEach(async () => {
  await runCli(['stop'], env).catch(() => undefined);
  for (const server of servers.splice(0)) {
    server.close();
  }
  rmSync(home, { recursive: true, force: true });
});

const STARTED_LINE = /^bastionless started \(pid (\d+), control API on 127\.0\.0\.1:(\d+)\)$/;
const stateFile = (name: string) => join(home, 'state', name);

function writeConfig(profiles: Record<string, unknown>[]): void {
  writeFileSync(join(home, 'config.json'), JSON.stringify({ version: 2, profiles }));
}

async function start(args: string[] = []): Promise<{ pid: number; port: number }> {
  const result = await runCli(['start', ...args], env, 60_000);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  const match = STARTED_LINE.exec(result.stdout.trim());
  expect(match).not.toBeNull();
  return { pid: Number(match![1]), port: Number(match![2]) };
}

async function tunnelsOf(port: number): Promise<TunnelStatus[]> {
  const token = readFileSync(stateFile('token'), 'utf8').trim();
  const response = await fetch(`http://127.0.0.1:${port}/v1/tunnels`, {
    headers: { authorization: `Bearer ${token}` },
  });
  expect(response.status).toBe(200);
  return (await response.json()) as TunnelStatus[];
}

async function stateByName(port: number): Promise<Record<string, string>> {
  const tunnels = await tunnelsOf(port);
  return Object.fromEntries(tunnels.map((tunnel) => [tunnel.name, tunnel.state]));
}

async function listen(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { server, port: (server.address() as { port: number }).port };
}

describe('start --port', () => {
  it('rejects a port out of range', async () => {
    for (const value of ['99999', '0', '65536', 'abc']) {
      const result = await runCli(['start', '--port', value], env);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(
        `bastionless: invalid --port ${value}: must be a port 1-65535; see \`bastionless start --help\`\n`,
      );
    }
  });

  it('names the holder of a busy port', { timeout: 90_000 }, async () => {
    writeConfig([]);
    const busy = await listen();
    const result = await runCli(['start', '--port', String(busy.port)], env, 60_000);
    expect(result.code).toBe(1);
    const [first, second] = result.stderr.trimEnd().split('\n');
    expect(first).toMatch(
      new RegExp(
        `^bastionless: control API port 127\\.0\\.0\\.1:${busy.port} is already in use by .+ \\(pid ${process.pid}\\); choose another --port or stop that process$`,
      ),
    );
    expect(second).toMatch(/^the daemon exited with code 1; see (.+)$/);
    const file = /see (.+)$/.exec(second!)![1]!;
    expect(file).toBe(stateFile('daemon.log'));
    expect(readFileSync(file, 'utf8')).toContain(
      `control API port 127.0.0.1:${busy.port} is already in use`,
    );
  });
});

describe('restart', () => {
  it('keeps port, token and running tunnels', { timeout: 120_000 }, async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    writeConfig([
      fixture.profile('auto', ports[0]!, { autoStart: true }),
      fixture.profile('manual', ports[1]!),
      fixture.profile('idle', ports[2]!),
    ]);
    const first = await start();
    const token = readFileSync(stateFile('token'), 'utf8').trim();
    expect((await runCli(['up', 'manual'], env)).code).toBe(0);
    expect((await runCli(['up', 'idle'], env)).code).toBe(0);
    expect((await runCli(['down', 'idle'], env)).code).toBe(0);

    const stopped = await runCli(['stop'], env, 30_000);
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).not.toContain('failure');
    expect(statSync(stateFile('token')).mode & 0o777).toBe(0o600);

    const second = await start();
    expect(second.pid).not.toBe(first.pid);
    expect(second.port).toBe(first.port);
    expect(readFileSync(stateFile('token'), 'utf8').trim()).toBe(token);
    const states = await waitFor('the restored tunnel to start', async () => {
      const byName = await stateByName(second.port);
      return byName.manual !== 'stopped' && byName.auto !== 'stopped' ? byName : undefined;
    });
    expect(states.idle).toBe('stopped');
    const transfer = await echoThrough(ports[1]!, 64 * 1024);
    expect(transfer.received).toBe(transfer.sent);
    expect(readFileSync(stateFile('daemon.log'), 'utf8')).not.toContain(token);
  });

  it('restores tunnels after SIGKILL', { timeout: 120_000 }, async () => {
    const localPort = await freePort();
    writeConfig([fixture.profile('manual', localPort)]);
    const first = await start();
    expect((await runCli(['up', 'manual'], env)).code).toBe(0);
    await waitFor('the resume file to list the tunnel', async () => {
      try {
        const resume = JSON.parse(readFileSync(stateFile('resume.json'), 'utf8')) as {
          runningTunnels: string[];
        };
        return resume.runningTunnels.includes('manual') ? true : undefined;
      } catch {
        return undefined;
      }
    });
    process.kill(first.pid, 'SIGKILL');
    await waitFor('the killed daemon to exit', async () => {
      try {
        process.kill(first.pid, 0);
        return undefined;
      } catch {
        return true;
      }
    });

    const second = await start();
    await waitFor('the restored tunnel to start', async () =>
      (await stateByName(second.port)).manual !== 'stopped' ? true : undefined,
    );
    const transfer = await echoThrough(localPort, 64 * 1024);
    expect(transfer.received).toBe(transfer.sent);
  });

  it('takes a new port when the last one is busy', { timeout: 120_000 }, async () => {
    writeConfig([]);
    const first = await start();
    expect((await runCli(['stop'], env, 30_000)).code).toBe(0);
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(first.port, '127.0.0.1', resolve));
    servers.push(squatter);
    const second = await start();
    expect(second.port).not.toBe(first.port);
  });

  it('replaces a token file others can read', { timeout: 90_000 }, async () => {
    writeConfig([]);
    await start();
    const token = readFileSync(stateFile('token'), 'utf8').trim();
    expect((await runCli(['stop'], env, 30_000)).code).toBe(0);
    writeFileSync(stateFile('token'), `${token}\n`, { mode: 0o644 });
    chmodSync(stateFile('token'), 0o644);
    await start();
    expect(readFileSync(stateFile('token'), 'utf8').trim()).not.toBe(token);
    expect(statSync(stateFile('token')).mode & 0o777).toBe(0o600);
  });
});

describe('status --config', () => {
  it('rejects a missing file', { timeout: 90_000 }, async () => {
    writeConfig([]);
    await start();
    const missing = join(home, 'nonexistent.json');
    const status = await runCli(['status', '--config', missing], env);
    expect(status.code).toBe(1);
    expect(status.stderr).toBe(
      `bastionless: config file ${missing} does not exist; the running daemon uses ${join(home, 'config.json')}, so pass \`--config ${join(home, 'config.json')}\` or leave --config out\n`,
    );
    expect(status.stdout).toBe('');
  });

  it('lists tunnels under a JSON error', { timeout: 90_000 }, async () => {
    const localPort = await freePort();
    writeConfig([fixture.profile('db', localPort)]);
    await start();
    writeFileSync(
      join(home, 'config.json'),
      '{\n  "version": 2,\n  "profiles": [ { "name": "db", \n',
    );
    const status = await runCli(['status'], env);
    expect(status.code).toBe(1);
    expect(status.stderr).toMatch(/is not valid JSON \(.* at line 4, column 1\);/);
    expect(status.stderr).not.toContain('position');
    const lines = status.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^bastionless is running/);
    expect(lines[1]).toMatch(/^NAME\s+STATE/);
    expect(lines[2]).toMatch(/^db\s+stopped/);
  });
});

describe('daemon --port', () => {
  it('rejects a port out of range', async () => {
    const child = spawnCli(['daemon', '--port', '99999'], env);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.stdout!.resume();
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain('invalid --port 99999: must be a port 1-65535');
  });
});
