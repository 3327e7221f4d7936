// One daemon per state directory: an exclusive lock file that names its owner's pid, and the
// probe that checks whether that owner is a bastionless daemon by calling its control API.

import { closeSync, lstatSync, openSync, renameSync, rmSync, utimesSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { processExists, type ApiFile, type BastionlessPaths } from './paths.js';
import { readStateFile, StateFileError } from './state-file.js';

/**
 * Time a daemon has from taking the lock until its control API responds. The `start` command
 * gives up on a new daemon after the same time, so a lock that is older than this and whose
 * owner does not respond on the API belongs to a crashed daemon, or its pid was reused.
 */
export const STARTUP_GRACE_MS = 15_000;
/** Time the probe waits for `GET /v1/status`, in milliseconds. */
export const PROBE_TIMEOUT_MS = 2000;
/** A break lock older than this was left by a process that died while holding it. */
const STALE_BREAK_LOCK_MS = 5000;
const POLL_MS = 100;
/** A lock contains a pid and a newline, and api.json a port, a pid, a URL and a file path. */
const MAX_LOCK_FILE_BYTES = 64;
const MAX_API_FILE_BYTES = 16 * 1024;
const MAX_TOKEN_FILE_BYTES = 1024;

export type DaemonProbe =
  /** The control API accepted the token and reported the pid that owns the lock. */
  | {
      state: 'running';
      pid: number;
      port: number;
      url: string;
      token: string;
      /** Config file the daemon recorded in api.json; undefined for older daemons. */
      configFile?: string;
    }
  /**
   * A live process took or refreshed the lock less than STARTUP_GRACE_MS ago and its API does
   * not respond. This is a daemon that is starting, or stopping after it closed its API.
   */
  | { state: 'transitioning'; pid: number; lockAgeMs: number }
  /**
   * The API port accepted the request but sent no reply within PROBE_TIMEOUT_MS, or it replied
   * but the token file cannot be used to call it. `tokenProblem` then gives the reason.
   */
  | { state: 'unresponsive'; pid: number; port: number; tokenProblem?: string }
  /**
   * No daemon runs. `stalePid` is a live process that a leftover lock names but that is not
   * this daemon, e.g. a pid reused after a crash or a reboot; null when there is none.
   */
  | { state: 'stopped'; stalePid: number | null };

export class DaemonAlreadyRunningError extends Error {
  override readonly name = 'DaemonAlreadyRunningError';
  readonly code = 'ERR_DAEMON_RUNNING';
  constructor(
    readonly pid: number,
    readonly url: string,
  ) {
    super(
      `bastionless is already running (pid ${pid}, control API on ${url.replace(/^http:\/\//, '')})`,
    );
  }
}

interface LockContent {
  /** NaN while the owner has created the file but not yet written its pid. */
  pid: number;
  ageMs: number;
  /** Raw text and mtime, so a breaker removes the lock only if no other process replaced it. */
  text: string;
  mtimeMs: number;
  /**
   * Reason the lock is not a regular file a daemon wrote (a symlink, FIFO, directory or
   * oversized file), or undefined when it is one. Such a lock names no owner and is stale at once.
   */
  invalidBecause?: string;
}

function readLock(lockFile: string): LockContent | null {
  let read: ReturnType<typeof readStateFile>;
  try {
    read = readStateFile(lockFile, MAX_LOCK_FILE_BYTES);
  } catch (error) {
    if (!(error instanceof StateFileError)) {
      throw error;
    }
    const stat = lstatSync(lockFile, { throwIfNoEntry: false });
    if (!stat) {
      return null;
    }
    const ageMs = Date.now() - stat.mtimeMs;
    return {
      pid: Number.NaN,
      ageMs,
      text: '',
      mtimeMs: stat.mtimeMs,
      invalidBecause: error.reason,
    };
  }
  if (read === null) {
    return null;
  }
  const { text, stat } = read;
  return {
    pid: Number.parseInt(text.trim(), 10),
    ageMs: Date.now() - stat.mtimeMs,
    text,
    mtimeMs: stat.mtimeMs,
  };
}

type ApiFileRead =
  | { api: ApiFile; token: string }
  /** api.json is valid but the token file is not a readable regular file of a sane size. */
  | { api: ApiFile; token: null; tokenProblem: string };

/** Reads api.json and the token bounded, so a FIFO or a huge file there cannot stall a probe. */
function readApiFile(paths: BastionlessPaths): ApiFileRead | null {
  let api: ApiFile;
  try {
    const apiText = readStateFile(paths.apiFile, MAX_API_FILE_BYTES)?.text;
    if (apiText === undefined) {
      return null;
    }
    api = JSON.parse(apiText) as ApiFile;
    if (!Number.isInteger(api.port) || !Number.isInteger(api.pid)) {
      return null;
    }
  } catch {
    return null;
  }
  try {
    const token = readStateFile(paths.tokenFile, MAX_TOKEN_FILE_BYTES)?.text.trim();
    return token ? { api, token } : null;
  } catch (error) {
    if (error instanceof StateFileError) {
      return { api, token: null, tokenProblem: error.message };
    }
    return null;
  }
}

/**
 * Returns whether the control API on `port` rejects a request without a token with 401, as a
 * bastionless daemon does. This distinguishes a daemon whose token file was tampered with from a port
 * that another program took over.
 */
async function answersAsControlApi(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/v1/status`, {
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    await response.body?.cancel();
    return response.status === 401;
  } catch {
    return false;
  }
}

type ApiAnswer = { kind: 'ours' } | { kind: 'not-ours' } | { kind: 'timeout' };

/**
 * Asks `GET /v1/status` with the token. Only a 200 reply that reports `expectedPid` proves the
 * process is this daemon: another program on a reused port, or a daemon of another state
 * directory, cannot pass both checks.
 */
async function askControlApi(port: number, token: string, expectedPid: number): Promise<ApiAnswer> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/v1/status`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    if (!response.ok) {
      await response.body?.cancel();
      return { kind: 'not-ours' };
    }
    const body = (await response.json()) as { pid?: unknown };
    return body.pid === expectedPid ? { kind: 'ours' } : { kind: 'not-ours' };
  } catch (error) {
    return (error as Error).name === 'TimeoutError' ? { kind: 'timeout' } : { kind: 'not-ours' };
  }
}

