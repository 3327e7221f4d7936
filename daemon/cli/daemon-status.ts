// The checks `bastionless status` makes before it lists tunnels: whether the config file is
// valid, and whether the process the state files name is this daemon.

import { existsSync } from 'node:fs';
import { ConfigStore } from '../config/store.js';
import type { TunnelStatus } from '../config/types.js';
import type { ConfigError } from '../config/errors.js';
import { probeDaemon, type DaemonProbe } from '../instance-lock.js';
import type { BastionlessPaths } from '../paths.js';
import { DaemonClient } from './client.js';
import {
  describeUnresponsiveDaemon,
  processCondition,
  unresponsiveDaemonError,
} from './unresponsive.js';
import { print } from './command.js';
import { CliError, daemonNotRunning, EXIT_FAILURE } from './errors.js';

/**
 * Extracts the reason from a ConfigError without the file name and fix its message carries,
 * so the status line names both once. Field issues after the first become detail lines.
 */
function configProblem(error: ConfigError): { reason: string; details: string[] } {
  if (error.code === 'ERR_CONFIG_INVALID' && error.fields.length > 0) {
    const [first, ...rest] = error.fields;
    return {
      reason: first!.message,
      details: rest.map((field) => `  ${field.path}: ${field.message}`),
    };
  }
  return { reason: error.reason, details: [] };
}

/**
 * Returns the lines `status` prints for a config file it cannot use. A file that cannot be read
 * gets its own message, because an editor would not repair its owner, mode or type.
 */
function configErrorLines(error: ConfigError, file: string, prefix: string): string[] {
  if (error.code === 'ERR_CONFIG_READ') {
    return [`${prefix}: ${error.message}`];
  }
  const { reason, details } = configProblem(error);
  return [
    `${prefix}: config file ${file} is invalid: ${reason}; fix it in an editor, or move it aside and add the profiles again with \`bastionless add\``,
    ...details,
  ];
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
  for (const line of configErrorLines(store.error, file, 'warning')) {
    process.stderr.write(`${line}\n`);
  }
  process.stderr.write(
    'the daemon loads the file again when it changes, so no restart is needed\n',
  );
}

function daemonLine(probe: DaemonProbe): string {
  switch (probe.state) {
    case 'running':
      return `bastionless is running (pid ${probe.pid}, control API on 127.0.0.1:${probe.port}); it keeps the profiles it last read and reloads the file when it changes`;
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

/**
 * Checks the config file and the daemon for `status`. Returns a client when the daemon runs,
 * and the exit code `status` ends with: 1 when the config file is invalid or is not the one
 * the daemon uses. An invalid file is reported on stderr, and the daemon's tunnels are still
 * listed when it runs, because it keeps the profiles it last read. Reading the file never
 * writes it: `edit` and `rm` reject an invalid file, so only an editor or `add` after moving
 * the file aside repairs it.
 */
export async function checkDaemonAndConfig(
  paths: BastionlessPaths,
): Promise<{ client: DaemonClient | null; exitCode: number }> {
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
    for (const line of configErrorLines(store.error, paths.configFile, 'bastionless')) {
      process.stderr.write(`${line}\n`);
    }
    print(daemonLine(probe));
    const client = probe.state === 'running' ? new DaemonClient(probe.url, probe.token) : null;
    return { client, exitCode: EXIT_FAILURE };
  }
  if (probe.state === 'running') {
    return { client: new DaemonClient(probe.url, probe.token), exitCode: 0 };
  }
  if (probe.state === 'stopped') {
    if (probe.stalePid === null) {
      throw daemonNotRunning();
    }
    throw new CliError(daemonNotRunning().message, EXIT_FAILURE, [
      `process ${probe.stalePid} in ${paths.pidFile} is not a bastionless daemon`,
    ]);
  }
  if (probe.state === 'unresponsive') {
    throw unresponsiveDaemonError(probe);
  }
  throw new CliError(daemonLine(probe));
}

export interface StatusOptions {
  json: boolean;
  /** Renders the tunnel table; passed in because it lives with the other tunnel commands. */
  renderTable: (tunnels: TunnelStatus[]) => string;
}

/** Runs `bastionless status` and resolves to its exit code. */
export async function runStatus(paths: BastionlessPaths, options: StatusOptions): Promise<number> {
  const { client, exitCode } = await checkDaemonAndConfig(paths);
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
  print(
    tunnels.length === 0
      ? 'no tunnels; add one with `bastionless add`'
      : options.renderTable(tunnels),
  );
  return exitCode;
}
