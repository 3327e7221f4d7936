// `targets`: list the managed instances a profile could use.

import { listTargets } from '../aws/targets.js';
import { classifyError } from '../errors.js';
import { parseCommandArgs, stringOption } from './args.js';
import { print, type Command } from './command.js';
import { CliError } from './errors.js';
import {
  AWS_OPTIONS,
  AWS_OPTIONS_HELP,
  clientsForProfile,
  clientsFromOptions,
  findProfile,
  flagsContext,
  loadProfiles,
  withSettingsHint,
} from './commands/aws-support.js';

/** Rewrites a network failure as one sentence with the fix; returns null for other errors. */
function unreachableEndpoint(error: unknown): CliError | null {
  const classified = classifyError(error);
  if (classified.code !== 'ERR_ENDPOINT_UNREACHABLE') {
    return null;
  }
  return new CliError(
    `the SSM endpoint is unreachable (${classified.message}); check the network, or pass ` +
      '--endpoint-url URL for the emulator or a proxy, or --ssm-endpoint URL for a VPC endpoint',
  );
}

export const targetsCommand: Command = {
  name: 'targets',
  summary: 'list managed instances with ping status and agent version',
  help: `Usage: bastionless targets [--tunnel-profile NAME | --region R ...] [--json]

Lists the managed instances of the region: instance id, Name tag (the value to give
\`--target-tag Name=VALUE\`), ping status, agent version and whether the agent multiplexes
connections (agents newer than 3.0.196.0). The Name tag needs ec2:DescribeInstances.

  --tunnel-profile NAME
                       use the region, AWS profile and endpoints of this bastionless
                       profile (--profile is an older alias)
${AWS_OPTIONS_HELP}
  --json               print a JSON array

Examples:
  bastionless targets --region eu-west-1
  bastionless targets --tunnel-profile orders-db
  bastionless targets --aws-profile prod --region eu-west-1 --json`,
  async run(argv) {
    const args = parseCommandArgs('targets', argv, {
      ...AWS_OPTIONS,
      'tunnel-profile': { type: 'string' },
      profile: { type: 'string' },
      json: { type: 'boolean' },
    });
    const profileName = stringOption(args, 'tunnel-profile') ?? stringOption(args, 'profile');
    const profile =
      profileName === undefined ? undefined : findProfile(loadProfiles(args), profileName);
    const clients =
      profile === undefined ? clientsFromOptions('targets', args) : clientsForProfile(profile);
    try {
      let listing;
      try {
        listing = await listTargets(clients.ssm, clients.ec2);
      } catch (error) {
        const context =
          profile === undefined
            ? flagsContext(args)
            : { awsProfile: profile.awsProfile, profileName: profile.name };
        throw unreachableEndpoint(error) ?? withSettingsHint(error, context);
      }
      const targets = listing.instances;
      if (listing.namesError !== null && targets.length > 0) {
        const reason = classifyError(listing.namesError).message;
        process.stderr.write(
          `warning: reading Name tags failed (${reason}); NAME is empty. ` +
            'Allow ec2:DescribeInstances to see them.\n',
        );
      }
      if (args.values.json) {
        print(JSON.stringify(targets, null, 2));
        return 0;
      }
      if (targets.length === 0) {
        print(`no managed instances in ${clients.region}`);
        return 0;
      }
      const rows = targets.map((target) => [
        target.instanceId,
        target.name ?? '',
        target.pingStatus,
        target.agentVersion,
        target.supportsMux ? 'yes' : 'no',
        target.platformName ?? '',
        target.ipAddress ?? '',
      ]);
      const header = ['INSTANCE', 'NAME', 'PING', 'AGENT', 'MUX', 'PLATFORM', 'IP'];
      const widths = header.map((title, column) =>
        Math.max(title.length, ...rows.map((row) => row[column]!.length)),
      );
      for (const row of [header, ...rows]) {
        print(
          row
            .map((cell, column) => cell.padEnd(widths[column]!))
            .join('  ')
            .trimEnd(),
        );
      }
      return 0;
    } finally {
      clients.destroy();
    }
  },
};
