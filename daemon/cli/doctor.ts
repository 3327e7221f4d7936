// `doctor`: run the setup checks for one profile or for all of them.

import { formatDoctorReport, runDoctor, type DoctorReport } from '../aws/doctor.js';
import type { Profile, TunnelStatus } from '../config/types.js';
import type { BastionlessPaths } from '../paths.js';
import { parseCommandArgs } from './args.js';
import { DaemonClient } from './client.js';
import { pathsFor, print, type Command } from './command.js';
import { EXIT_FAILURE, EXIT_USAGE, CliError } from './errors.js';
import { clientsForProfile, findProfile, loadProfiles } from './commands/aws-support.js';

/**
 * Returns a check that queries the running daemon's API whether the profile's tunnel holds its local
 * port. Without a running daemon the check resolves false.
 */
function ownTunnelChecker(paths: BastionlessPaths): (profile: Profile) => Promise<boolean> {
  return async (profile) => {
    let client: DaemonClient;
    try {
      client = DaemonClient.fromState(paths);
    } catch {
      return false;
    }
    const tunnels = await client.request<TunnelStatus[]>('GET', '/v1/tunnels');
    const tunnel = tunnels.find((candidate) => candidate.name === profile.name);
    return (
      tunnel !== undefined &&
      tunnel.state !== 'stopped' &&
      tunnel.localAddress.endsWith(`:${profile.localPort}`)
    );
  };
}

export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'check credentials, target, permissions and network for profiles',
  help: `Usage: bastionless doctor [PROFILE] [--json] [--config FILE]

Checks, for PROFILE or for every profile: region, credentials (and when they expire),
target managed and Online, agent version, permission to start a session (a session is
started and terminated at once), remote host, the agent's route to Systems Manager (public
IP, VPC endpoints for ssm and ssmmessages, or NAT) and whether the local port is free or
held by the profile's own running tunnel. Each failing check prints what to do. Exits with
1 when a check fails or the profile is unknown, and 2 for a usage error.

  --json  print the reports as a JSON array`,
  async run(argv) {
    const args = parseCommandArgs('doctor', argv, { json: { type: 'boolean' } });
    if (args.positionals.length > 1) {
      throw new CliError(
        `unexpected argument "${args.positionals[1]}"; see \`bastionless doctor --help\``,
        EXIT_USAGE,
      );
    }
    const profiles = loadProfiles(args);
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
