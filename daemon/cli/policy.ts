// `policy`: print the least-privilege IAM policy for the configured profiles.

import { buildPolicy } from '../aws/policy.js';
import { parseCommandArgs, stringOption } from './args.js';
import { print, type Command } from './command.js';
import { CliError, EXIT_USAGE } from './errors.js';
import { findProfile, loadProfiles } from './commands/aws-support.js';

export const policyCommand: Command = {
  name: 'policy',
  summary: 'print the IAM policy the profiles need',
  help: `Usage: bastionless policy [PROFILE...] [--not-before ISO] [--not-after ISO] [--account ID]

Prints an IAM policy (JSON) that allows exactly what bastionless does for the given profiles,
or for every profile: ssm:StartSession on the targets and port-forwarding documents, resume
and terminate of the caller's own sessions, and the Describe calls the profiles need.

  --not-before ISO   grant nothing before this time, e.g. 2026-01-31T08:00:00Z
  --not-after ISO    grant nothing after this time
  --account ID       12-digit account id for instance ARNs (default *)

Examples:
  bastionless policy > bastionless-policy.json
  bastionless policy orders-db --account 123456789012
  bastionless policy --not-before 2026-01-31T08:00:00Z --not-after 2026-01-31T18:00:00Z`,
  async run(argv) {
    const args = parseCommandArgs('policy', argv, {
      'not-before': { type: 'string' },
      'not-after': { type: 'string' },
      account: { type: 'string' },
    });
    const accountId = stringOption(args, 'account');
    if (accountId !== undefined && !/^\d{12}$/.test(accountId)) {
      throw new CliError(`--account "${accountId}" is not a 12-digit AWS account id`, EXIT_USAGE);
    }
    const profiles = loadProfiles(args);
    const selected =
      args.positionals.length === 0
        ? profiles
        : args.positionals.map((name) => findProfile(profiles, name));
    if (selected.length === 0) {
      throw new CliError('no profiles; add one with `bastionless add`');
    }
    try {
      const policy = buildPolicy(selected, {
        notBefore: stringOption(args, 'not-before'),
        notAfter: stringOption(args, 'not-after'),
        accountId,
      });
      print(JSON.stringify(policy, null, 2));
    } catch (error) {
      if (error instanceof RangeError) {
        throw new CliError(error.message, EXIT_USAGE);
      }
      throw error;
    }
    return 0;
  },
};
