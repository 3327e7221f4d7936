// The checks `bastionless status` makes before it lists tunnels: whether the config file is
// valid, and whether the process the state files name is this daemon.

import { ConfigStore } from '../config/store.js';
import type { ConfigError } from '../config/errors.js';
import { probeDaemon, type DaemonProbe } from '../instance-lock.js';
import type { BastionlessPaths } from '../paths.js';
import { DaemonClient } from './client.js';
import { print } from './command.js';
import { CliError, daemonNotRunning, EXIT_FAILURE } from './errors.js';

/**
 * Extracts the reason from a ConfigError without the file name and fix its message carries,
 * so the status line names both once. Field issues after the first become detail lines.
 */
function configProblem(error: ConfigError): { reason: string; details: string[] } {
  if (error.code === 'ERR_CONFIG_PARSE') {
    const cause = error.cause instanceof Error ? error.cause.message : 'parse error';
    return { reason: `not valid JSON (${cause})`, details: [] };
  }
  if (error.code === 'ERR_CONFIG_INVALID' && error.fields.length > 0) {
    const [first, ...rest] = error.fields;
    return {
      reason: first!.message,
      details: rest.map((field) => `  ${field.path}: ${field.message}`),
    };
  }
  return { reason: error.message, details: [] };
}

function daemonLine(probe: DaemonProbe): string {
  switch (probe.state) {
    case 'running':
      return `bastionless is running (pid ${probe.pid}, control API on 127.0.0.1:${probe.port}); it keeps the profiles it last read and reloads the file when it changes`;
    case 'transitioning':
      return `bastionless (pid ${probe.pid}) is starting or stopping`;
    case 'unresponsive':
      return `bastionless (pid ${probe.pid}) holds the state directory, but its control API on 127.0.0.1:${probe.port} does not respond`;
    case 'stopped':
      return 'bastionless is not running';
  }
}

/**
 * Returns a client for the running daemon. When the config file is invalid, prints why and
 * whether the daemon runs, and returns the exit code instead. Reading the file never writes
 * it: `edit` and `rm` reject an invalid file, so only an editor or `add` after moving the
 * file aside repairs it.
 */
export async function checkDaemonAndConfig(
  paths: BastionlessPaths,
): Promise<{ client: DaemonClient } | { exitCode: number }> {
  const store = new ConfigStore({ file: paths.configFile });
  store.load();
  const probe = await probeDaemon(paths);
  if (store.error) {
    const { reason, details } = configProblem(store.error);
    process.stderr.write(
      `bastionless: config file ${paths.configFile} is invalid: ${reason}; fix it in an editor, or move it aside and add the profiles again with \`bastionless add\`\n`,
    );
    for (const line of details) {
      process.stderr.write(`${line}\n`);
    }
    print(daemonLine(probe));
    return { exitCode: EXIT_FAILURE };
  }
  if (probe.state === 'running') {
    return { client: new DaemonClient(probe.url, probe.token) };
  }
  if (probe.state === 'stopped') {
    if (probe.stalePid === null) {
      throw daemonNotRunning();
    }
    throw new CliError(daemonNotRunning().message, EXIT_FAILURE, [
      `process ${probe.stalePid} in ${paths.pidFile} is not a bastionless daemon`,
    ]);
  }
  throw new CliError(daemonLine(probe));
}
