// Corrupt resume and lock files left for the next daemon. The daemon must start, log what it
// ignored, restore no tunnel from a broken resume file, and never take an unrelated process
// that a leftover lock names for itself.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import {
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TunnelStatus } from '../../daemon/config/types.js';
import { probeDaemon } from '../../daemon/instance-lock.js';
import { resolvePaths, processExists } from '../../daemon/paths.js';
import { freePort, runCli } from '../cli/helpers.js';
import {
  createTestHome,
  daemonEnv,
  writeConfig,
  type TestHome,
} from '../reliability/harness/daemon-process.js';
import {
  readDaemonLog,
  shutdownDaemon,
  startDaemonWithin,
  type StartedDaemon,
} from './restart-helpers.js';

const PROFILE = 'db';

let home: TestHome;
let resumeFile: string;
let lockFile: string;
let running: StartedDaemon | undefined;
/** Control API port the resume files name; the daemon takes it when it is free. */
let apiPort: number;

beforeAll(async () => {
  home = createTestHome('state-files');
  // The emulator URL is never dialed: an on-demand tunnel opens a session on its first client.
  writeConfig(home, [
    {
      name: PROFILE,
      localPort: await freePort(),
      remotePort: 5432,
      emulatorUrl: 'http://127.0.0.1:9',
      mode: 'on-demand',
    },
  ]);
  // autoStart off, so only the resume file can start the tunnel.
  const config = JSON.parse(readFileSync(home.configFile, 'utf8')) as {
    profiles: Array<{ autoStart: boolean }>;
  };
  config.profiles[0]!.autoStart = false;
  writeFileSync(home.configFile, JSON.stringify(config));
  apiPort = await freePort();
  resumeFile = join(home.stateDir, 'resume.json');
  lockFile = join(home.stateDir, 'daemon.pid');
  mkdirSync(home.stateDir, { recursive: true, mode: 0o700 });
});

afterAll(() => {
  home?.remove();
});

// Each case starts from state files of its own, and a failed case leaves no daemon running.
beforeEach(() => {
  for (const file of [resumeFile, lockFile, join(home.stateDir, 'api.json')]) {
    rmSync(file, { recursive: true, force: true });
  }
});

afterEach(async () => {
  if (running) {
    await shutdownDaemon(running);
  }
  running = undefined;
});

/** Starts a daemon and returns it with the log lines it wrote. */
async function startAndReadLog(): Promise<{ started: StartedDaemon; log: () => string }> {
  const logStart = readDaemonLog(home).length;
  running = await startDaemonWithin(home);
  return { started: running, log: () => readDaemonLog(home).slice(logStart) };
}

async function tunnelState(started: StartedDaemon): Promise<string | undefined> {
  const { body } = await started.daemon.request<TunnelStatus[]>('/v1/tunnels');
  return body.find((status) => status.name === PROFILE)?.state;
}

function resumeDocument(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    version: 1,
    apiPort,
    configFile: home.configFile,
    runningTunnels: [PROFILE],
    ...overrides,
  });
}

/** Sets a file's times 60 s back, past the 15 s a starting daemon may hold the lock unanswered. */
function age(file: string): void {
  const past = new Date(Date.now() - 60_000);
  utimesSync(file, past, past);
}

describe('resume file', () => {
  it('restores a tunnel from a valid file', async () => {
    writeFileSync(resumeFile, resumeDocument(), { mode: 0o600 });
    const { started } = await startAndReadLog();
    expect(await tunnelState(started)).toBe('listening');
    expect(started.port).toBe(apiPort);
  });

  // Contents are functions because the table is built before beforeAll creates the home.
  it.each([
    ['garbage', () => '\u0000\u00ff garbage {{{'],
    ['truncated JSON', () => resumeDocument().slice(0, 40)],
    ['null', () => 'null'],
    ['an array', () => '[]'],
    ['a wrong version', () => resumeDocument({ version: 2 })],
    ['a string list', () => resumeDocument({ runningTunnels: PROFILE })],
    ['numbers as names', () => resumeDocument({ runningTunnels: [1, 2] })],
    ['a port out of range', () => resumeDocument({ apiPort: 70_000 })],
    ['a config file number', () => resumeDocument({ configFile: 7 })],
  ])('ignores a file with %s', async (_label, content) => {
    writeFileSync(resumeFile, content(), { mode: 0o600 });
    const { started, log } = await startAndReadLog();
    expect(await tunnelState(started)).toBe('stopped');
    expect(log()).toContain('reading the resume file failed; no tunnels are restored');
  });

  it('names profiles that no longer exist', async () => {
    writeFileSync(resumeFile, resumeDocument({ runningTunnels: ['gone-1', PROFILE] }));
    const { started, log } = await startAndReadLog();
    expect(await tunnelState(started)).toBe('listening');
    expect(log()).toMatch(/"tunnel":"gone-1".*not restoring a tunnel whose profile is gone/);
  });

  it('rejects a huge list of names', async () => {
    const names = Array.from({ length: 100_000 }, (_, index) => `gone-${index}`);
    writeFileSync(resumeFile, resumeDocument({ runningTunnels: [...names, PROFILE] }));
    const { started, log } = await startAndReadLog();
    expect(await tunnelState(started)).toBe('stopped');
    expect(log()).toContain('reading the resume file failed; no tunnels are restored');
    expect(log()).not.toContain('not restoring a tunnel whose profile is gone');
  });

  it('rejects more names than profiles', async () => {
    // 257 names are under the size limit but over the 256 profiles a config file may have.
    const names = Array.from({ length: 256 }, (_, index) => `g${index}`);
    writeFileSync(resumeFile, resumeDocument({ runningTunnels: [...names, PROFILE] }));
    const { started, log } = await startAndReadLog();
    expect(await tunnelState(started)).toBe('stopped');
    expect(log()).toContain('lists 257 tunnels; a config file has at most 256');
  });

  it('ignores a FIFO without blocking', async () => {
    execFileSync('mkfifo', ['-m', '600', resumeFile]);
    const { started, log } = await startAndReadLog();
    expect(await tunnelState(started)).toBe('stopped');
    expect(log()).toContain('not a regular file');
  });

  // A link to the token file would put the token's first characters into the JSON parse
  // error, and from there into the log.
  it.each([
    ['a symlink', symlinkSync, 'is a symbolic link'],
    ['a hard link', linkSync, 'is not valid JSON'],
  ])('ignores %s to the token file', async (_label, link, reason) => {
    await shutdownDaemon(await startDaemonWithin(home));
    const tokenFile = join(home.stateDir, 'token');
    const token = readFileSync(tokenFile, 'utf8').trim();
    rmSync(resumeFile, { force: true });
    link(tokenFile, resumeFile);
    const { started, log } = await startAndReadLog();
    expect(await tunnelState(started)).toBe('stopped');
    expect(log()).toContain(reason);
    expect(log()).not.toContain(token.slice(0, 8));
  });
});

