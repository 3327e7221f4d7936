import { spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TunnelStatus } from '../../daemon/config/types.js';
import {
  cliEnv,
  echoThrough,
  freePort,
  openHeldConnection,
  portIsFree,
  runCli,
  setupEmulatorAndEcho,
  terminatedSessionIds,
  waitFor,
} from './helpers.js';

const fixture = setupEmulatorAndEcho();
let home: string;
let env: NodeJS.ProcessEnv;
const children: ChildProcess[] = [];

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'bastionless-lifecycle-'));
  env = cliEnv(home);
});

afterEach(async () => {
  await runCli(['stop'], env).catch(() => undefined);
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
    }
  }
  rmSync(home, { recursive: true, force: true });
});

const stateFile = (name: string) => join(home, 'state', name);

function isAlive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Spawns `sleep 120`, a live process that is certainly not a bastionless daemon. */
function spawnSleep(): ChildProcess {
  const child = spawn('sleep', ['120'], { stdio: 'ignore' });
  children.push(child);
  return child;
}

/**
 * Pids of `bastionless daemon` processes whose environment has this test's BASTIONLESS_HOME,
 * read from /proc. The command line separates daemons from helpers that inherit the environment,
 * such as the esbuild service that tsx starts in each process on a transform-cache miss.
 */
function daemonPidsOfHome(): number[] {
  const marker = `BASTIONLESS_HOME=${home}\0`;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const isDaemon = argv.some((arg) => arg.endsWith('main.ts')) && argv.includes('daemon');
      if (isDaemon && `${readFileSync(`/proc/${entry}/environ`, 'utf8')}\0`.includes(marker)) {
        pids.push(Number(entry));
      }
    } catch {
      // The process exited or belongs to another user.
    }
  }
  return pids;
}

/** Writes state files as a crashed daemon leaves them, with the lock an hour old. */
function writeLeftoverState(pid: number, apiPort: number): void {
  mkdirSync(join(home, 'state'), { recursive: true });
  writeFileSync(stateFile('daemon.pid'), `${pid}\n`);
  const hourAgo = new Date(Date.now() - 3_600_000);
  utimesSync(stateFile('daemon.pid'), hourAgo, hourAgo);
  writeFileSync(stateFile('api.json'), JSON.stringify({ port: apiPort, pid }));
  writeFileSync(stateFile('token'), 'token-of-the-crashed-daemon\n', { mode: 0o600 });
}

