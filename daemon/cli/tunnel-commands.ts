// `status`, `up`, `down` and `dashboard`: commands that talk to the running daemon.

import type { TunnelStatus } from '../config/types.js';
import { probeDaemon } from '../instance-lock.js';
import type { BastionlessPaths } from '../paths.js';
import { FAST_CLOSE_NOTICE } from '../tunnel/start-failure.js';
import { parseCommandArgs, requirePositional } from './args.js';
import { DaemonClient } from './client.js';
import { pathsFor, print, type Command } from './command.js';
import { runStatus } from './daemon-status.js';
import { CliError, EXIT_FAILURE } from './errors.js';
import { promptForMfa } from './mfa-command.js';

/** Time `up` watches for an MFA request of the started tunnels, in milliseconds. */
const MFA_PROMPT_WAIT_MS = 5000;

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Renders rows as left-aligned columns separated by two spaces. */
export function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** States whose table row gets a second line with the next step, when the daemon names one. */
const STATES_WITH_HINT = new Set(['failed', 'needs-login']);

/** Returns the next step for a failed or needs-login tunnel, or null for other states. */
function tunnelHint(tunnel: TunnelStatus): string | null {
  if (!STATES_WITH_HINT.has(tunnel.state)) {
    return null;
  }
  // A needs-login tunnel without an error still gives its cause in `reason`, e.g. while it waits
  // for an MFA code.
  return tunnel.lastError?.hint ?? (tunnel.lastError ? null : tunnel.reason);
}

/**
 * Returns true for a listening or connecting tunnel whose last start failed with a lasting
 * error, so it closes connections at once. The daemon ends the reason with FAST_CLOSE_NOTICE then.
 */
function isClosingAtOnce(tunnel: TunnelStatus): boolean {
  return (
    (tunnel.state === 'listening' || tunnel.state === 'connecting') &&
    tunnel.lastError !== null &&
    (tunnel.reason ?? '').includes(FAST_CLOSE_NOTICE)
  );
}

/** Returns the lines under the row of a tunnel that closes connections at once. */
function closingAtOnceLines(tunnel: TunnelStatus): string[] {
  let next = 'the next connection starts another attempt';
  if (tunnel.nextAttemptAt !== null) {
    next = `next attempt at ${tunnel.nextAttemptAt}`;
  } else if (tunnel.state === 'connecting') {
    next = 'retrying now';
  }
  const lines = tunnel.lastError?.hint ? [`  hint: ${tunnel.lastError.hint}`] : [];
  lines.push(`  ${FAST_CLOSE_NOTICE}; ${next}`);
  return lines;
}

/** Time an error from before the current open period stays in the LAST ERROR column, in ms. */
export const RECENT_ERROR_MS = 5 * 60_000;

/**
 * Returns the LAST ERROR cell. An error from before the current open period is left out once
 * it is older than RECENT_ERROR_MS, because the sessions open since then replaced the one that
 * failed. A recent one stays, so a user whose connection just dropped learns the cause. The JSON
 * output keeps every error in `lastError` with its time.
 */
function lastErrorCell(tunnel: TunnelStatus, nowMs: number): string {
  const error = tunnel.lastError;
  if (!error) {
    return '';
  }
  const openNow = tunnel.state === 'open' || tunnel.state === 'reconnecting';
  if (openNow && tunnel.openSince !== null) {
    const erredAt = Date.parse(error.at);
    const beforeOpen = erredAt < Date.parse(tunnel.openSince);
    if (!Number.isNaN(erredAt) && beforeOpen && nowMs - erredAt >= RECENT_ERROR_MS) {
      return '';
    }
  }
  return `${error.code}: ${error.message}`;
}

/**
 * Returns the TARGET cell: the target and, when set, the remote host, with the port. A
 * remote port of 0 means that an RDS or ElastiCache lookup gives the port once a session
 * starts, so the cell leaves it out until the status has it.
 */
function targetCell(tunnel: TunnelStatus): string {
  const port = tunnel.remotePort === 0 ? '' : `:${tunnel.remotePort}`;
  return tunnel.remoteHost
    ? `${tunnel.target} → ${tunnel.remoteHost}${port}`
    : `${tunnel.target}${port}`;
}

/**
 * Renders the tunnels as a table. A failed or needs-login tunnel gets an indented `hint:` line
 * under its row, because the LAST ERROR column does not say what to do next. A listening or
 * connecting tunnel that closes connections at once gets the hint and when it tries again.
 */
