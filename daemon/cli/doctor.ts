// `doctor`: run the setup checks for one profile or for all of them.

import {
  formatDoctorReport,
  runDoctor,
  type DoctorReport,
  type UnresponsiveDaemon,
} from '../aws/doctor.js';
import { ConfigStore } from '../config/store.js';
import type { Profile, TunnelState, TunnelStatus } from '../config/types.js';
import type { BastionlessPaths } from '../paths.js';
import { parseCommandArgs, type ParsedArgs } from './args.js';
import { DaemonClient } from './client.js';
import { pathsFor, print, type Command } from './command.js';
import { configFileError, EXIT_FAILURE, EXIT_USAGE, CliError } from './errors.js';
import { clientsForProfile, findProfile } from './commands/aws-support.js';
import { UnresponsiveDaemonError } from './unresponsive.js';

/**
 * States in which a tunnel's listeners are bound. A failed tunnel has closed them (or never
 * bound them, e.g. on ERR_PORT_IN_USE), and a stopped one has released the port.
 */
const LISTENING_STATES: ReadonlySet<TunnelState> = new Set<TunnelState>([
  'listening',
  'connecting',
  'open',
  'reconnecting',
  'needs-login',
]);

/** Returns true when `tunnel` is in a state with bound listeners and listens on `port`. */
export function listensOnPort(tunnel: TunnelStatus, port: number): boolean {
  return LISTENING_STATES.has(tunnel.state) && tunnel.localAddress.endsWith(`:${port}`);
}

/** Returns true when `tunnel` is the profile's tunnel and listens on the profile's local port. */
export function holdsLocalPort(tunnel: TunnelStatus | undefined, profile: Profile): boolean {
  return (
    tunnel !== undefined && tunnel.name === profile.name && listensOnPort(tunnel, profile.localPort)
  );
}

/**
 * Returns a check that queries the running daemon's API whether the profile's tunnel holds its local
 * port. Without a running daemon the check resolves false. A daemon that owns the state
 * directory lock but does not respond resolves to its pid and the suspended or hung message.
 */
function ownTunnelChecker(
  paths: BastionlessPaths,
): (profile: Profile) => Promise<boolean | UnresponsiveDaemon> {
  return async (profile) => {
    let client: DaemonClient;
    try {
      client = await DaemonClient.connect(paths);
    } catch (error) {
      if (error instanceof UnresponsiveDaemonError) {
        return {
          pid: error.daemon.pid,
          problem: error.message,
          nextStep: error.details.join(' '),
        };
      }
      return false;
    }
    const tunnels = await client.request<TunnelStatus[]>('GET', '/v1/tunnels');
    return holdsLocalPort(
      tunnels.find((candidate) => candidate.name === profile.name),
      profile,
    );
  };
}

function loadDoctorProfiles(args: ParsedArgs): Profile[] {
  const store = new ConfigStore({ file: pathsFor(args).configFile });
  const profiles = store.load();
  if (store.error) {
    throw configFileError(store.error);
  }
  return profiles;
}

export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'check credentials, target, permissions and network for profiles',
  help: `Usage: bastionless doctor [PROFILE] [--json] [--config FILE]

Checks, for PROFILE or for every profile: region, credentials (and when they expire),
target managed and Online, agent version, permission to start a session (a session is
started and terminated at once), remote host, the agent's route to Systems Manager (public
IP, VPC endpoints for ssm and ssmmessages, plus ec2messages for agents before 3.x, or NAT)
and whether the local port is free or held by the profile's own listening tunnel. A busy
port names the process that holds it. Each failing check prints what to do. Doctor reads
the config file but never writes it. Exits with 1 when a check fails or the profile is
unknown, and 2 for a usage error.

  --json  print the reports as a JSON array

Examples:
  bastionless doctor
  bastionless doctor orders-db
  bastionless doctor --json > doctor.json`,
  async run(argv) {
    const args = parseCommandArgs('doctor', argv, { json: { type: 'boolean' } });
    if (args.positionals.length > 1) {
      throw new CliError(
        `unexpected argument "${args.positionals[1]}"; see \`bastionless doctor --help\``,
        EXIT_USAGE,
      );
    }
    const profiles = loadDoctorProfiles(args);
    const name = args.positionals[0];
    const selected = name === undefined ? profiles : [findProfile(profiles, name)];
    if (selected.length === 0) {
      throw new CliError('no profiles to check; add one with `bastionless add`');
    }
    const reports: DoctorReport[] = [];
    const isOwnTunnelRunning = ownTunnelChecker(pathsFor(args));
    for (const profile of selected) {
      const clients = clientsForProfile(profile);
      try {
        reports.push(await runDoctor(profile, { clients, isOwnTunnelRunning }));
      } finally {
        clients.destroy();
      }
    }
    print(
      args.values.json
        ? JSON.stringify(reports, null, 2)
        : reports.map(formatDoctorReport).join('\n\n'),
    );
    return reports.every((report) => report.ok) ? 0 : EXIT_FAILURE;
  },
};
