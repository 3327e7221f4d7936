// `daemon`, `start` and `stop`: run the daemon in the foreground or as a detached child.

import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { processExists, readLivePid, type BastionlessPaths } from '../paths.js';
import { integerOption, parseCommandArgs } from './args.js';
import { DaemonClient } from './client.js';
import { pathsFor, print, type Command } from './command.js';
import { CliError } from './errors.js';

/**
 * Shutdown frees every port within 2 s, so a shutdown still running after this is stuck and the
 * process exits anyway.
 */
const FORCED_EXIT_MS = 3000;
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5000;
const POLL_MS = 100;

const DAEMON_OPTIONS = { port: { type: 'string' } } as const;

export const daemonCommand: Command = {
  name: 'daemon',
  summary: 'run the daemon in the foreground',
  help: `Usage: bastionless daemon [--port N] [--config FILE]

Runs the daemon in this terminal and prints its log. Ctrl-C (SIGINT) or SIGTERM stops
every tunnel, terminates their sessions and exits.

  --port N       control API port on 127.0.0.1 (default: a free port)
  --config FILE  config file (default: BASTIONLESS_CONFIG or the per-user location)`,
  async run(argv) {
    const args = parseCommandArgs('daemon', argv, DAEMON_OPTIONS);
    const paths = pathsFor(args);
    // Loaded here so that the other commands start without the AWS SDK and fastify.
    const { startDaemon } = await import('../daemon.js');
    const daemon = await startDaemon({
      paths,
      foreground: true,
      port: integerOption('daemon', args, 'port'),
      version: readVersion(),
    });
    return new Promise<number>((resolve) => {
      const onSignal = (signal: NodeJS.Signals) => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        setTimeout(() => {
          daemon.logger.error({ timeoutMs: FORCED_EXIT_MS }, 'shutdown timed out; exiting anyway');
          process.exit(1);
        }, FORCED_EXIT_MS).unref();
        daemon.stop(`received ${signal}`).then(
          () => resolve(0),
          () => resolve(1),
        );
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    });
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

/** Resolves once the daemon responds to /healthz on the port it wrote, or throws on timeout or exit. */
async function waitUntilReady(
  paths: BastionlessPaths,
  hasExited: () => boolean,
  stderrFile: string,
): Promise<DaemonClient> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (hasExited()) {
      const output = readTail(stderrFile, 5);
      throw new CliError(
        `the daemon exited during start-up; see ${paths.logFile}`,
        1,
        output ? [output] : [],
      );
    }
    try {
      const client = DaemonClient.fromState(paths);
      const health = await fetch(`${client.baseUrl}/healthz`, {
        signal: AbortSignal.timeout(1000),
      });
      if (health.ok) {
        return client;
      }
    } catch {
      // Not ready yet: the API file is missing or the port is not listening.
    }
    await sleep(POLL_MS);
  }
  throw new CliError(
    `the daemon did not become ready within ${START_TIMEOUT_MS / 1000} s; see ${paths.logFile}`,
  );
}

function readTail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export const startCommand: Command = {
  name: 'start',
  summary: 'start the daemon in the background',
  help: `Usage: bastionless start [--port N] [--config FILE]

Starts the daemon as a detached background process and waits until its control API
answers (up to ${START_TIMEOUT_MS / 1000} s). Does nothing if the daemon is already running.

  --port N       control API port on 127.0.0.1 (default: a free port)
  --config FILE  config file (default: BASTIONLESS_CONFIG or the per-user location)`,
  async run(argv) {
    const args = parseCommandArgs('start', argv, DAEMON_OPTIONS);
    const paths = pathsFor(args);
    const running = readLivePid(paths.pidFile);
    if (running !== null) {
      print(`the daemon is already running (pid ${running})`);
      return 0;
    }
    const childArgs = [...process.execArgv, process.argv[1]!, 'daemon', ...argv];
    const stderrFile = join(paths.stateDir, 'daemon.stderr.log');
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
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    child.unref();
    const client = await waitUntilReady(paths, () => exited, stderrFile);
    print(`the daemon is running (pid ${child.pid}) with its API on ${client.baseUrl}`);
    return 0;
  },
};

export const stopCommand: Command = {
  name: 'stop',
  summary: 'stop the background daemon',
  help: `Usage: bastionless stop [--config FILE]

Sends SIGTERM to the daemon, which closes every tunnel and terminates their sessions,
and waits up to ${STOP_TIMEOUT_MS / 1000} s for it to exit.`,
  async run(argv) {
    const args = parseCommandArgs('stop', argv, {});
    const paths = pathsFor(args);
    const pid = readLivePid(paths.pidFile);
    if (pid === null) {
      print('the daemon is not running');
      return 0;
    }
    // NOTE: on Windows, SIGTERM ends the process at once, so sessions are not terminated there.
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (processExists(pid)) {
      if (Date.now() > deadline) {
        throw new CliError(
          `the daemon (pid ${pid}) did not exit within ${STOP_TIMEOUT_MS / 1000} s; kill it with \`kill -9 ${pid}\``,
        );
      }
      await sleep(POLL_MS);
    }
    print(`the daemon (pid ${pid}) stopped`);
    return 0;
  },
};
