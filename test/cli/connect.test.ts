// `bastionless connect` as a real process against the emulator: start-up cancel, the audit
// log entry, the progress lines while the service is gone, and a port that a daemon holds.

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../emulator/index.js';
import {
  REPO_ROOT,
  cliEnv,
  freePort,
  portIsFree,
  runCli,
  waitFor as waitForValue,
} from './helpers.js';

const TARGET = 'i-0123456789abcdef0';
const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

function tempHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'bastionless-connect-'));
  cleanups.push(() => rmSync(home, { recursive: true, force: true }));
  return home;
}

async function emulator(): Promise<Emulator> {
  const started = await startEmulator({ pacing: false });
  let closed = false;
  const close = started.close.bind(started);
  started.close = async () => {
    if (!closed) {
      closed = true;
      await close();
    }
  };
  cleanups.push(() => started.close());
  return started;
}

/**
 * A server that reads a 4-byte big-endian length, then that many bytes, and replies with their
 * SHA-256 in hex. The length header avoids relying on a half-close through the tunnel.
 */
async function hashServer(): Promise<number> {
  const server: Server = createServer((socket) => {
    const hash = createHash('sha256');
    let header = Buffer.alloc(0);
    let remaining = -1;
    socket.on('data', (chunk: Buffer) => {
      let data = chunk;
      if (remaining < 0) {
        header = Buffer.concat([header, data]);
        if (header.length < 4) {
          return;
        }
        remaining = header.readUInt32BE(0);
        data = header.subarray(4);
      }
      hash.update(data);
      remaining -= data.length;
      if (remaining === 0) {
        socket.end(hash.digest('hex'));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as { port: number }).port;
}

function spawnConnect(home: string, args: string[]) {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'daemon/cli/main.ts', 'connect', ...args],
    { cwd: REPO_ROOT, env: cliEnv(home), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
    }
  });
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Sends `bytes` through the tunnel and returns the local and the remote SHA-256. */
async function sendThrough(port: number, bytes: number): Promise<{ sent: string; got: string }> {
  const data = randomBytes(bytes);
  const socket = createConnection(port, '127.0.0.1');
  let reply = '';
  socket.on('data', (chunk: Buffer) => (reply += chunk.toString()));
  const header = Buffer.alloc(4);
  header.writeUInt32BE(bytes);
  socket.write(header);
  socket.write(data);
  await new Promise<void>((resolve, reject) => {
    socket.once('close', () => resolve());
    socket.once('error', reject);
  });
  return { sent: createHash('sha256').update(data).digest('hex'), got: reply };
}

describe('bastionless connect process', () => {
  it('reports SIGINT during start-up and exits 0', { timeout: 60_000 }, async () => {
    const sim = await emulator();
    sim.setDefaultFaults({ handshakeDelayMs: 8000 });
    const run = spawnConnect(tempHome(), [
      '--target',
      TARGET,
      '--remote-port',
      '80',
      '--local-port',
      '0',
      '--endpoint-url',
      sim.url,
    ]);
    await waitFor(() => sim.sessions.length > 0, 'StartSession');
    run.child.kill('SIGINT');
    // A second SIGINT, as npx sends after the terminal's, must not kill the process.
    run.child.kill('SIGINT');

    expect(await run.exited).toBe(0);
    expect(run.stdout()).toContain('SIGINT received during start-up');
    await waitFor(() => sim.sessions[0]!.state === 'terminated', 'the emulator to end it');
  });

  it('records the session in the audit log', { timeout: 60_000 }, async () => {
    const sim = await emulator();
    const remotePort = await hashServer();
    const home = tempHome();
    const run = spawnConnect(home, [
      '--target',
      TARGET,
      '--remote-host',
      '127.0.0.1',
      '--remote-port',
      String(remotePort),
      '--local-port',
      '0',
      '--ssm-endpoint',
      sim.url,
    ]);
    await waitFor(() => /Session \S+ open/.test(run.stdout()), 'the session line');
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(run.stdout())![1]);
    const { sent, got } = await sendThrough(port, 256 * 1024);
    expect(got).toBe(sent);
    run.child.kill('SIGINT');

    expect(await run.exited).toBe(0);
    const lines = readFileSync(join(home, 'state', 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(entry.profile).toBe('connect');
    expect(entry.target).toBe(TARGET);
    expect(entry.remoteHost).toBe('127.0.0.1');
    expect(entry.sessionId).toBe(sim.sessions[0]!.sessionId);
    expect(entry.bytesOut).toBe(256 * 1024 + 4);
    expect(entry.reason).toBe('client: SIGINT received');
  });

  it('prints the cause of failed reconnects', { timeout: 90_000 }, async () => {
    const sim = await emulator();
    const run = spawnConnect(tempHome(), [
      '--target',
      TARGET,
      '--host',
      '127.0.0.1',
      '--remote-port',
      '80',
      '--local-port',
      '0',
      '--endpoint-url',
      sim.url,
    ]);
    await waitFor(() => /Session \S+ open/.test(run.stdout()), 'the session line');
    const port = new URL(sim.url).port;
    await sim.close();
    await waitFor(() => run.stderr().includes('reconnect attempt 1 failed'), 'an attempt line');

    expect(run.stderr()).toContain('websocket lost');
    expect(run.stderr()).toContain('giving up at');
    expect(run.stderr()).toContain(`ECONNREFUSED 127.0.0.1:${port}`);
    expect(run.stderr()).toMatch(/reconnect attempt 1 failed \(ResumeSession\): /);
    expect(run.stderr()).toMatch(/next attempt in \d+\.\d s/);
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
  });
});

/**
 * Starts a daemon in `home` whose tunnel `web` listens on `port`, and returns the daemon's pid.
 * The daemon is stopped after the test.
 */
async function startDaemonWithTunnel(home: string, sim: Emulator, port: number): Promise<number> {
  const profile = {
    name: 'web',
    target: TARGET,
    remotePort: 80,
    localPort: port,
    region: 'us-east-1',
    autoStart: true,
    mode: 'on-demand',
    endpoints: { ssm: sim.url },
  };
  writeFileSync(join(home, 'config.json'), JSON.stringify({ profiles: [profile] }));
  cleanups.push(async () => void (await runCli(['stop'], cliEnv(home))));
  const started = await runCli(['start'], cliEnv(home), 60_000);
  expect(started.code).toBe(0);
  await waitForValue('the daemon to listen on the port', async () =>
    (await portIsFree(port)) ? undefined : true,
  );
  return Number(readFileSync(join(home, 'state', 'daemon.pid'), 'utf8'));
}

describe('bastionless connect with a port in use', () => {
  it('names the daemon that holds it', { timeout: 90_000 }, async () => {
    const sim = await emulator();
    const port = await freePort();
    const daemonHome = tempHome();
    const daemonPid = await startDaemonWithTunnel(daemonHome, sim, port);

    const run = spawnConnect(tempHome(), [
      '--target',
      TARGET,
      '--remote-port',
      '80',
      '--local-port',
      String(port),
      '--endpoint-url',
      sim.url,
    ]);

    expect(await run.exited).toBe(1);
    expect(run.stderr()).toBe(
      `bastionless connect: local port 127.0.0.1:${port} is already in use by another ` +
        `bastionless daemon (pid ${daemonPid}, config ${join(daemonHome, 'config.json')})\n` +
        `Stop that daemon with \`BASTIONLESS_HOME=${daemonHome} bastionless stop\`, ` +
        'or pick another --local-port.\n',
    );
    expect(sim.calls.filter((call) => call.operation === 'AmazonSSM.StartSession')).toEqual([]);
  });

  it('names the tunnel of its own daemon', { timeout: 90_000 }, async () => {
    const sim = await emulator();
    const port = await freePort();
    const home = tempHome();
    const daemonPid = await startDaemonWithTunnel(home, sim, port);

    const run = spawnConnect(home, [
      '--target',
      TARGET,
      '--remote-port',
      '80',
      '--local-port',
      String(port),
      '--endpoint-url',
      sim.url,
    ]);

    expect(await run.exited).toBe(1);
    expect(run.stderr()).toBe(
      `bastionless connect: local port 127.0.0.1:${port} is already in use by tunnel web of ` +
        `the bastionless daemon (pid ${daemonPid})\n` +
        'Stop that tunnel with `bastionless down web`, or pick another --local-port.\n',
    );
    expect(sim.calls.filter((call) => call.operation === 'AmazonSSM.StartSession')).toEqual([]);
  });
});

describe('bastionless connect without credentials', () => {
  /** Runs connect against the emulator with no keys and empty AWS files in a new home. */
  async function connectWithoutKeys(extra: string[]) {
    const home = tempHome();
    const service = await emulator();
    const env = cliEnv(home);
    delete env.AWS_ACCESS_KEY_ID;
    delete env.AWS_SECRET_ACCESS_KEY;
    env.AWS_CONFIG_FILE = join(home, 'aws-config');
    env.AWS_SHARED_CREDENTIALS_FILE = join(home, 'aws-credentials');
    const args = ['connect', '--target', TARGET, '--remote-port', '5432', '--local-port', '0'];
    const result = await runCli([...args, '--endpoint-url', service.url, ...extra], env);
    return { result, env };
  }

  it('points at --aws-profile and AWS_* variables', { timeout: 60_000 }, async () => {
    const { result } = await connectWithoutKeys([]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('ERR_NO_CREDENTIALS: No default AWS credentials found');
    expect(result.stderr).toContain('Pass --aws-profile NAME');
    expect(result.stderr).toContain('AWS_ACCESS_KEY_ID');
    expect(result.stderr).not.toContain('tunnel profile');
    expect(result.stderr).not.toContain('bastionless edit');
  });

  it('names the files of a missing profile', { timeout: 60_000 }, async () => {
    const { result, env } = await connectWithoutKeys(['--aws-profile', 'dev']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `ERR_AWS_PROFILE_NOT_FOUND: AWS profile "dev" not found in ${env.AWS_CONFIG_FILE} or ` +
        `${env.AWS_SHARED_CREDENTIALS_FILE}`,
    );
    expect(result.stderr).toContain('`aws configure --profile dev`');
    expect(result.stderr).toContain('pass another --aws-profile');
    expect(result.stderr).not.toContain('bastionless edit');
  });
});
