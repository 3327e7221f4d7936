// The CLI message for a daemon that owns the state directory lock but whose control API does
// not respond: whether the process is suspended or may be hung, and the command that fixes it.
// `start`, `stop`, `status` and every command that sends requests to the daemon share this text.

import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { PROBE_TIMEOUT_MS } from '../instance-lock.js';
import { CliError } from './errors.js';

/** The pid in the lock file, and the control API port that accepted a request but sent no reply. */
export interface UnresponsiveDaemon {
  pid: number;
  port: number;
  /** Reason the token file cannot be used, when that and not a silent API is the problem. */
  tokenProblem?: string;
}

/**
 * Scheduling state of a process. `suspended` follows SIGSTOP, SIGTSTP (Ctrl-Z) or a laptop's
 * freeze of the process, and `traced` means a debugger or tracer keeps it stopped. `other` is any
 * state that runs or waits, and `unknown` applies where the OS has no /proc or the read failed.
 */
export type ProcessCondition = 'suspended' | 'traced' | 'other' | 'unknown';

/** Reads a file as text; passed in so tests can supply /proc contents. */
export type ReadTextFile = (file: string) => string;

export interface ProcessInspector {
  platform: NodeJS.Platform;
  readTextFile: ReadTextFile;
}

const SYSTEM_INSPECTOR: ProcessInspector = {
  platform: process.platform,
  readTextFile: (file) => readFileSync(file, 'utf8'),
};

/**
 * Extracts the state letter from a /proc/PID/stat line, e.g. `T` from `1134 (node) T 1 ...`.
 * The command name in brackets may itself contain spaces and `)`, so the state is the first
 * field after the last `)`. Returns null for a line that does not have that shape.
 */
export function parseProcStatState(line: string): string | null {
  const end = line.lastIndexOf(')');
  if (end < 0) {
    return null;
  }
  const match = /^ ([A-Za-z]) /.exec(line.slice(end + 1));
  return match ? match[1]! : null;
}

/** Maps a /proc state letter to a condition; `T` is stopped by a signal, `t` by ptrace. */
export function conditionFromState(state: string | null): ProcessCondition {
  if (state === 'T') {
    return 'suspended';
  }
  if (state === 't') {
    return 'traced';
  }
  return state === null ? 'unknown' : 'other';
}

/** Reads the scheduling state of `pid` from /proc on Linux; `unknown` on other platforms. */
export function processCondition(
  pid: number,
  inspector: ProcessInspector = SYSTEM_INSPECTOR,
): ProcessCondition {
  if (inspector.platform !== 'linux') {
    return 'unknown';
  }
  try {
    return conditionFromState(parseProcStatState(inspector.readTextFile(`/proc/${pid}/stat`)));
  } catch {
    // The process exited between the probe and this read.
    return 'unknown';
  }
}

/** Problem sentence and next step, printed as the error and its detail line. */
export interface UnresponsiveText {
  problem: string;
  nextStep: string;
}

/** Words the problem and the next step for the daemon's condition. */
export function describeUnresponsiveDaemon(
  daemon: UnresponsiveDaemon,
  condition: ProcessCondition,
): UnresponsiveText {
  const { pid, port } = daemon;
  const api = `its control API on 127.0.0.1:${port}`;
  if (daemon.tokenProblem !== undefined) {
    return {
      problem: `the daemon (pid ${pid}) holds the state directory, but no command can use ${api}: ${daemon.tokenProblem}`,
      nextStep:
        'end it with `bastionless stop`, then run `bastionless start`, which writes a new token',
    };
  }
  if (condition === 'suspended') {
    return {
      problem: `the daemon (pid ${pid}) holds the state directory but is suspended (process state T, as after SIGSTOP or Ctrl-Z), so ${api} does not respond`,
      nextStep: `resume it with \`kill -CONT ${pid}\`, or end it with \`bastionless stop\``,
    };
  }
  if (condition === 'traced') {
    return {
      problem: `the daemon (pid ${pid}) holds the state directory but is stopped by a debugger or tracer (process state t), so ${api} does not respond`,
      nextStep: `continue it in the debugger, or end it with \`bastionless stop\``,
    };
  }
  return {
    problem: `the daemon (pid ${pid}) holds the state directory, but ${api} did not respond within ${PROBE_TIMEOUT_MS / 1000} s, so it may be hung`,
    nextStep: 'end it with `bastionless stop`, then run `bastionless start`',
  };
}

/** CLI error for a daemon that owns the state directory lock but does not respond. */
export class UnresponsiveDaemonError extends CliError {
  constructor(
    readonly daemon: UnresponsiveDaemon,
    text: UnresponsiveText,
  ) {
    super(text.problem, 1, [text.nextStep]);
  }
}

/**
 * Builds the CLI error for an unresponsive daemon after reading its process state. `start` and
 * `stop` exit with it, so they never report a frozen daemon as running, and every command that
 * sends requests to the daemon exits with it instead of waiting for a reply.
 */
export function unresponsiveDaemonError(
  daemon: UnresponsiveDaemon,
  inspector: ProcessInspector = SYSTEM_INSPECTOR,
): UnresponsiveDaemonError {
  const text = describeUnresponsiveDaemon(daemon, processCondition(daemon.pid, inspector));
  return new UnresponsiveDaemonError(daemon, text);
}

/**
 * Finds the inode of the socket listening on 127.0.0.1:`port` in /proc/net/tcp text. Columns
 * are `sl local_address rem_address st ... inode`, with the address as little-endian hex on
 * x86 and ARM (127.0.0.1 is `0100007F`), the port as big-endian hex and `0A` as LISTEN.
 */
export function listeningSocketInode(procNetTcp: string, port: number): string | null {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of procNetTcp.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] === local && fields[3] === '0A' && fields[9] !== undefined) {
      return fields[9];
    }
  }
  return null;
}

/**
 * Returns whether `pid` owns the socket listening on 127.0.0.1:`port`, read from /proc on
 * Linux. This proves the pid is the daemon even though its API does not respond, so `stop` may
 * signal it. Returns null on other platforms, where the check is not available.
 */
export function ownsListeningSocket(
  pid: number,
  port: number,
  inspector: ProcessInspector = SYSTEM_INSPECTOR,
): boolean | null {
  if (inspector.platform !== 'linux') {
    return null;
  }
  try {
    const inode = listeningSocketInode(inspector.readTextFile('/proc/net/tcp'), port);
    if (inode === null) {
      return false;
    }
    const target = `socket:[${inode}]`;
    const fdDir = `/proc/${pid}/fd`;
    return readdirSync(fdDir).some((fd) => {
      try {
        return readlinkSync(`${fdDir}/${fd}`) === target;
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}