export function statusTable(tunnels: TunnelStatus[], nowMs = Date.now()): string {
  const rows = [['NAME', 'STATE', 'LOCAL', 'TARGET', 'CONNS', 'IN', 'OUT', 'LAST ERROR']];
  for (const tunnel of tunnels) {
    rows.push([
      tunnel.name,
      tunnel.state,
      tunnel.localAddress,
      targetCell(tunnel),
      String(tunnel.activeConnections),
      formatBytes(tunnel.bytesIn),
      formatBytes(tunnel.bytesOut),
      lastErrorCell(tunnel, nowMs),
    ]);
  }
  const lines = formatTable(rows).split('\n');
  const output = [lines[0]!];
  tunnels.forEach((tunnel, index) => {
    output.push(lines[index + 1]!);
    if (isClosingAtOnce(tunnel)) {
      output.push(...closingAtOnceLines(tunnel));
      return;
    }
    const hint = tunnelHint(tunnel);
    if (hint) {
      output.push(`  hint: ${hint}`);
    }
  });
  return output.join('\n');
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'show every tunnel and its state',
  help: `Usage: bastionless status [--json] [--config FILE]

Prints one line per tunnel: state, local address, target, open connections, bytes in
and out, and the last error. An open tunnel shows an error of its current open period,
or one from the last 5 minutes, e.g. of the session it replaced. A failed or needs-login tunnel gets a second line with the
next step, e.g. the login command to run. A tunnel that closes connections at once,
because its sessions cannot start, gets the next step and the time of the next attempt.
Exits with code 1 when the daemon is not running or the config file is invalid.

  --json  print the tunnels as a JSON array of TunnelStatus objects

Examples:
  bastionless status
  bastionless status --json | jq '.[] | {name, state, lastError}'
  bastionless status --config ~/work/bastionless.json`,
  async run(argv) {
    const args = parseCommandArgs('status', argv, { json: { type: 'boolean' } });
    return runStatus(pathsFor(args), { json: args.values.json === true, renderTable: statusTable });
  },
};

/**
 * Renders the result of `up` or `down` for one tunnel. A failed or needs-login tunnel also gets
 * its error and, on the next line, the next step, because the state alone does not say why.
 */
export function upDownResult(tunnel: TunnelStatus): string {
  const where = tunnel.state === 'stopped' ? '' : ` on ${tunnel.localAddress}`;
  const head = `${tunnel.name}: ${tunnel.state}${where}`;
  if (!STATES_WITH_HINT.has(tunnel.state)) {
    return head;
  }
  const error = tunnel.lastError;
  const lines = [error ? `${head}: ${error.code}: ${error.message}` : head];
  const hint = tunnelHint(tunnel);
  if (hint) {
    lines.push(`  hint: ${hint}`);
  }
  return lines.join('\n');
}

/** The config file problem `GET /v1/status` reports while the daemon rejects its file. */
interface ConfigProblem {
  message: string;
}

/** Returns why the daemon rejects its config file, or null while it uses the current file. */
async function configProblemOf(client: DaemonClient): Promise<ConfigProblem | null> {
  const status = await client.request<{ configError: ConfigProblem | null }>('GET', '/v1/status');
  return status.configError;
}

/** Returns the config file the running daemon reads, or null when it is unknown. */
async function daemonConfigFile(paths: BastionlessPaths): Promise<string | null> {
  const probe = await probeDaemon(paths);
  return probe.state === 'running' ? (probe.configFile ?? null) : null;
}

/**
 * Returns the error for a name that no tunnel or group among `tunnels` has. While the daemon
 * reads a different config file from this command, the error names both files, because the name
 * may be defined in the file the daemon does not read. While the daemon rejects its config
 * file, the error leads with the file's problem, because the name may be defined in that file.
 */
function unknownNameError(
  name: string,
  tunnels: TunnelStatus[],
  configProblem: ConfigProblem | null,
  files: { daemon: string | null; command: string },
): CliError {
  if (files.daemon !== null && files.daemon !== files.command) {
    return new CliError(
      `no tunnel or group is named "${name}" in the running daemon, which reads config file ${files.daemon}, while this command reads and \`add\` writes ${files.command}`,
      EXIT_FAILURE,
      [
        `to use ${files.command}, restart the daemon with \`bastionless stop\` and \`bastionless start --config ${files.command}\``,
        `to keep the daemon's file, add the profile with \`bastionless add ... --config ${files.daemon}\` and run \`bastionless up ${name} --config ${files.daemon}\``,
      ],
    );
  }
  if (!configProblem) {
    return new CliError(
      `no tunnel or group is named "${name}"; list them with \`bastionless status\``,
    );
  }
  const count = tunnels.length;
  const loaded =
    count === 0
      ? `the daemon did not load this file and has no profiles, so no tunnel or group is named "${name}"`
      : `the daemon did not load this file and keeps the ${count} ${count === 1 ? 'profile' : 'profiles'} it loaded before, but no tunnel or group among them is named "${name}"`;
  return new CliError(configProblem.message, EXIT_FAILURE, [loaded]);
}

