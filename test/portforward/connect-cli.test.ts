// `bastionless connect` against the emulator: as a real process for the signal and port
// tests, and in-process for argument validation.

import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { runConnect } from '../../daemon/cli/connect.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { TransferServer, listen, transfer, waitFor } from './helpers.js';

const TARGET = 'i-0123456789abcdef0';
const MAIN = join(import.meta.dirname, '../../daemon/cli/main.ts');
const AWS_ENV = {
  AWS_ACCESS_KEY_ID: 'AKIATESTCONNECT',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_REGION: 'us-east-1',
  // Credentials come from the variables above; never look for an instance role.
  AWS_EC2_METADATA_DISABLED: 'true',
};

const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(() => {
  Object.assign(process.env, AWS_ENV);
  delete process.env.AWS_PROFILE;
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

async function emulator(): Promise<Emulator> {
  const started = await startEmulator({ pacing: false });
  cleanups.push(() => started.close());
  return started;
}

/** Runs `bastionless connect` from source and collects its output. */
function spawnConnect(args: string[]): {
  child: ChildProcess;
  output: () => string;
  errors: () => string;
  exited: Promise<number | null>;
} {
  const env: NodeJS.ProcessEnv = { ...process.env, ...AWS_ENV };
  delete env.AWS_PROFILE;
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'connect', ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  cleanups.push(() => {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
    }
  });
  return { child, output: () => stdout, errors: () => stderr, exited };
}

function capture(): { stdout: string[]; stderr: string[]; io: Parameters<typeof runConnect>[1] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    io: {
      stdout: (text) => stdout.push(text),
      stderr: (text) => stderr.push(text),
      signals: new EventEmitter(),
      env: { BASTIONLESS_HOME: process.env.BASTIONLESS_HOME },
    },
  };
}

/** Runs connect in this process to port 80 of the target and waits for its session. */
async function connectInProcess(sim: Emulator) {
  const stdout: string[] = [];
  const io = {
    stdout: (text: string) => void stdout.push(text),
    stderr: () => undefined,
    signals: new EventEmitter(),
    env: { BASTIONLESS_HOME: process.env.BASTIONLESS_HOME },
  };
  const exitCode = runConnect(
    [
      '--target',
      TARGET,
      '--remote-port',
      '80',
      '--local-port',
      '0',
      '--region',
      'us-east-1',
    ].concat(['--endpoint-url', sim.url]),
    io,
  );
  await waitFor(() => stdout.some((line) => /Session \S+ open/.test(line)), 'the session');
  return { stdout, io, exitCode };
}