describe('open-session record', () => {
  const sessionsFile = () => join(home.stateDir, 'sessions.json');

  afterEach(() => {
    rmSync(sessionsFile(), { recursive: true, force: true });
  });

  it('ignores a FIFO without blocking', async () => {
    execFileSync('mkfifo', ['-m', '600', sessionsFile()]);
    const { started, log } = await startAndReadLog();
    expect(await tunnelState(started)).toBe('stopped');
    expect(log()).toContain('reading the open-session record failed');
    expect(log()).toContain('not a regular file');
  });

  it('keeps a linked token out of the log', async () => {
    await shutdownDaemon(await startDaemonWithin(home));
    const token = readFileSync(join(home.stateDir, 'token'), 'utf8').trim();
    linkSync(join(home.stateDir, 'token'), sessionsFile());
    const { log } = await startAndReadLog();
    expect(log()).toContain('the open-session record is not JSON');
    expect(log()).not.toContain(token.slice(0, 8));
  });
});

describe('lock file', () => {
  let unrelated: ChildProcess | undefined;

  afterEach(async () => {
    if (unrelated && unrelated.exitCode === null && unrelated.signalCode === null) {
      unrelated.kill('SIGKILL');
      await once(unrelated, 'exit');
    }
    unrelated = undefined;
  });

  /** Starts a process that is not a daemon; `sleep 60` ends by itself if teardown never runs. */
  async function startUnrelated(): Promise<ChildProcess> {
    unrelated = spawn('sleep', ['60'], { stdio: 'ignore' });
    await once(unrelated, 'spawn');
    return unrelated;
  }

  /** Starts a daemon and checks that it replaced the lock and logged `replaced`. */
  async function expectLockTakenOver(replaced: RegExp): Promise<void> {
    const { started, log } = await startAndReadLog();
    const lock = lstatSync(lockFile);
    expect(lock.isFile()).toBe(true);
    expect(readFileSync(lockFile, 'utf8').trim()).toBe(String(started.daemon.pid));
    expect(log()).toMatch(replaced);
  }

  it('takes over a lock of garbage', async () => {
    writeFileSync(lockFile, 'not a pid\n');
    age(lockFile);
    await expectLockTakenOver(/"stalePid":null,"msg":"replaced a stale daemon lock"/);
  });

  it('leaves alone an unrelated process it names', async () => {
    const other = await startUnrelated();
    writeFileSync(lockFile, `${other.pid}\n`);
    // A leftover API file that names the same process and a port with nothing on it.
    writeFileSync(
      join(home.stateDir, 'api.json'),
      JSON.stringify({ port: await freePort(), pid: other.pid, url: 'http://127.0.0.1:1' }),
    );
    age(lockFile);
    const probe = await probeDaemon(resolvePaths({ env: { BASTIONLESS_HOME: home.dir } }));
    expect(probe).toEqual({ state: 'stopped', stalePid: other.pid });
    const stop = await runCli(['stop'], daemonEnv(home), 20_000);
    expect(stop.code).toBe(0);
    expect(stop.stdout).toContain(
      `process ${other.pid} in ${lockFile} is not a bastionless daemon`,
    );
    await expectLockTakenOver(new RegExp(`"stalePid":${other.pid},"msg":"replaced a stale`));
    expect(await shutdownDaemon(running!)).toBe(0);
    running = undefined;
    expect(processExists(other.pid!)).toBe(true);
    expect(other.signalCode).toBeNull();
  });

  it('takes over a symlink without touching its target', async () => {
    const target = join(home.dir, 'pid-target');
    // A fresh target: a lock that a starting daemon wrote less than 15 s ago would be waited for.
    writeFileSync(target, '1\n');
    symlinkSync(target, lockFile);
    await expectLockTakenOver(/"invalidBecause":"it is a symbolic link"/);
    expect(readFileSync(target, 'utf8')).toBe('1\n');
  });

  it('takes over a FIFO without blocking', async () => {
    execFileSync('mkfifo', ['-m', '600', lockFile]);
    await expectLockTakenOver(/"invalidBecause":"it is not a regular file"/);
  });

  it('takes over a directory', async () => {
    mkdirSync(lockFile);
    await expectLockTakenOver(/"invalidBecause":"it is not a regular file"/);
  });
});
