// The CLI message for a daemon that owns the state directory lock but whose control API does
// not respond: whether the process is suspended or may be hung, and the command that fixes it.
// `start`, `stop`, `status` and every command that sends requests to the daemon share this text.
// The process state and the owner of the API's listening socket come from /proc on Linux, from
// ps and lsof on macOS and the BSDs, and from netstat on Windows.

import { spawnSync } from 'node:child_process';
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
 * state that runs or waits. `unknown` applies where the read or `ps` failed, and on platforms
 * other than Linux, macOS and the BSDs.
 */
export type ProcessCondition = 'suspended' | 'traced' | 'other' | 'unknown';

/** Reads a file as text; passed in so tests can supply /proc contents. */
export type ReadTextFile = (file: string) => string;

/** Exit status (null after a signal) and output of a program that ran. */
export interface CommandOutput {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a program without a shell; passed in so tests can supply its output. Returns null when
 * the program is missing, could not start or timed out.
 */
export type RunCommand = (file: string, args: readonly string[]) => CommandOutput | null;

export interface ProcessInspector {
  platform: NodeJS.Platform;
  readTextFile: ReadTextFile;
  runCommand: RunCommand;
}

/** Time limit for one run of ps, lsof or netstat; past it the check returns its fallback. */
export const INSPECT_COMMAND_TIMEOUT_MS = 2000;

function runSystemCommand(file: string, args: readonly string[]): CommandOutput | null {
  const result = spawnSync(file, args, {
    encoding: 'utf8',
    timeout: INSPECT_COMMAND_TIMEOUT_MS,
    stdio: ['ignore', 'pipe', 'pipe'],
    windowsHide: true,
  });
  // `error` is set when the program is missing (ENOENT) or was killed at the time limit.
  if (result.error !== undefined) {
    return null;
  }
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Inspector of this machine; tests copy it with another `platform` to run the ps and lsof path. */
export const SYSTEM_INSPECTOR: ProcessInspector = {
  platform: process.platform,
  readTextFile: (file) => readFileSync(file, 'utf8'),
  runCommand: runSystemCommand,
};

/** Platforms without /proc where `ps -o stat=` and lsof (if installed) read processes. */
const PS_AND_LSOF_PLATFORMS: ReadonlySet<NodeJS.Platform> = new Set([
  'darwin',
  'freebsd',
  'netbsd',
  'openbsd',
]);

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

/**
 * Extracts the state letter from `ps -o stat= -p PID` output, e.g. `T` from `T+` or `Ss`, where
 * the letters after the first are flags. Skips blank lines and a `STAT` header line. Returns
 * null for output without a state, which is what ps prints for a pid that does not exist.
 */
export function parsePsState(output: string): string | null {
  for (const line of output.split('\n')) {
    const field = line.trim();
    if (field === '' || field === 'STAT') {
      continue;
    }
    const match = /^[A-Za-z]/.exec(field);
    return match ? match[0] : null;
  }
  return null;
}

/**
 * Maps a state letter from /proc or ps to a condition. On Linux `T` is stopped by a signal and
 * `t` by ptrace.
 */
export function conditionFromState(state: string | null): ProcessCondition {
  if (state === 'T') {
    return 'suspended';
  }
  if (state === 't') {
    return 'traced';
  }
  return state === null ? 'unknown' : 'other';
}

/**
 * Reads the scheduling state of `pid` from /proc on Linux and from `ps` on macOS and the BSDs.
 * Returns `unknown` when the read or ps fails, and on other platforms such as Windows, which
 * has no SIGSTOP.
 */
export function processCondition(
  pid: number,
  inspector: ProcessInspector = SYSTEM_INSPECTOR,
): ProcessCondition {
  if (inspector.platform === 'linux') {
    try {
      return conditionFromState(parseProcStatState(inspector.readTextFile(`/proc/${pid}/stat`)));
    } catch {
      // The process exited between the probe and this read.
      return 'unknown';
    }
  }
  if (!PS_AND_LSOF_PLATFORMS.has(inspector.platform)) {
    return 'unknown';
  }
  // macOS and the BSDs have no separate letter for a ptrace stop: ps shows `T` for a process
  // that a debugger stopped too, so there it reads as `suspended` and never as `traced`.
  const output = inspector.runCommand('ps', ['-o', 'stat=', '-p', String(pid)]);
  if (output === null || output.status !== 0) {
    // ps exits with 1 for a pid that does not exist.
    return 'unknown';
  }
  return conditionFromState(parsePsState(output.stdout));
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
 * Lists the pids in `lsof -F p` output, whose lines start with a field letter: `p1134` is a
 * process. Lines of other fields, such as `f` for a file descriptor, are skipped.
 */
export function parseLsofPids(output: string): number[] {
  const pids: number[] = [];
  for (const line of output.split('\n')) {
    const match = /^p(\d+)$/.exec(line.trim());
    if (match) {
      pids.push(Number(match[1]));
    }
  }
  return pids;
}

/**
 * Lists the pids of the sockets listening on 127.0.0.1:`port` in Windows `netstat -ano -p TCP`
 * output, whose columns are `Proto  Local Address  Foreign Address  State  PID`. A listener is
 * found by its foreign address `0.0.0.0:0` and not by the word LISTENING, because netstat
 * translates the State column (`ABHÖREN` on German Windows). A translated state may contain a
 * space, so the pid is read from the last column.
 */
export function parseNetstatListeners(output: string, port: number): number[] {
  const local = `127.0.0.1:${port}`;
  const pids: number[] = [];
  for (const line of output.split(/\r?\n/)) {
    const fields = line.trim().split(/\s+/);
    const pid = fields.at(-1)!;
    if (
      fields.length >= 5 &&
      fields[0]!.toUpperCase() === 'TCP' &&
      fields[1] === local &&
      fields[2] === '0.0.0.0:0' &&
      /^\d+$/.test(pid)
    ) {
      pids.push(Number(pid));
    }
  }
  return pids;
}

function ownsListeningSocketInProc(
  pid: number,
  port: number,
  inspector: ProcessInspector,
): boolean {
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

/**
 * Asks lsof whether `pid` has a socket listening on 127.0.0.1:`port`. `-a` ANDs the pid with the
 * address, so lsof lists the open files of that one process only. `-w` turns off warnings.
 */
function ownsListeningSocketByLsof(
  pid: number,
  port: number,
  inspector: ProcessInspector,
): boolean | null {
  const args = ['-w', '-n', '-P', '-a', '-p', String(pid), `-iTCP@127.0.0.1:${port}`];
  const output = inspector.runCommand('lsof', [...args, '-sTCP:LISTEN', '-Fp']);
  if (output === null) {
    return null;
  }
  if (output.status === 0) {
    return parseLsofPids(output.stdout).includes(pid);
  }
  // lsof exits with 1 and prints nothing when no open file matches (lsof 4.95 man page,
  // DIAGNOSTICS), so the pid has no such socket. Output on stderr means lsof itself failed.
  if (output.status === 1 && output.stdout.trim() === '' && output.stderr.trim() === '') {
    return false;
  }
  return null;
}

function ownsListeningSocketByNetstat(
  pid: number,
  port: number,
  inspector: ProcessInspector,
): boolean | null {
  // NOTE: this has never run on Windows. Only parseNetstatListeners is tested, on sample output.
  const output = inspector.runCommand('netstat', ['-ano', '-p', 'TCP']);
  if (output === null || output.status !== 0) {
    return null;
  }
  const pids = parseNetstatListeners(output.stdout, port);
  // The probe has just connected to the port, so an empty list means output in a form the
  // parser does not know rather than a port without a listener.
  return pids.length === 0 ? null : pids.includes(pid);
}

/**
 * Returns whether `pid` owns the socket listening on 127.0.0.1:`port`, read from /proc on Linux,
 * from lsof on macOS and the BSDs and from netstat on Windows. This proves the pid is the daemon
 * even though its API does not respond, so `stop` may signal it. Returns null where the check is
 * not available: another platform, lsof missing or failing, or netstat output not understood.
 */
export function ownsListeningSocket(
  pid: number,
  port: number,
  inspector: ProcessInspector = SYSTEM_INSPECTOR,
): boolean | null {
  if (inspector.platform === 'linux') {
    return ownsListeningSocketInProc(pid, port, inspector);
  }
  if (PS_AND_LSOF_PLATFORMS.has(inspector.platform)) {
    return ownsListeningSocketByLsof(pid, port, inspector);
  }
  if (inspector.platform === 'win32') {
    return ownsListeningSocketByNetstat(pid, port, inspector);
  }
  return null;
}
