// The checks `bastionless status` makes before it lists tunnels: whether the config file is
// valid, and whether the process the state files name is this daemon.

import { existsSync, readFileSync } from 'node:fs';
import { ConfigStore } from '../config/store.js';
import type { TunnelStatus } from '../config/types.js';
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
function configProblem(error: ConfigError, text: string): { reason: string; details: string[] } {
  if (error.code === 'ERR_CONFIG_PARSE') {
    const cause = error.cause instanceof Error ? error.cause.message : 'parse error';
    return { reason: `not valid JSON (${jsonErrorWithLine(cause, text)})`, details: [] };
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

/**
 * Rewrites the offset in a JSON.parse message as line and column, both from 1, because an
 * editor jumps to a line. Node 20 reports "at position N", Node 22 adds "(line L column C)",
 * and "Unexpected end of JSON input" names no offset, so it gets the end of the text.
 */
export function jsonErrorWithLine(message: string, text: string): string {
  const match = / (?:in JSON )?at position (\d+)(?: \(line \d+ column \d+\))?/.exec(message);
  const offset = match ? Number(match[1]) : /end of JSON input/.test(message) ? text.length : -1;
  if (offset < 0) {
    return message;
  }
  const before = text.slice(0, offset).split('\n');
  const where = `line ${before.length}, column ${before.at(-1)!.length + 1}`;
  return match ? message.replace(match[0], ` at ${where}`) : `${message} at ${where}`;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
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
    const { reason, details } = configProblem(store.error, readText(paths.configFile));
    process.stderr.write(
      `bastionless: config file ${paths.configFile} is invalid: ${reason}; fix it in an editor, or move it aside and add the profiles again with \`bastionless add\`\n`,
    );
    for (const line of details) {
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
