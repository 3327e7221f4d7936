// An exclusive lock file next to the config file, so that the daemon and every CLI process
// serialize their read-modify-write cycles and no process overwrites a change it never read.

import {
  closeSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { ConfigError } from './errors.js';

/** Time a writer waits for another writer's lock before it gives up, in milliseconds. */
export const LOCK_TIMEOUT_MS = 5000;
/**
 * Age after which a lock counts as left behind even when its pid runs, in milliseconds. A
 * writer holds the lock for one read, validation and fsync'd write, which takes milliseconds,
 * so a lock this old belongs to a hung process or to a reused pid.
 */
export const STALE_LOCK_MS = 10_000;
const FIRST_RETRY_MS = 5;
const MAX_RETRY_MS = 100;

/** Contents of the lock file. */
interface LockOwner {
  pid: number;
  /** Epoch milliseconds when the lock was taken. */
  time: number;
}

export function lockFileOf(file: string): string {
  return `${file}.lock`;
}

/**
 * Runs `action` while this process holds the lock file of `file`, and removes the lock after.
 * Waits up to LOCK_TIMEOUT_MS for another holder and breaks a lock whose pid has exited or
 * that is older than STALE_LOCK_MS. Throws ERR_CONFIG_LOCKED, before `action` runs, on timeout.
 *
 * NOTE: the wait blocks the thread (Atomics.wait), because ConfigStore's API is synchronous.
 * In the daemon this stalls the event loop only while another process writes the file.
 */
export function withFileLock<T>(file: string, action: () => T): T {
  const lockFile = lockFileOf(file);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + LOCK_TIMEOUT_MS;
  let delay = FIRST_RETRY_MS;
  for (;;) {
    if (tryCreateLock(lockFile)) {
      break;
    }
    const owner = readOwner(lockFile);
    if (owner === 'gone') {
      continue;
    }
    if (isStale(lockFile, owner)) {
      breakLock(lockFile, owner);
      continue;
    }
    if (Date.now() >= deadline) {
      throw lockedError(file, lockFile, owner);
    }
    sleepSync(delay);
    delay = Math.min(delay * 2, MAX_RETRY_MS);
  }
  try {
    return action();
  } finally {
    rmSync(lockFile, { force: true });
  }
}

/** Creates the lock file with this process's pid; false when it exists. */
function tryCreateLock(lockFile: string): boolean {
  let fd: number;
  try {
    fd = openSync(lockFile, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      return false;
    }
    throw error;
  }
  try {
    const owner: LockOwner = { pid: process.pid, time: Date.now() };
    writeSync(fd, JSON.stringify(owner));
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Reads the lock's owner: 'gone' when the file disappeared meanwhile, and null when its content
 * is not an owner, e.g. because its writer has not written it yet or crashed before it did.
 */
function readOwner(lockFile: string): LockOwner | null | 'gone' {
  let text: string;
  try {
    text = readFileSync(lockFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return 'gone';
    }
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockOwner>;
    if (typeof parsed.pid === 'number' && typeof parsed.time === 'number') {
      return { pid: parsed.pid, time: parsed.time };
    }
  } catch {
    // The content is half written or foreign, so the owner is unknown.
  }
  return null;
}

/**
 * True when the owner has exited or held the lock longer than STALE_LOCK_MS. A lock without a
 * readable owner gets no pid check, so it is stale only by the age of its last change.
 */
function isStale(lockFile: string, owner: LockOwner | null): boolean {
  if (owner === null) {
    try {
      return Date.now() - statSync(lockFile).mtimeMs > STALE_LOCK_MS;
    } catch {
      return false;
    }
  }
  if (Date.now() - owner.time > STALE_LOCK_MS) {
    return true;
  }
  return !processRuns(owner.pid);
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the pid exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes a stale lock. It is first renamed to a name of its own, so that of two processes
 * that judged the same lock stale, the second cannot delete the fresh lock the first created.
 * A lock that turns out to be another one than `stale` is put back with link, which fails
 * when a third process has created a lock meanwhile.
 */
function breakLock(lockFile: string, stale: LockOwner | null): void {
  const aside = join(
    dirname(lockFile),
    `.${basename(lockFile)}.${process.pid}.${randomBytes(4).toString('hex')}.stale`,
  );
  try {
    renameSync(lockFile, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return;
    }
    throw error;
  }
  const moved = readOwner(aside);
  const same =
    moved === null || stale === null
      ? moved === stale
      : moved !== 'gone' && moved.pid === stale.pid && moved.time === stale.time;
  if (!same) {
    try {
      linkSync(aside, lockFile);
    } catch {
      // NOTE: a third process created a lock meanwhile, so two processes hold it at once. Both
      // write whole files atomically, but the change of one of them can be lost.
    }
  }
  rmSync(aside, { force: true });
}

function lockedError(file: string, lockFile: string, owner: LockOwner | null): ConfigError {
  const holder =
    owner === null
      ? 'an unknown process'
      : `process ${owner.pid} (since ${new Date(owner.time).toISOString()})`;
  const problem = `config file ${file} is locked by ${holder}: ${lockFile} exists after ${LOCK_TIMEOUT_MS / 1000} s of waiting`;
  const fix =
    owner === null
      ? `run the command again, or delete ${lockFile} if no bastionless command is running`
      : `run the command again, or delete ${lockFile} if process ${owner.pid} is not a bastionless command`;
  return new ConfigError('ERR_CONFIG_LOCKED', `${problem}; ${fix}`, {
    reason: `locked by ${holder}`,
    fix,
  });
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}
