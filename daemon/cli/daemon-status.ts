// The checks `bastionless status` makes before it lists tunnels: whether the config file is
// valid, and whether the process the state files name is this daemon.

import { existsSync } from 'node:fs';
import { ConfigStore } from '../config/store.js';
import type { TunnelStatus } from '../config/types.js';
import type { ConfigError } from '../config/errors.js';
import { configErrorText } from '../config/file-errors.js';
import { probeDaemon, type DaemonProbe } from '../instance-lock.js';
import type { BastionlessPaths } from '../paths.js';
import { DaemonClient, stoppedDaemonError } from './client.js';
import {
  describeUnresponsiveDaemon,
  processCondition,
  unresponsiveDaemonError,
} from './unresponsive.js';
import { print } from './command.js';
import { CliError, EXIT_FAILURE } from './errors.js';

/**
 * Returns the lines `status` and `start` print for a config file they cannot use: the shared
 * message for the problem, and one line per further problem of an invalid file.
 */
function configErrorLines(error: ConfigError, prefix: string): string[] {
  const { message, details } = configErrorText(error);
  return [`${prefix}: ${message}`, ...details];
}

/**
 * Prints a warning on stderr when the config file cannot be used. `start` calls it after the
 * daemon is up, because the daemon runs without the file's profiles and loads the file again
 * when it changes, so the user learns why a profile is missing before `up` fails.
 */
export function warnIfConfigUnusable(file: string): void {
  const store = new ConfigStore({ file });
  store.load();
  if (!store.error) {
    return;
  }
  for (const line of configErrorLines(store.error, 'warning')) {
    process.stderr.write(`${line}\n`);
  }
  process.stderr.write(
    'the daemon loads the file again when it changes, so no restart is needed\n',
  );
}

/**
 * Returns the line that describes the daemon. `loadedTunnels` is the number of tunnels a
 * running daemon has while the config file is rejected, so the line states whether it kept any.
 */
function daemonLine(probe: DaemonProbe, loadedTunnels = 0): string {
  switch (probe.state) {
    case 'running': {
      const running = `bastionless is running (pid ${probe.pid}, control API on 127.0.0.1:${probe.port})`;
      const keptProfiles =
        loadedTunnels === 0
          ? 'it has no profiles loaded'
          : `it keeps the ${loadedTunnels} ${loadedTunnels === 1 ? 'profile' : 'profiles'} it loaded before`;
      return `${running}; ${keptProfiles} and loads the file again when it changes`;
    }
    case 'transitioning':
      return `bastionless (pid ${probe.pid}) is starting or stopping`;
    case 'unresponsive': {
      const { problem, nextStep } = describeUnresponsiveDaemon(probe, processCondition(probe.pid));
      return `${problem}; ${nextStep}`;
    }
    case 'stopped':
      return 'bastionless is not running';
  }
}

/** Outcome of checkDaemonAndConfig. */
export interface DaemonCheck {
  /** Client for the running daemon, or null when none runs. */
  client: DaemonClient | null;
  exitCode: number;
  /** True when the config file could not be loaded, so an empty list is not the user's intent. */
  configRejected: boolean;
}

/**
 * Checks the config file and the daemon for `status`. Returns a client when the daemon runs,
 * and the exit code `status` ends with: 1 when the config file is invalid or is not the one
 * the daemon uses. An invalid file is reported on stderr, and the daemon's tunnels are still
 * listed when it runs, because it keeps the profiles it last read. Reading the file never
 * writes it: `edit` and `rm` reject an invalid file, so only an editor or `add` after moving
 * the file aside repairs it.
 */
export async function checkDaemonAndConfig(paths: BastionlessPaths): Promise<DaemonCheck> {
  const store = new ConfigStore({ file: paths.configFile });
  store.load();
  const probe = await probeDaemon(paths);
  const daemonConfig = probe.state === 'running' ? probe.configFile : undefined;
  if (daemonConfig !== undefined && daemonConfig !== paths.configFile) {
    if (!existsSync(paths.configFile)) {
      throw new CliError(
        `config file ${paths.configFile} does not exist; the running daemon uses ${daemonConfig}, so pass \`--config ${daemonConfig}\` or leave --config out`,
      );
    }
    process.stderr.write(
      `warning: the running daemon uses config file ${daemonConfig}, not ${paths.configFile}; the tunnels below are from ${daemonConfig}\n`,
    );
  }
  if (store.error) {
    for (const line of configErrorLines(store.error, 'bastionless')) {
      process.stderr.write(`${line}\n`);
    }
    if (probe.state !== 'running') {
      print(daemonLine(probe));
      return { client: null, exitCode: EXIT_FAILURE, configRejected: true };
    }
    const client = new DaemonClient(probe.url, probe.token, probe.pid);
    const status = await client.request<{ tunnels: number }>('GET', '/v1/status');
    print(daemonLine(probe, status.tunnels));
    return { client, exitCode: EXIT_FAILURE, configRejected: true };
  }
  if (probe.state === 'running') {
    const client = new DaemonClient(probe.url, probe.token, probe.pid);
    return { client, exitCode: 0, configRejected: false };
  }
  if (probe.state === 'stopped') {
    throw stoppedDaemonError(paths, probe.stalePid);
  }
  if (probe.state === 'unresponsive') {
    throw unresponsiveDaemonError(probe);
  }
  throw new CliError(daemonLine(probe));
}

/** Returns the line for an empty tunnel list, which points at the file when it was rejected. */
function noTunnelsLine(configRejected: boolean): string {
  return configRejected
    ? 'no tunnels; fix the config file as described above, and the daemon loads it within a second'
    : 'no tunnels; add one with `bastionless add`';
}

export interface StatusOptions {
  json: boolean;
  /** Renders the tunnel table; passed in because it lives with the other tunnel commands. */
  renderTable: (tunnels: TunnelStatus[]) => string;
}

/** Runs `bastionless status` and resolves to its exit code. */
export async function runStatus(paths: BastionlessPaths, options: StatusOptions): Promise<number> {
  const { client, exitCode, configRejected } = await checkDaemonAndConfig(paths);
  if (!client) {
    return exitCode;
  }
  const tunnels = await client.request<TunnelStatus[]>('GET', '/v1/tunnels');
  if (options.json) {
    print(JSON.stringify(tunnels, null, 2));
    return exitCode;
  }
  const status = await client.request<{ configError: { message: string } | null }>(
    'GET',
    '/v1/status',
  );
  // The daemon's own view of the file repeats the error printed above when the check failed.
  if (status.configError && exitCode === 0) {
    process.stderr.write(`warning: ${status.configError.message}\n`);
  }
  print(tunnels.length === 0 ? noTunnelsLine(configRejected) : options.renderTable(tunnels));
  return exitCode;
}
