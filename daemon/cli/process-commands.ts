// `daemon`, `start` and `stop`: run the daemon in the foreground or as a detached child, and
// stop it through its control API.

import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunningDaemon } from '../daemon.js';
import {
  DaemonAlreadyRunningError,
  probeDaemon,
  STARTUP_GRACE_MS,
  type DaemonProbe,
} from '../instance-lock.js';
import { processExists, type BastionlessPaths } from '../paths.js';
import { DEFAULT_STOP_TIMEOUT_MS, endUnresponsiveDaemon, stopDaemon } from '../stop-daemon.js';
import { parseCommandArgs, stringOption, type ParsedArgs } from './args.js';
import { pathsFor, print, type Command } from './command.js';
import { hasExited } from './client.js';
import { warnIfConfigUnusable } from './daemon-status.js';
import { CliError, EXIT_USAGE } from './errors.js';
import {
  ownsListeningSocket,
  unresponsiveDaemonError,
  type UnresponsiveDaemon,
} from './unresponsive.js';

/**
 * Shutdown frees every port within 2 s, so a shutdown still running after this is stuck and the
 * process exits anyway.
 */
const FORCED_EXIT_MS = 3000;
const START_TIMEOUT_MS = STARTUP_GRACE_MS;
const RESTORE_HELP = `The daemon keeps its control API port and token across restarts, so an open
dashboard reconnects. It starts the autoStart profiles, and also the tunnels that were
running when the last daemon stopped or was killed, because it records them in
resume.json in the state directory on every change; a tunnel taken down with
\`bastionless down\` stays down.`;
/** Time the daemon has to exit after a shutdown request or SIGTERM, longer than FORCED_EXIT_MS. */
const STOP_TIMEOUT_MS = DEFAULT_STOP_TIMEOUT_MS;
const POLL_MS = 100;
/**
 * Exit code of `bastionless daemon` when another daemon already runs on the state directory.
 * `start` uses it to distinguish a lost start race from a failed start.
 */
export const EXIT_ALREADY_RUNNING = 3;

const DAEMON_OPTIONS = { port: { type: 'string' } } as const;

const PORT_HELP = `  --port N       control API port on 127.0.0.1, 1-65535 (default: the last daemon's port
                 when it is free, else a free port)`;

/** Parses `--port`, rejecting anything but a port number 1-65535 before a daemon starts. */
export function controlPortOption(command: string, args: ParsedArgs): number | undefined {
  const value = stringOption(args, 'port');
  if (value === undefined) {
    return undefined;
  }
  const port = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new CliError(
      `invalid --port ${value}: must be a port 1-65535; see \`bastionless ${command} --help\``,
      EXIT_USAGE,
    );
  }
  return port;
}

