// Tampering with the API token file between daemon runs. A token is reused only from a regular
// file of this user with mode 0600 in the format the daemon writes. Every other file must end
// with a fresh 0600 token, a daemon that starts, a rejected old token and no token in the log.

import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rawRequest } from '../api/http.js';
import { runCli } from '../cli/helpers.js';
import {
  createTestHome,
  daemonEnv,
  writeConfig,
  type TestHome,
} from '../reliability/harness/daemon-process.js';
import { readDaemonLog, shutdownDaemon, startDaemonWithin } from './restart-helpers.js';

let home: TestHome;
let tokenFile: string;

beforeAll(() => {
  home = createTestHome('token-file');
  writeConfig(home, []);
  tokenFile = join(home.stateDir, 'token');
});

afterAll(() => {
  home?.remove();
});

// A case that fails leaves its tampered file behind, so each case starts without a token file.
beforeEach(() => {
  rmSync(tokenFile, { recursive: true, force: true });
});

/** Runs a daemon once, so the token file contains a valid token, and returns that token. */
async function runOnce(): Promise<string> {
  const started = await startDaemonWithin(home);
  expect(await shutdownDaemon(started)).toBe(0);
  const token = started.token;
  return token;
}

async function statusOf(port: number, token: string): Promise<number> {
  const response = await rawRequest(port, 'GET', '/v1/status', {
    headers: { authorization: `Bearer ${token}` },
  });
  return response.status;
}

/**
 * Starts a daemon on a tampered token file and checks that it created a fresh 0600 token,
 * rejects `oldToken` and logged `reason` without either token.
 */
async function expectFreshToken(oldToken: string, reason: RegExp): Promise<void> {
  const logStart = readDaemonLog(home).length;
  const started = await startDaemonWithin(home);
  const { port, token } = started;
  try {
    const stat = lstatSync(tokenFile);
    expect(stat.isFile()).toBe(true);
    expect((stat.mode & 0o777).toString(8)).toBe('600');
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(token).not.toBe(oldToken);
    expect(await statusOf(port, oldToken)).toBe(401);
    expect(await statusOf(port, token)).toBe(200);
  } finally {
    expect(await shutdownDaemon(started)).toBe(0);
  }
  const log = readDaemonLog(home).slice(logStart);
  expect(log).toContain('created a new API token file');
  expect(log).toMatch(reason);
  expect(log).not.toContain(oldToken);
  expect(log).not.toContain(token);
}

describe('token file across restarts', () => {
  it('reuses a safe token file', async () => {
    const first = await runOnce();
    const started = await startDaemonWithin(home);
    try {
      expect(started.token).toBe(first);
      expect(await statusOf(started.port, first)).toBe(200);
    } finally {
      await shutdownDaemon(started);
    }
  });

  it('replaces a token file with mode 0644', async () => {
    const old = await runOnce();
    chmodSync(tokenFile, 0o644);
    await expectFreshToken(old, /its mode is 644, not 600/);
  });

  it('replaces a symlink without touching its target', async () => {
    const old = await runOnce();
    const other = join(home.dir, 'other-token');
    writeFileSync(other, `${old}\n`, { mode: 0o600 });
    rmSync(tokenFile);
    symlinkSync(other, tokenFile);
    await expectFreshToken(old, /is a symbolic link/);
    expect(readFileSync(other, 'utf8')).toBe(`${old}\n`);
  });

  it('replaces a directory', async () => {
    const old = await runOnce();
    rmSync(tokenFile);
    mkdirSync(tokenFile);
    writeFileSync(join(tokenFile, 'inside'), old, { mode: 0o600 });
    await expectFreshToken(old, /not a regular file; the directory was moved to /);
    // The directory is kept under another name, because it may hold something of the user's.
    const moved = readdirSync(home.stateDir).filter((name) => /^token\.\d+\.moved$/.test(name));
    expect(moved).toHaveLength(1);
    expect(readFileSync(join(home.stateDir, moved[0]!, 'inside'), 'utf8')).toBe(old);
  });

  it('replaces an empty file', async () => {
    const old = await runOnce();
    writeFileSync(tokenFile, '', { mode: 0o600 });
    await expectFreshToken(old, /not a token this daemon created/);
  });

  it('replaces a file of the wrong format', async () => {
    const old = await runOnce();
    // One character too many, then a character outside base64url.
    writeFileSync(tokenFile, `${old}A\n`, { mode: 0o600 });
    await expectFreshToken(old, /not a token this daemon created/);
    const next = readFileSync(tokenFile, 'utf8').trim();
    writeFileSync(tokenFile, `${next.slice(0, 42)}+\n`, { mode: 0o600 });
    await expectFreshToken(next, /not a token this daemon created/);
  });

  it('replaces a huge sparse file', async () => {
    const old = await runOnce();
    // 600 MiB exceeds the longest string V8 creates; the file is sparse, so it costs no disk.
    truncateSync(tokenFile, 600 * 1024 ** 2);
    await expectFreshToken(old, /larger than/);
  });

  it('replaces a FIFO without blocking', async () => {
    const old = await runOnce();
    rmSync(tokenFile);
    execFileSync('mkfifo', ['-m', '600', tokenFile]);
    await expectFreshToken(old, /not a regular file/);
  });

  it('keeps the CLI from blocking on a FIFO', async () => {
    const started = await startDaemonWithin(home);
    try {
      rmSync(tokenFile);
      execFileSync('mkfifo', ['-m', '600', tokenFile]);
      // Without a readable token the CLI reports why no command can reach the daemon, instead of
      // waiting on the FIFO, and `stop` ends the daemon by signal.
      const result = await runCli(['down', 'any-tunnel'], daemonEnv(home), 10_000);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`the daemon (pid ${started.daemon.child.pid})`);
      expect(result.stderr).toContain(`${tokenFile} was not read because it is not a regular file`);
      expect(result.stderr).toContain('end it with `bastionless stop`');

      const exited = once(started.daemon.child, 'exit');
      const stop = await runCli(['stop'], daemonEnv(home), 20_000);
      expect(stop.code, stop.stderr).toBe(0);
      await exited;
    } finally {
      await shutdownDaemon(started);
    }
  });

  it.skipIf(process.getuid?.() !== 0)('replaces a file owned by another user', async () => {
    const old = await runOnce();
    // 65534 is `nobody` on Linux; only root can give a file away.
    chownSync(tokenFile, 65534, 65534);
    await expectFreshToken(old, /belongs to uid 65534/);
  });
});
