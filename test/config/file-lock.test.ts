// The config file's lock: a store write waits for a live holder, breaks a lock whose process
// has exited or that is too old, and on timeout names the lock file and the pid and changes
// nothing.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../daemon/config/errors.js';
import { LOCK_TIMEOUT_MS, STALE_LOCK_MS, lockFileOf } from '../../daemon/config/file-lock.js';
import { ConfigStore } from '../../daemon/config/store.js';

const profile = (name: string, localPort: number) => ({
  name,
  region: 'eu-west-1',
  target: 'i-0123456789abcdef0',
  remotePort: 5432,
  localPort,
});

let dir: string;
let file: string;
let lockFile: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bastionless-lock-'));
  file = join(dir, 'config.json');
  lockFile = lockFileOf(file);
  writeFileSync(file, `${JSON.stringify({ version: 2, profiles: [profile('db', 15432)] })}\n`);
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Returns the pid of a process that has exited. */
function exitedPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  return child.pid;
}

describe('config file lock', () => {
  it('breaks a lock of an exited process', () => {
    writeFileSync(lockFile, JSON.stringify({ pid: exitedPid(), time: Date.now() }));
    const store = new ConfigStore({ file });
    store.load();
    store.create(profile('web', 18080));
    expect(store.profiles.map((entry) => entry.name)).toEqual(['db', 'web']);
    expect(existsSync(lockFile)).toBe(false);
  });

  it('breaks a lock older than the limit', () => {
    writeFileSync(
      lockFile,
      JSON.stringify({ pid: process.pid, time: Date.now() - STALE_LOCK_MS - 1000 }),
    );
    const store = new ConfigStore({ file });
    store.load();
    store.remove('db');
    expect(store.profiles).toEqual([]);
    expect(existsSync(lockFile)).toBe(false);
  });

  it('breaks an old lock without an owner', () => {
    writeFileSync(lockFile, '');
    const old = (Date.now() - STALE_LOCK_MS - 1000) / 1000;
    utimesSync(lockFile, old, old);
    const store = new ConfigStore({ file });
    store.load();
    store.remove('db');
    expect(store.profiles).toEqual([]);
  });

  it('times out on a live holder', { timeout: LOCK_TIMEOUT_MS + 10_000 }, () => {
    const lockContent = JSON.stringify({ pid: process.pid, time: Date.now() });
    writeFileSync(lockFile, lockContent);
    const before = readFileSync(file, 'utf8');
    const store = new ConfigStore({ file });
    store.load();
    const started = Date.now();
    let error: unknown;
    try {
      store.create(profile('web', 18080));
    } catch (caught) {
      error = caught;
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(LOCK_TIMEOUT_MS);
    expect(error).toBeInstanceOf(ConfigError);
    const { code, message } = error as ConfigError;
    expect(code).toBe('ERR_CONFIG_LOCKED');
    expect(message).toContain(`config file ${file} is locked by process ${process.pid} (since `);
    expect(message).toContain(`${lockFile} exists after ${LOCK_TIMEOUT_MS / 1000} s of waiting`);
    expect(message).toContain(
      `; run the command again, or delete ${lockFile} if process ${process.pid} is not a bastionless command`,
    );
    expect(readFileSync(file, 'utf8')).toBe(before);
    expect(readFileSync(lockFile, 'utf8')).toBe(lockContent);
  });
});