export const daemonCommand: Command = {
  name: 'daemon',
  summary: 'run the daemon in the foreground',
  help: `Usage: bastionless daemon [--port N] [--config FILE]

Runs the daemon in this terminal and prints its log. Ctrl-C (SIGINT), SIGTERM or
\`bastionless stop\` stops every tunnel, terminates their sessions and exits. Exits with
code ${EXIT_ALREADY_RUNNING} when a daemon already runs on the same state directory.
${RESTORE_HELP}

${PORT_HELP}
  --config FILE  config file (default: BASTIONLESS_CONFIG or the per-user location)

Examples:
  bastionless daemon
  bastionless daemon --port 7070 --config ~/work/bastionless.json`,
  async run(argv) {
    const args = parseCommandArgs('daemon', argv, DAEMON_OPTIONS);
    const port = controlPortOption('daemon', args);
    const paths = pathsFor(args);
    // Loaded here so that the other commands start without the AWS SDK and fastify.
    const { ControlPortInUseError, startDaemon } = await import('../daemon.js');
    let daemon: RunningDaemon | undefined;
    let pendingStop: string | undefined;
    let resolveExit!: (code: number) => void;
    const exitCode = new Promise<number>((resolve) => (resolveExit = resolve));
    const beginStop = (reason: string): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (!daemon) {
        pendingStop ??= reason;
        return;
      }
      const running = daemon;
      setTimeout(() => {
        running.logger.error({ timeoutMs: FORCED_EXIT_MS }, 'shutdown timed out; exiting anyway');
        process.exit(1);
      }, FORCED_EXIT_MS).unref();
      running.stop(reason).then(
        () => resolveExit(0),
        () => resolveExit(1),
      );
    };
    const onSignal = (signal: NodeJS.Signals): void => beginStop(`received ${signal}`);
    // Installed before start-up, because api.json is written before startDaemon returns and
    // `stop` may send SIGTERM from then on. A signal during start-up is kept in pendingStop
    // and handled once the daemon runs, so the stop is orderly.
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      daemon = await startDaemon({
        paths,
        foreground: true,
        port,
        version: readVersion(),
        onShutdownRequest: beginStop,
      });
    } catch (error) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (error instanceof DaemonAlreadyRunningError) {
        throw new CliError(
          `another daemon runs on this state directory (pid ${error.pid}, control API on ${apiAddress(error.url)}); stop it with \`bastionless stop\``,
          EXIT_ALREADY_RUNNING,
        );
      }
      if (error instanceof ControlPortInUseError) {
        throw new CliError(error.message);
      }
      throw error;
    }
    if (pendingStop !== undefined) {
      beginStop(pendingStop);
    }
    return exitCode;
  },
};

export function readVersion(): string | undefined {
  for (const relative of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'bastionless') {
        return pkg.version;
      }
    } catch {
      // Try the next location: source tree and build output sit at different depths.
    }
  }
  return undefined;
}

function readTail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export interface LogEntry {
  level?: number;
  pid?: number;
  /** Epoch milliseconds, pino's default timestamp. */
  time?: number;
  msg?: string;
}

/** Parsed daemon.log lines written by process `pid`; pino puts the pid on every line. */
function logEntriesOf(file: string, pid: number): LogEntry[] {
  const entries: LogEntry[] = [];
  for (const line of readTail(file, 500).split('\n')) {
    try {
      entries.push(JSON.parse(line) as LogEntry);
    } catch {
      // A line cut by rotation or a crash; the others still count.
    }
  }
  return entries.filter((entry) => entry.pid === pid);
}

/** pino's numeric levels: warn is 40, error 50. */
const PINO_WARN = 40;
const PINO_ERROR = 50;

/**
 * Describes why a detached daemon exited during start-up and names the file that contains the
 * error: daemon.log when the daemon logged its failure there, else its stderr file, which
 * also catches failures before the logger exists, e.g. a module that does not load.
 */
function startFailure(
  paths: BastionlessPaths,
  child: ReturnType<typeof spawnDaemon>,
  code: number | null,
): CliError {
  const stderr = readTail(child.stderrFile, 20);
  const errorLine = stderr
    .split('\n')
    .reverse()
    .find((line) => line.startsWith('bastionless: '));
  const cause = errorLine?.slice('bastionless: '.length);
  const logged = logEntriesOf(paths.logFile, child.pid).some(
    (entry) => (entry.level ?? 0) >= PINO_ERROR,
  );
  const file = logged ? paths.logFile : child.stderrFile;
  if (cause) {
    return new CliError(cause, 1, [`the daemon exited with code ${code}; see ${file}`]);
  }
  return new CliError(
    `the daemon exited during start-up with code ${code}; see ${file}`,
    1,
    stderr ? [readTail(child.stderrFile, 5)] : [],
  );
}

