// `targets`: list the managed instances a profile could use.

import { listTargets } from '../aws/targets.js';
import { parseCommandArgs, stringOption } from './args.js';
import { print, type Command } from './command.js';
import {
  AWS_OPTIONS,
  AWS_OPTIONS_HELP,
  clientsForProfile,
  clientsFromOptions,
  findProfile,
  loadProfiles,
} from './commands/aws-support.js';

export const targetsCommand: Command = {
  name: 'targets',
  summary: 'list managed instances with ping status and agent version',
  help: `Usage: bastionless targets [--profile NAME | --region R ...] [--json]

Lists the managed instances of the region: instance id, ping status, agent version and
whether the agent multiplexes connections (agents newer than 3.0.196.0).

  --profile NAME       use the region, AWS profile and endpoints of this bastionless profile
${AWS_OPTIONS_HELP}
  --json               print a JSON array`,
  async run(argv) {
    const args = parseCommandArgs('targets', argv, {
      ...AWS_OPTIONS,
      profile: { type: 'string' },
      json: { type: 'boolean' },
    });
    const profileName = stringOption(args, 'profile');
    const clients =
      profileName === undefined
        ? clientsFromOptions('targets', args)
        : clientsForProfile(findProfile(loadProfiles(args), profileName));
    try {
      const targets = await listTargets(clients.ssm);
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
        target.pingStatus,
        target.agentVersion,
        target.supportsMux ? 'yes' : 'no',
        target.platformName ?? '',
        target.ipAddress ?? '',
      ]);
      const header = ['INSTANCE', 'PING', 'AGENT', 'MUX', 'PLATFORM', 'IP'];
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