/**
 * Finds out whether a daemon runs on this state directory. The pid in the lock file alone
 * proves nothing, because the OS reuses the pid of a crashed daemon for other processes.
 */
export async function probeDaemon(paths: BastionlessPaths): Promise<DaemonProbe> {
  const lock = readLock(paths.pidFile);
  const state = readApiFile(paths);
  // Without a lock file, the API file's pid is the candidate, as with daemons that other tools
  // start on a state directory they create themselves.
  const pid = lock ? lock.pid : (state?.api.pid ?? Number.NaN);
  const alive = Number.isInteger(pid) && pid > 0 && processExists(pid);
  if (alive && state) {
    if (state.token === null) {
      if (await answersAsControlApi(state.api.port)) {
        const { tokenProblem } = state;
        return { state: 'unresponsive', pid, port: state.api.port, tokenProblem };
      }
    } else {
      const answer = await askControlApi(state.api.port, state.token, pid);
      if (answer.kind === 'ours') {
        const url = `http://127.0.0.1:${state.api.port}`;
        const { configFile } = state.api;
        return { state: 'running', pid, port: state.api.port, url, token: state.token, configFile };
      }
      if (answer.kind === 'timeout') {
        return { state: 'unresponsive', pid, port: state.api.port };
      }
    }
  }
  if (
    lock &&
    lock.invalidBecause === undefined &&
    lock.ageMs < STARTUP_GRACE_MS &&
    (alive || Number.isNaN(lock.pid))
  ) {
    return { state: 'transitioning', pid: lock.pid, lockAgeMs: lock.ageMs };
  }
  return { state: 'stopped', stalePid: alive ? pid : null };
}

/**
 * Removes a lock judged stale, unless another process replaced it since it was read. A second
 * lock file serializes breakers, so one of them cannot remove a lock another one just created.
 */
function breakStaleLock(lockFile: string, stale: LockContent): boolean {
  const breakFile = `${lockFile}.break`;
  let fd: number;
  try {
    fd = openSync(breakFile, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw error;
    }
    const breaker = readLock(breakFile);
    // NOTE: two processes that find the same abandoned break lock can both remove it. The
    // window is the few microseconds between this check and the removal.
    if (breaker && breaker.ageMs > STALE_BREAK_LOCK_MS) {
      rmSync(breakFile, { force: true });
    }
    return false;
  }
  try {
    writeSync(fd, `${process.pid}\n`);
    const current = readLock(lockFile);
    if (current && current.text === stale.text && current.mtimeMs === stale.mtimeMs) {
      // rm cannot remove a directory without deleting what is in it, so it is moved aside.
      if (lstatSync(lockFile, { throwIfNoEntry: false })?.isDirectory()) {
        renameSync(lockFile, `${lockFile}.${Date.now()}.moved`);
      } else {
        rmSync(lockFile, { force: true });
      }
      return true;
    }
    return false;
  } finally {
    closeSync(fd);
    rmSync(breakFile, { force: true });
  }
}