function apiAddress(url: string): string {
  return url.replace(/^http:\/\//, '');
}

/**
 * Probes the daemon, and while one is starting or stopping, probes again until it settles.
 * A lock counts as transitioning for at most STARTUP_GRACE_MS, so this ends soon after that.
 */
export async function settledProbe(paths: BastionlessPaths): Promise<DaemonProbe> {
  const deadline = Date.now() + STARTUP_GRACE_MS + 1000;
  for (;;) {
    const probe = await probeDaemon(paths);
    if (probe.state !== 'transitioning' || Date.now() > deadline) {
      return probe;
    }
    await sleep(POLL_MS);
  }
}

function transitioningError(probe: { pid: number }, paths: BastionlessPaths): CliError {
  return new CliError(
    `process ${probe.pid} holds ${paths.pidFile} but did not become a ready daemon; run \`bastionless status\` again in a few seconds`,
  );
}

/** Spawns `bastionless daemon` detached, with its stderr in a file for start-up failures. */
function spawnDaemon(paths: BastionlessPaths, argv: string[]) {
  const childArgs = [...process.execArgv, process.argv[1]!, 'daemon', ...argv];
  const stderrFile = paths.stderrFile;
  mkdirSync(paths.stateDir, { recursive: true, mode: 0o700 });
  const stderrFd = openSync(stderrFile, 'w', 0o600);
  const child = spawn(process.execPath, childArgs, {
    detached: true,
    stdio: ['ignore', 'ignore', stderrFd],
    env: process.env,
  });
  closeSync(stderrFd);
  // The exit event, not a pid probe, detects an early exit, because a pid probe also
  // succeeds for a child that has exited but was not reaped yet.
  const exit: { code: number | null } = { code: null };
  let exited = false;
  child.once('exit', (code) => {
    exit.code = code;
    exited = true;
  });
  child.unref();
  return { pid: child.pid!, stderrFile, exited: () => (exited ? exit : null) };
}

/**
 * Waits until the child's control API reports the child's pid. When the child exits because
 * another daemon won the lock, which happens when two starts race, returns that daemon.
 */
async function waitForStartedDaemon(
  paths: BastionlessPaths,
  child: ReturnType<typeof spawnDaemon>,
): Promise<{ probe: DaemonProbe & { state: 'running' }; ours: boolean }> {
  const deadline = Date.now() + START_TIMEOUT_MS + 2000;
  while (Date.now() < deadline) {
    const exit = child.exited();
    if (exit !== null) {
      const other = exit.code === EXIT_ALREADY_RUNNING ? await settledProbe(paths) : null;
      if (other?.state === 'running') {
        return { probe: other, ours: false };
      }
      throw startFailure(paths, child, exit.code);
    }
    const probe = await probeDaemon(paths);
    if (probe.state === 'running' && probe.pid === child.pid) {
      return { probe, ours: true };
    }
    await sleep(POLL_MS);
  }
  throw new CliError(
    `the daemon (pid ${child.pid}) did not become ready within ${START_TIMEOUT_MS / 1000} s; see ${paths.logFile}`,
  );
}

/**
 * Checks a config file given with --config before a daemon starts on it. A path whose folder
 * does not exist is rejected, because it is almost always a typo and the daemon would create
 * the folder. A missing file in an existing folder gets a warning, because the daemon starts
 * with no profiles and loads the file once `add` or an editor creates it.
 */
function checkGivenConfigFile(args: ParsedArgs, configFile: string): void {
  if (stringOption(args, 'config') === undefined || existsSync(configFile)) {
    return;
  }
  const folder = dirname(configFile);
  if (!existsSync(folder)) {
    throw new CliError(
      `config file ${configFile} not found, and its folder ${folder} does not exist either; check the path, or create the folder with \`mkdir -p ${folder}\``,
    );
  }
  process.stderr.write(
    `warning: config file ${configFile} does not exist, so the daemon starts with no profiles; it loads the file when it is created, e.g. by \`bastionless add NAME --config ${configFile} ...\`\n`,
  );
}

export const startCommand: Command = {
  name: 'start',
  summary: 'start the daemon in the background',
  help: `Usage: bastionless start [--port N] [--config FILE]

Starts the daemon as a detached background process and waits until its control API
responds (up to ${START_TIMEOUT_MS / 1000} s). When a daemon already runs on the same state
directory, prints its pid and API address and exits with code 0. When a daemon holds the
state directory but its control API does not respond, says whether it is suspended or may be
hung, names the command that fixes it and exits with code 1. When it fails to start, prints
the reason and the file that holds the details.
${RESTORE_HELP}

${PORT_HELP}
  --config FILE  config file (default: BASTIONLESS_CONFIG or the per-user location);
                 a missing file is reported, and a missing folder is rejected

Examples:
  bastionless start
  bastionless start --port 7070
  bastionless start --config ~/work/bastionless.json`,
  async run(argv) {
    const args = parseCommandArgs('start', argv, DAEMON_OPTIONS);
    controlPortOption('start', args);
    const paths = pathsFor(args);
    checkGivenConfigFile(args, paths.configFile);
    const before = await settledProbe(paths);
    if (before.state === 'running') {
      print(new DaemonAlreadyRunningError(before.pid, before.url).message);
      return 0;
    }
    if (before.state === 'unresponsive') {
      throw unresponsiveDaemonError(before);
    }
    if (before.state === 'transitioning') {
      throw transitioningError(before, paths);
    }
    // The daemon takes the lock itself, so a start that races this one spawns a second child,
    // which exits with EXIT_ALREADY_RUNNING.
    const child = spawnDaemon(paths, argv);
    const { probe, ours } = await waitForStartedDaemon(paths, child);
    print(
      ours
        ? `bastionless started (pid ${probe.pid}, control API on ${apiAddress(probe.url)})`
        : new DaemonAlreadyRunningError(probe.pid, probe.url).message,
    );
    warnIfConfigUnusable(paths.configFile);
    return 0;
  },
};

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (processExists(pid)) {
    if (Date.now() > deadline) {
      return false;
    }
    await sleep(POLL_MS);
  }
  return true;
}