/** Starts an HTTP server that rejects every request with 401, like a daemon with another token. */
async function startForeignApi(): Promise<{ server: Server; port: number }> {
  const server = createServer((_request, response) => {
    response.writeHead(401, { 'content-type': 'application/json' });
    response.end('{"error":{"code":"ERR_UNAUTHORIZED","message":"invalid bearer token"}}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

function profile(name: string, localPort: number, extra: Record<string, unknown> = {}) {
  return fixture.profile(name, localPort, { autoStart: true, mode: 'always-on', ...extra });
}

function writeConfig(text: string): void {
  writeFileSync(join(home, 'config.json'), text);
}

const RUNNING_LINE =
  /^bastionless is already running \(pid (\d+), control API on 127\.0\.0\.1:(\d+)\)$/;
const STARTED_LINE = /^bastionless started \(pid (\d+), control API on 127\.0\.0\.1:(\d+)\)$/;

describe('bastionless start', () => {
  it('runs one daemon for concurrent starts', { timeout: 90_000 }, async () => {
    writeConfig(JSON.stringify({ version: 2, profiles: [] }));
    const results = await Promise.all([
      runCli(['start'], env, 60_000),
      runCli(['start'], env, 60_000),
      runCli(['start'], env, 60_000),
    ]);
    for (const result of results) {
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
    }
    const lines = results.map((result) => result.stdout.trim());
    const started = lines.filter((line) => STARTED_LINE.test(line));
    const alreadyRunning = lines.filter((line) => RUNNING_LINE.test(line));
    expect(started).toHaveLength(1);
    expect(alreadyRunning).toHaveLength(2);

    const [, pid, port] = STARTED_LINE.exec(started[0]!)!;
    for (const line of alreadyRunning) {
      const [, otherPid, otherPort] = RUNNING_LINE.exec(line)!;
      expect(otherPid).toBe(pid);
      expect(otherPort).toBe(port);
    }
    expect(readFileSync(stateFile('daemon.pid'), 'utf8').trim()).toBe(pid);
    if (process.platform === 'linux') {
      // A start returns once its own child has exited, so a second daemon that is still
      // listed after 10 s is a real one rather than a lost race that is still exiting.
      const pids = await waitFor(
        'every daemon but the winner to exit',
        async () => {
          const found = daemonPidsOfHome();
          return found.length === 1 ? found : undefined;
        },
        10_000,
      ).catch(() => daemonPidsOfHome());
      expect(pids).toEqual([Number(pid)]);
    }
  });

  it('ignores a pid reused by another process', { timeout: 90_000 }, async () => {
    const sleeper = spawnSleep();
    const foreign = await startForeignApi();
    try {
      writeLeftoverState(sleeper.pid!, foreign.port);
      const result = await runCli(['start'], env, 60_000);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const match = STARTED_LINE.exec(result.stdout.trim());
      expect(match).not.toBeNull();
      expect(Number(match![1])).not.toBe(sleeper.pid);
      expect(readFileSync(stateFile('daemon.pid'), 'utf8').trim()).toBe(match![1]);
      expect(isAlive(sleeper)).toBe(true);
    } finally {
      foreign.server.close();
    }
  });
});

describe('bastionless status and stop with a reused pid', () => {
  it('does not treat the process as the daemon', { timeout: 60_000 }, async () => {
    const sleeper = spawnSleep();
    const foreign = await startForeignApi();
    try {
      writeLeftoverState(sleeper.pid!, foreign.port);

      const status = await runCli(['status'], env);
      expect(status.code).toBe(1);
      expect(status.stderr).toContain('the daemon is not running');
      expect(status.stderr).toContain(`process ${sleeper.pid} in `);
      expect(status.stderr).toContain('is not a bastionless daemon');

      const stop = await runCli(['stop'], env);
      expect(stop.code).toBe(0);
      expect(stop.stdout).toContain('the daemon is not running');
      expect(stop.stdout).toContain(`process ${sleeper.pid}`);
      expect(stop.stdout).toContain('left alone');
      // A signal would end `sleep` at once; give it time to be delivered before checking.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(isAlive(sleeper)).toBe(true);
      expect(existsSync(stateFile('daemon.pid'))).toBe(true);
    } finally {
      foreign.server.close();
    }
  });
});

describe('bastionless stop', () => {
  it('terminates every session through the API', { timeout: 120_000 }, async () => {
    const ports = [await freePort(), await freePort()];
    writeConfig(
      JSON.stringify({
        version: 2,
        profiles: [profile('one', ports[0]!), profile('two', ports[1]!, { sessionPool: 2 })],
      }),
    );
    const started = await runCli(['start'], env, 60_000);
    expect(started.code).toBe(0);
    const [, pid, apiPort] = STARTED_LINE.exec(started.stdout.trim())!;

    const sockets = await Promise.all(ports.map((port) => openHeldConnection(port)));
    const transfer = await echoThrough(ports[1]!, 128 * 1024);
    expect(transfer.received).toBe(transfer.sent);
    const token = readFileSync(stateFile('token'), 'utf8').trim();
    const sessionIds = await waitFor('every tunnel to open its sessions', async () => {
      const response = await fetch(`http://127.0.0.1:${apiPort}/v1/tunnels`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const tunnels = (await response.json()) as TunnelStatus[];
      const ids = tunnels.flatMap((tunnel) => tunnel.sessionIds);
      return tunnels.every((tunnel) => tunnel.sessionIds.length > 0) ? ids : undefined;
    });
    expect(sessionIds.length).toBeGreaterThanOrEqual(2);
    const callsBefore = fixture.emulator.calls.length;

    const stopped = await runCli(['stop'], env, 30_000);
    expect(stopped.stderr).toBe('');
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toContain(`the daemon (pid ${pid}) stopped: it closed 2 tunnels`);
    expect(stopped.stdout).not.toContain('SIGTERM');

    const terminated = terminatedSessionIds(fixture.emulator, callsBefore);
    for (const sessionId of sessionIds) {
      expect(terminated).toContain(sessionId);
      expect(fixture.emulator.sessions.find((s) => s.sessionId === sessionId)?.state).toBe(
        'terminated',
      );
    }
    for (const port of [...ports, Number(apiPort)]) {
      expect(await portIsFree(port)).toBe(true);
    }
    expect(existsSync(stateFile('daemon.pid'))).toBe(false);
    expect(existsSync(stateFile('api.json'))).toBe(false);
    expect(readFileSync(stateFile('daemon.log'), 'utf8')).toContain(
      'shutdown requested through the control API',
    );
    sockets.forEach((socket) => socket.destroy());
  });

  it('falls back to SIGTERM when the API fails', { timeout: 60_000 }, async () => {
    // A stand-in daemon that passes the probe but has no shutdown route, as an older release.
    const script = `
      const { createServer } = require('node:http');
      const { writeFileSync } = require('node:fs');
      const state = process.argv[1];
      const server = createServer((request, response) => {
        if (request.headers.authorization !== 'Bearer old-token') {
          response.writeHead(401).end();
        } else if (request.method === 'GET' && request.url === '/v1/status') {
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ pid: process.pid }));
        } else {
          response.writeHead(404).end();
        }
      });
      server.listen(0, '127.0.0.1', () => {
        writeFileSync(state + '/token', 'old-token\\n');
        writeFileSync(state + '/daemon.pid', process.pid + '\\n');
        writeFileSync(state + '/api.json', JSON.stringify({ port: server.address().port, pid: process.pid }));
      });
      process.on('SIGTERM', () => process.exit(0));
    `;
    mkdirSync(join(home, 'state'), { recursive: true });
    const old = spawn(process.execPath, ['-e', script, join(home, 'state')], { stdio: 'ignore' });
    children.push(old);
    await waitFor('the stand-in daemon to write its API file', async () =>
      existsSync(stateFile('api.json')) ? true : undefined,
    );
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
      old.once('exit', (code, signal) => resolve(signal ?? code)),
    );

    const stopped = await runCli(['stop'], env);
    expect(stopped.stderr).toBe('');
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toBe(
      `the daemon (pid ${old.pid}) stopped after SIGTERM, because POST /v1/shutdown returned HTTP 404\n`,
    );
    expect(await exited).toBe(0);
  });
});

describe('bastionless status with an invalid config file', () => {
  it('reports invalid JSON without a daemon', { timeout: 60_000 }, async () => {
    const broken = '{"version": 2, "profiles": [ { "name": "db", ';
    writeConfig(broken);
    const status = await runCli(['status'], env);
    expect(status.code).toBe(1);
    expect(status.stderr).toMatch(
      new RegExp(
        `^bastionless: config file ${join(home, 'config.json')} is not valid JSON \\(.+\\); fix it in an editor, or move it aside and add the profiles again with \`bastionless add\`\\n$`,
      ),
    );
    expect(status.stdout).toBe('bastionless is not running\n');
    expect(readFileSync(join(home, 'config.json'), 'utf8')).toBe(broken);
  });

  it('reports a schema error with a daemon', { timeout: 90_000 }, async () => {
    const broken = `${JSON.stringify({ version: 2, profiles: [{ name: 'db', region: 'us-east-1' }] }, null, 2)}\n`;
    writeConfig(broken);
    const started = await runCli(['start'], env, 60_000);
    expect(started.code).toBe(0);
    const [, pid, port] = STARTED_LINE.exec(started.stdout.trim())!;

    const status = await runCli(['status'], env);
    expect(status.code).toBe(1);
    const [first, ...details] = status.stderr.trimEnd().split('\n');
    expect(first).toBe(
      `bastionless: config file ${join(home, 'config.json')} is invalid: profiles[0].target: profile "db": target is required; use an instance id (i-… or mi-…) or tags as Key=Value, e.g. Name=db, which the config file stores as {"tags": {"Name": "db"}}`,
    );
    expect(details).toContain(
      '  profiles[0].remotePort: profile "db": remotePort is missing; use a port number 1-65535',
    );
    expect(details.at(-1)).toBe(
      'fix it in an editor, or move it aside and add the profiles again with `bastionless add`',
    );
    expect(status.stdout).toMatch(
      new RegExp(
        `^bastionless is running \\(pid ${pid}, control API on 127\\.0\\.0\\.1:${port}\\)`,
      ),
    );
    expect(readFileSync(join(home, 'config.json'), 'utf8')).toBe(broken);

    const stopped = await runCli(['stop'], env);
    expect(stopped.code).toBe(0);
    expect(readFileSync(join(home, 'config.json'), 'utf8')).toBe(broken);
  });
});