export interface DaemonLock {
  /**
   * Sets the lock's mtime to now. A stopping daemon calls it after closing its API, so that
   * for STARTUP_GRACE_MS a new daemon waits for the release instead of breaking the lock.
   */
  touch(): void;
  /** Removes the lock file if it still names this process; safe to call twice. */
  release(): void;
  /**
   * Returns true while the lock file names this process. A daemon whose start-up took longer
   * than STARTUP_GRACE_MS can have had its lock broken by a newer daemon, and checks this
   * before it announces itself, so two daemons never both run on one state directory.
   */
  isHeld(): boolean;
  /**
   * Stale lock that this daemon removed while taking the lock, so it can log what it ignored.
   * Undefined when the lock file did not exist.
   */
  replacedLock?: StaleLock;
}

/** A lock file that was removed as stale. */
export interface StaleLock {
  /** Pid the lock named; null when it named none. */
  stalePid: number | null;
  /** Reason the file was no daemon's lock at all, e.g. "it is a symbolic link". */
  invalidBecause?: string;
}

/**
 * Takes the lock with an atomic exclusive create (`open` with O_EXCL), so of several daemons
 * started at once exactly one gets it. A lock whose owner is dead, or is alive but did not
 * answer on the control API within STARTUP_GRACE_MS of taking it, is broken and taken over.
 * Throws DaemonAlreadyRunningError when the owner's control API answers. While the owner
 * is still starting, waits up to `waitMs` for the outcome.
 */
export async function acquireDaemonLock(
  paths: BastionlessPaths,
  waitMs = STARTUP_GRACE_MS + PROBE_TIMEOUT_MS,
): Promise<DaemonLock> {
  const lockFile = paths.pidFile;
  const deadline = Date.now() + waitMs;
  let replacedLock: StaleLock | undefined;
  for (;;) {
    try {
      const fd = openSync(lockFile, 'wx', 0o644);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      return {
        touch: () => touchLock(lockFile),
        release: () => releaseLock(lockFile),
        isHeld: () => readLock(lockFile)?.pid === process.pid,
        replacedLock,
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw error;
      }
    }
    const probe = await probeDaemon(paths);
    if (probe.state === 'running') {
      throw new DaemonAlreadyRunningError(probe.pid, probe.url);
    }
    if (probe.state === 'unresponsive') {
      throw new Error(
        `a daemon (pid ${probe.pid}) holds ${lockFile} but its control API on port ${probe.port} does not respond; run \`bastionless status\` to see whether it is suspended or hung and what to do`,
      );
    }
    if (probe.state === 'stopped') {
      const stale = readLock(lockFile);
      if (stale && breakStaleLock(lockFile, stale)) {
        replacedLock = { stalePid: Number.isNaN(stale.pid) ? null : stale.pid };
        if (stale.invalidBecause !== undefined) {
          replacedLock.invalidBecause = stale.invalidBecause;
        }
        continue;
      }
    }
    if (Date.now() > deadline) {
      const owner = probe.state === 'transitioning' ? `pid ${probe.pid}` : 'another process';
      throw new Error(
        `${lockFile} is held by ${owner}, which did not become a ready daemon within ${waitMs / 1000} s; run \`bastionless status\``,
      );
    }
    // The owner is starting or stopping, or another process is breaking or replacing the lock.
    await sleep(POLL_MS);
  }
}

/** Removes the lock only if it names this process, so a stopping daemon cannot remove a successor's lock. */
function releaseLock(lockFile: string): void {
  const lock = readLock(lockFile);
  if (lock && lock.pid === process.pid) {
    rmSync(lockFile, { force: true });
  }
}

function touchLock(lockFile: string): void {
  const lock = readLock(lockFile);
  if (lock && lock.pid === process.pid) {
    const now = new Date();
    utimesSync(lockFile, now, now);
  }
}