/** Message the daemon logs when it receives a shutdown request or signal. */
const SHUTDOWN_REQUESTED_MSG = 'shutdown requested';

/**
 * Counts the warnings and errors among one daemon's `entries` that its shutdown logged. Only
 * entries after its last `shutdown requested` line count, because an error logged while
 * `stop` started, such as a rejected config file, is no failure of the shutdown. Without that
 * line, e.g. when it scrolled out of the tail read, entries from `sinceMs` (epoch ms) on count.
 */
export function countShutdownFailures(entries: LogEntry[], sinceMs: number): number {
  const requested = entries.findLastIndex(
    (entry) => entry.msg === SHUTDOWN_REQUESTED_MSG && (entry.time ?? 0) >= sinceMs,
  );
  const shutdownEntries =
    requested === -1
      ? entries.filter((entry) => (entry.time ?? 0) >= sinceMs)
      : entries.slice(requested + 1);
  return shutdownEntries.filter((entry) => (entry.level ?? 0) >= PINO_WARN).length;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** Sends `signal` to `pid`, ignoring a process that has exited meanwhile. */
function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') {
      throw error;
    }
  }
}

/**
 * Ends a daemon whose control API accepts connections but does not respond. The pid must own the
 * API's listening socket, so a reused pid is never signalled, wherever /proc, lsof or netstat
 * can show the owner.
 */
async function stopUnresponsive(daemon: UnresponsiveDaemon): Promise<number> {
  const { pid, port } = daemon;
  // NOTE: where the owner cannot be read (lsof missing or failing, netstat output not
  // understood, or a platform other than Linux, macOS, the BSDs and Windows), nothing checks
  // that the pid still belongs to the daemon. The lock and api.json both name it and the port
  // accepts connections, which a reused pid and a reused port would both have to match.
  if (ownsListeningSocket(pid, port) === false) {
    const error = unresponsiveDaemonError(daemon);
    throw new CliError(
      `${error.message}; process ${pid} does not own the listening socket of port ${port}, so it was left alone`,
      1,
      error.details,
    );
  }
  const outcome = await endUnresponsiveDaemon({
    waitForExit: (timeoutMs) => waitForExit(pid, timeoutMs),
    kill: (signal) => signalProcess(pid, signal),
    canContinue: process.platform !== 'win32',
    stopTimeoutMs: STOP_TIMEOUT_MS,
  });
  if (!outcome.exited) {
    throw new CliError(
      `the daemon (pid ${pid}) did not respond on 127.0.0.1:${port} and was still running after SIGKILL; check it with \`ps -p ${pid}\``,
    );
  }
  print(
    outcome.signal === 'SIGTERM'
      ? `the daemon (pid ${pid}) did not respond on its control API and stopped after SIGTERM`
      : `the daemon (pid ${pid}) did not respond on its control API or exit within ${STOP_TIMEOUT_MS / 1000} s of SIGTERM, so it was killed with SIGKILL; its SSM sessions stay open until the service's idle timeout or the next daemon start terminates them`,
  );
  return 0;
}