describe('bastionless connect', () => {
  it('forwards and ends on SIGINT', async () => {
    const sim = await emulator();
    const target = new TransferServer();
    const remotePort = await listen(target.server);
    cleanups.push(() => void target.server.close());
    const run = spawnConnect([
      '--target',
      TARGET,
      '--host',
      '127.0.0.1',
      '--remote-port',
      String(remotePort),
      '--local-port',
      '0',
      '--endpoint-url',
      sim.url,
    ]);
    await waitFor(() => /Session \S+ open/.test(run.output()), 'the session line', 30_000);
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(run.output())![1]);
    const result = await transfer(port, 1024 * 1024, 1024 * 1024);
    await waitFor(() => target.uploads.has(result.downloadKey), 'the server to hash the upload');

    expect(result.downloadOk).toBe(true);
    expect(target.uploads.get(result.downloadKey)!.sha256).toBe(result.uploadSha256);
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
    expect(sim.calls.map((call) => call.operation)).toContain('AmazonSSM.TerminateSession');
    await waitFor(() => sim.sessions[0]!.state === 'terminated', 'the emulator to end it');
    expect(sim.sessions[0]!.terminatedBy).toBe('client-flag');
    expect(sim.sessions[0]!.documentName).toBe('AWS-StartPortForwardingSessionToRemoteHost');
  });

  it('rejects a port in use before StartSession', async () => {
    const sim = await emulator();
    const blocker = createServer();
    const busyPort = await listen(blocker);
    cleanups.push(() => void blocker.close());
    const run = spawnConnect([
      '--target',
      TARGET,
      '--remote-port',
      '5432',
      '--local-port',
      String(busyPort),
      '--endpoint-url',
      sim.url,
    ]);

    expect(await run.exited).toBe(1);
    expect(run.errors()).toContain(`local port 127.0.0.1:${busyPort} is already in use`);
    expect(sim.calls.filter((call) => call.operation === 'AmazonSSM.StartSession')).toEqual([]);
  });

  it('ends cleanly on SIGTERM', async () => {
    const sim = await emulator();
    const { stdout, io, exitCode } = await connectInProcess(sim);
    io.signals.emit('SIGTERM', 'SIGTERM');

    expect(await exitCode).toBe(0);
    expect(stdout.join('')).toMatch(/Listening on 127\.0\.0\.1:\d+/);
    expect(sim.sessions[0]!.documentName).toBe('AWS-StartPortForwardingSession');
    await waitFor(() => sim.sessions[0]!.state === 'terminated', 'the emulator to end it');
  });

  it('exits 0 when the service ends the session', async () => {
    const sim = await emulator();
    const { stdout, exitCode } = await connectInProcess(sim);
    sim.terminateSession(sim.sessions[0]!.sessionId);

    expect(await exitCode).toBe(0);
    expect(stdout.join('')).toContain('ended');
  });

  const help = 'see `bastionless connect --help`';
  const invalid: Array<[string, string[], string]> = [
    ['missing target', ['--remote-port', '80', '--local-port', '0'], `missing --target; ${help}`],
    [
      'bad target',
      ['--target', 'web-1', '--remote-port', '80', '--local-port', '0'],
      'invalid --target web-1: must be a managed node id such as i-0123456789abcdef0 or ' +
        `mi-0123456789abcdef0; ${help}`,
    ],
    [
      'port zero remote',
      ['--target', TARGET, '--remote-port', '0', '--local-port', '0'],
      `invalid --remote-port 0: must be a port 1-65535; ${help}`,
    ],
    [
      'port too large',
      ['--target', TARGET, '--remote-port', '80', '--local-port', '70000'],
      `invalid --local-port 70000: must be a port 0-65535; ${help}`,
    ],
    [
      'negative local port',
      ['--target', TARGET, '--remote-port', '80', '--local-port', '-1'],
      `invalid --local-port -1: must be a port 0-65535; ${help}`,
    ],
    [
      'missing local port',
      ['--target', TARGET, '--remote-port', '80'],
      `missing --local-port; ${help}`,
    ],
    [
      'non-loopback bind',
      ['--target', TARGET, '--remote-port', '80', '--local-port', '0', '--bind', '0.0.0.0'],
      'invalid --bind 0.0.0.0: must be a loopback address such as 127.0.0.1 or ::1, because ' +
        `connect listens on loopback only; ${help}`,
    ],
    [
      'bad endpoint',
      ['--target', TARGET, '--remote-port', '80', '--local-port', '0', '--endpoint-url', 'ftp://x'],
      'invalid --endpoint-url ftp://x: must be an http:// or https:// URL such as ' +
        `http://127.0.0.1:4566; ${help}`,
    ],
    [
      'bad region',
      ['--target', TARGET, '--remote-port', '80', '--local-port', '0', '--region', 'useast1'],
      `invalid --region useast1: must be an AWS region such as eu-west-1; ${help}`,
    ],
    [
      'misspelt option',
      ['--target', TARGET, '--remote-port', '80', '--local-port', '0', '--bnd', '::1'],
      `unknown option --bnd; did you mean --bind? See \`bastionless connect --help\``,
    ],
  ];
  for (const [name, args, message] of invalid) {
    it(`rejects ${name}`, async () => {
      const { stderr, io } = capture();
      const regionArgs = args.includes('--region') ? [] : ['--region', 'us-east-1'];
      const exitCode = await runConnect([...args, ...regionArgs], io);

      expect(exitCode).toBe(2);
      // One line without the help text, worded as in every other command.
      expect(stderr.join('')).toBe(`bastionless: ${message}\n`);
    });
  }

  it('rejects a missing region', async () => {
    const { stderr, io } = capture();
    const exitCode = await runConnect(
      ['--target', TARGET, '--remote-port', '80', '--local-port', '0'],
      {
        ...io,
        env: { HOME: '/nonexistent', AWS_CONFIG_FILE: '/dev/null' },
      },
    );

    expect(exitCode).toBe(2);
    expect(stderr.join('')).toBe(
      'bastionless: missing region: pass --region, set AWS_REGION, or set region in the ' +
        '[default] section of /dev/null\n',
    );
  });
});
