// Finds the process that listens on a local TCP port, so ERR_PORT_IN_USE can name it.
// Linux: /proc/net/tcp{,6} gives the socket inode and /proc/<pid>/fd links name its owner.
// Elsewhere, and when /proc shows nothing (another user's process), `lsof` is asked.
// When the owner is another bastionless daemon, its state directory and config file are
// read too, so the error can name the command that stops it.

import { execFile } from 'node:child_process';
import { readFile, readdir, readlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface PortOwner {
  pid: number;
  /** Command name, e.g. `postgres` or `node`. */
  command: string;
}

/** A bastionless daemon found by the log file it keeps open in its state directory. */
export interface DaemonIdentity {
  stateDir: string;
  /** Config file from the daemon's api.json; undefined when that file does not name it. */
  configFile?: string;
}

const TCP_LISTEN_STATE = '0A';
// File names a daemon creates in its state directory, the same as in daemon/paths.ts.
const DAEMON_LOG_NAME = 'daemon.log';
const DAEMON_PID_NAME = 'daemon.pid';
const DAEMON_API_NAME = 'api.json';
const LSOF_TIMEOUT_MS = 1500;
// Scanning every process can be slow on a busy machine, and the caller reports the
// port in use within a second, so the scan stops after this many processes.
const MAX_PROCESSES_SCANNED = 4000;

/** Returns the inodes of listening sockets on `port` from one /proc/net/tcp{,6} table. */
export function parseListeningInodes(table: string, port: number): string[] {
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes: string[] = [];
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    // Columns: sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    if (fields.length < 10) {
      continue;
    }
    const localPort = fields[1]?.split(':')[1];
    if (localPort === portHex && fields[3] === TCP_LISTEN_STATE && fields[9] !== '0') {
      inodes.push(fields[9] as string);
    }
  }
  return inodes;
}

async function readTable(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return '';
  }
}

async function findOwnerInProc(port: number): Promise<PortOwner | undefined> {
  const tables = await Promise.all([readTable('/proc/net/tcp'), readTable('/proc/net/tcp6')]);
  const inodes = new Set(tables.flatMap((table) => parseListeningInodes(table, port)));
  if (inodes.size === 0) {
    return undefined;
  }
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return undefined;
  }
  const pids = entries.filter((entry) => /^\d+$/.test(entry)).slice(0, MAX_PROCESSES_SCANNED);
  for (const pid of pids) {
    if (await processOwnsInode(pid, inodes)) {
      const command = (await readTable(`/proc/${pid}/comm`)).trim() || 'unknown';
      return { pid: Number(pid), command };
    }
  }
  return undefined;
}

async function processOwnsInode(pid: string, inodes: Set<string>): Promise<boolean> {
  let fds: string[];
  try {
    fds = await readdir(`/proc/${pid}/fd`);
  } catch {
    // Processes of other users, and ones that exited during the scan, cannot be read.
    return false;
  }
  for (const fd of fds) {
    try {
      const link = await readlink(`/proc/${pid}/fd/${fd}`);
      const match = /^socket:\[(\d+)\]$/.exec(link);
      if (match && inodes.has(match[1] as string)) {
        return true;
      }
    } catch {
      // The descriptor closed between readdir and readlink.
    }
  }
  return false;
}

/** Parses `lsof -F pc` output: lines `p<pid>` then `c<command>`. */
export function parseLsofOutput(output: string): PortOwner | undefined {
  let pid: number | undefined;
  for (const line of output.split('\n')) {
    if (line.startsWith('p')) {
      pid = Number(line.slice(1));
    } else if (line.startsWith('c') && pid !== undefined && Number.isInteger(pid)) {
      return { pid, command: line.slice(1) };
    }
  }
  return undefined;
}

function findOwnerWithLsof(port: number): Promise<PortOwner | undefined> {
  return new Promise((resolve) => {
    execFile(
      'lsof',
      ['-nP', `-iTCP:${port}`, '-sTCP:LISTEN', '-F', 'pc'],
      { timeout: LSOF_TIMEOUT_MS },
      (error, stdout) => {
        // lsof exits 1 when nothing matched and is missing on some systems: both mean unknown.
        resolve(error && !stdout ? undefined : parseLsofOutput(String(stdout)));
      },
    );
  });
}

/** Returns the process listening on `port`, or undefined when it cannot be found. */
export async function findPortOwner(port: number): Promise<PortOwner | undefined> {
  if (process.platform === 'linux') {
    const owner = await findOwnerInProc(port);
    if (owner) {
      return owner;
    }
  }
  return findOwnerWithLsof(port);
}

/** Parses `lsof -F n` output: one `n<path>` line per open file. */
export function parseLsofFileNames(output: string): string[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('n'))
    .map((line) => line.slice(1));
}

async function openFilesInProc(pid: number): Promise<string[]> {
  let fds: string[];
  try {
    fds = await readdir(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  const links = await Promise.all(
    fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')),
  );
  return links.filter((link) => link.startsWith('/'));
}

function openFilesWithLsof(pid: number): Promise<string[]> {
  return new Promise((resolve) => {
    execFile(
      'lsof',
      ['-nP', '-a', '-p', String(pid), '-F', 'n'],
      { timeout: LSOF_TIMEOUT_MS },
      (error, stdout) => {
        resolve(error && !stdout ? [] : parseLsofFileNames(String(stdout)));
      },
    );
  });
}

async function readPidFile(file: string): Promise<number | undefined> {
  const pid = Number.parseInt((await readTable(file)).trim(), 10);
  return Number.isInteger(pid) ? pid : undefined;
}

async function readApiFile(apiFile: string): Promise<{ pid?: unknown; configFile?: unknown }> {
  try {
    return JSON.parse(await readFile(apiFile, 'utf8')) as { pid?: unknown; configFile?: unknown };
  } catch {
    return {};
  }
}

/**
 * Returns the state directory and config file of the bastionless daemon running as `pid`, or
 * undefined when `pid` is not one. A daemon keeps `<stateDir>/daemon.log` open, and its
 * `daemon.pid` or `api.json` there must name `pid`, so an unrelated process that has a file of that name
 * open is not taken for a daemon. Reading another user's open files fails, which also
 * returns undefined.
 */
export async function findDaemonIdentity(pid: number): Promise<DaemonIdentity | undefined> {
  const files =
    process.platform === 'linux' ? await openFilesInProc(pid) : await openFilesWithLsof(pid);
  const stateDirs = files
    .filter((file) => basename(file) === DAEMON_LOG_NAME)
    .map((file) => dirname(file));
  for (const stateDir of new Set(stateDirs)) {
    const api = await readApiFile(join(stateDir, DAEMON_API_NAME));
    const pidFile = await readPidFile(join(stateDir, DAEMON_PID_NAME));
    if (pidFile !== pid && api.pid !== pid) {
      continue;
    }
    return typeof api.configFile === 'string'
      ? { stateDir, configFile: api.configFile }
      : { stateDir };
  }
  return undefined;
}