/** Words `stop` on a daemon that is not running, naming a pid file left behind. */
function stoppedLine(paths: BastionlessPaths, stalePid: number | null): string {
  if (stalePid === null) {
    return 'the daemon is not running';
  }
  // After kill -9 the daemon stays a zombie until its parent reaps it, and signal 0 still
  // reaches a zombie, so the probe calls it a live process.
  if (hasExited(stalePid)) {
    return `the daemon is not running; the pid file ${paths.pidFile} is stale (pid ${stalePid} exited without removing it), and \`bastionless start\` replaces it`;
  }
  return `the daemon is not running; process ${stalePid} in ${paths.pidFile} is not a bastionless daemon and was left alone`;
}

export const stopCommand: Command = {
  name: 'stop',
  summary: 'stop the background daemon',
  help: `Usage: bastionless stop [--config FILE]

Asks the daemon through its control API to close every tunnel, terminate their SSM sessions
and exit, and waits up to ${STOP_TIMEOUT_MS / 1000} s. When the API request fails, sends SIGTERM
instead. When the control API accepts connections but does not respond, because the daemon is
suspended or hung, sends SIGTERM and SIGCONT, then SIGKILL after ${STOP_TIMEOUT_MS / 1000} s. Before that it
checks with /proc (Linux), lsof (macOS, BSD) or netstat (Windows) that the process owns the
API's listening socket, and leaves any other process that the pid file names alone. Where that
tool is missing or fails, it signals the pid without the check.

Examples:
  bastionless stop
  bastionless stop --config ~/work/bastionless.json`,
  async run(argv) {
    const args = parseCommandArgs('stop', argv, {});
    const paths = pathsFor(args);
    const probe = await settledProbe(paths);
    if (probe.state === 'stopped') {
      print(stoppedLine(paths, probe.stalePid));
      return 0;
    }
    if (probe.state === 'unresponsive') {
      return stopUnresponsive(probe);
    }
    if (probe.state === 'transitioning') {
      throw transitioningError(probe, paths);
    }
    const { pid } = probe;
    const requestedAt = Date.now();
    // The pid was verified through the API a moment ago, so a fallback signal reaches the daemon.
    const outcome = await stopDaemon(probe, {
      waitForExit: (timeoutMs) => waitForExit(pid, timeoutMs),
      kill: (signal) => process.kill(pid, signal),
      stopTimeoutMs: STOP_TIMEOUT_MS,
    });
    if (outcome.via === 'api') {
      const { reply } = outcome;
      const failures = countShutdownFailures(logEntriesOf(paths.logFile, pid), requestedAt);
      print(
        `the daemon (pid ${pid}) stopped: it closed ${plural(reply.tunnels, 'tunnel')} and terminated ${plural(reply.sessions, 'SSM session')}${failures > 0 ? `; ${plural(failures, 'failure')} logged, see \`bastionless logs\`` : ''}`,
      );
      return 0;
    }
    if (!outcome.exited) {
      throw new CliError(
        `the daemon (pid ${pid}) did not exit within ${STOP_TIMEOUT_MS / 1000} s of SIGTERM; kill it with \`kill -9 ${pid}\``,
      );
    }
    print(`the daemon (pid ${pid}) stopped after SIGTERM, because ${outcome.reason}`);
    return 0;
  },
};