/**
 * Returns the warning `up` and `down` print before their result while the daemon rejects its
 * config file: the tunnel runs with the settings loaded before, which a user who just edited
 * the file would not expect.
 */
export function staleConfigWarning(configProblem: ConfigProblem): string {
  return `warning: the daemon did not load the current config file and uses the profiles it loaded before: ${configProblem.message}`;
}

/** Starts or stops a tunnel by name, or every tunnel of a group when no tunnel has the name. */
async function runUpDown(command: 'up' | 'down', argv: string[]): Promise<number> {
  const args = parseCommandArgs(command, argv, {});
  const name = requirePositional(command, args, 'tunnel or group name');
  const paths = pathsFor(args);
  const client = await DaemonClient.connect(paths);
  const action = command === 'up' ? 'start' : 'stop';
  const tunnels = await client.request<TunnelStatus[]>('GET', '/v1/tunnels');
  const configProblem = await configProblemOf(client);
  const isTunnel = tunnels.some((tunnel) => tunnel.name === name);
  if (!isTunnel && !tunnels.some((tunnel) => tunnel.groups.includes(name))) {
    throw unknownNameError(name, tunnels, configProblem, {
      daemon: await daemonConfigFile(paths),
      command: paths.configFile,
    });
  }
  if (configProblem) {
    process.stderr.write(`${staleConfigWarning(configProblem)}\n`);
  }
  const results = isTunnel
    ? [
        await client.request<TunnelStatus>(
          'POST',
          `/v1/tunnels/${encodeURIComponent(name)}/${action}`,
        ),
      ]
    : await client.request<TunnelStatus[]>(
        'POST',
        `/v1/groups/${encodeURIComponent(name)}/${action}`,
      );
  if (command === 'up' && process.stdin.isTTY) {
    // An assume-role profile with mfa_serial requests its code while the session starts.
    await promptForMfa(
      client,
      results.map((tunnel) => tunnel.name),
      MFA_PROMPT_WAIT_MS,
    );
  }
  for (const tunnel of results) {
    print(upDownResult(tunnel));
  }
  return results.some((tunnel) => tunnel.state === 'failed') ? 1 : 0;
}

export const upCommand: Command = {
  name: 'up',
  summary: 'start a tunnel or every tunnel of a group',
  help: `Usage: bastionless up NAME|GROUP [--config FILE]

Starts the tunnel called NAME, or every tunnel in GROUP when no tunnel has that name.
A tunnel that fails or needs a login is printed with its error and the next step. Exits
with 1 when a tunnel ends up failed. The daemon remembers the tunnels that are up, so a
restart of the daemon, even after a crash, opens them again.

Examples:
  bastionless up pg
  bastionless up prod
  bastionless up pg --config ~/work/bastionless.json`,
  run: (argv) => runUpDown('up', argv),
};

export const downCommand: Command = {
  name: 'down',
  summary: 'stop a tunnel or every tunnel of a group',
  help: `Usage: bastionless down NAME|GROUP [--config FILE]

Stops the tunnel called NAME, or every tunnel in GROUP, and terminates their sessions.
The tunnel stays down when the daemon restarts, unless its profile has autoStart.

Examples:
  bastionless down pg
  bastionless down prod`,
  run: (argv) => runUpDown('down', argv),
};

export const dashboardCommand: Command = {
  name: 'dashboard',
  summary: 'print the dashboard URL',
  help: `Usage: bastionless dashboard [--config FILE]

Prints the dashboard URL. The URL carries the API token after "#", which browsers do not
send to servers, so treat the URL like a password.

Examples:
  bastionless dashboard
  bastionless dashboard --config ~/work/bastionless.json`,
  async run(argv) {
    const args = parseCommandArgs('dashboard', argv, {});
    const client = await DaemonClient.connect(pathsFor(args));
    print(`${client.baseUrl}/#token=${client.token}`);
    return 0;
  },
};
