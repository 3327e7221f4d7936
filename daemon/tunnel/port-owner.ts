// Finds the process that listens on a local TCP port, so ERR_PORT_IN_USE can name it.
// Linux: /proc/net/tcp{,6} gives the socket inode and /proc/<pid>/fd links name its owner.
// Elsewhere, and when /proc shows nothing (another user's process), `lsof` is asked.

import { execFile } from 'node:child_process';
import { readFile, readdir, readlink } from 'node:fs/promises';

export interface PortOwner {
  pid: number;
  /** Command name, e.g. `postgres` or `node`. */
  command: string;
}

const TCP_LISTEN_STATE = '0A';
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
