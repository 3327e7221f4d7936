// Helpers shared by the CLI commands that call AWS directly (doctor, targets, profiles):
// loading profiles, building clients and asking for MFA codes on the terminal.

import { createInterface } from 'node:readline/promises';
import { createAwsClientSet, type AwsClientSet } from '../../aws/clients.js';
import type { MfaCodeProvider } from '../../aws/credentials.js';
import { ConfigStore } from '../../config/store.js';
import type { Profile } from '../../config/types.js';
import { requireRegion, stringOption, type OptionSpec, type ParsedArgs } from '../args.js';
import { pathsFor } from '../command.js';
import { CliError, configFileError } from '../errors.js';

/** Options of commands that reach AWS without a bastionless profile. */
export const AWS_OPTIONS: OptionSpec = {
  region: { type: 'string' },
  'aws-profile': { type: 'string' },
  'endpoint-url': { type: 'string' },
  'ssm-endpoint': { type: 'string' },
};

export const AWS_OPTIONS_HELP = `  --region R           AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, or region in
                       the AWS profile's section of ~/.aws/config)
  --aws-profile NAME   named profile from ~/.aws/config (default: the default chain)
  --endpoint-url URL   endpoint for every AWS service, e.g. the local emulator or a proxy
  --ssm-endpoint URL   endpoint for SSM only, e.g. a VPC endpoint; wins over --endpoint-url`;

/**
 * Asks for an MFA code on the terminal. The code goes to STS only: it is neither printed
 * nor stored.
 */
export const promptMfaCode: MfaCodeProvider = async (mfaSerial) => {
  if (!process.stdin.isTTY) {
    throw new CliError(
      `an MFA code for ${mfaSerial} is required, but stdin is not a terminal; run the command in a terminal`,
    );
  }
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await prompt.question(`MFA code for ${mfaSerial}: `)).trim();
  } finally {
    prompt.close();
  }
};

export function loadProfiles(args: ParsedArgs): Profile[] {
  const store = new ConfigStore({ file: pathsFor(args).configFile });
  const profiles = store.load();
  if (store.error) {
    throw configFileError(store.error);
  }
  return profiles;
}

export function findProfile(profiles: Profile[], name: string): Profile {
  const profile = profiles.find((candidate) => candidate.name === name);
  if (!profile) {
    const known = profiles.map((candidate) => candidate.name).join(', ') || 'none';
    throw new CliError(`profile "${name}" not found; known profiles: ${known}`);
  }
  return profile;
}

export function clientsForProfile(profile: Profile): AwsClientSet {
  return createAwsClientSet({
    region: profile.region,
    awsProfile: profile.awsProfile,
    endpoints: profile.endpoints,
    mfaCodeProvider: promptMfaCode,
  });
}

type AwsEndpointFlags = Profile['endpoints'];

/** Clients from --region, --aws-profile and --endpoint-url. */
export function clientsFromOptions(command: string, args: ParsedArgs): AwsClientSet {
  const awsProfile = stringOption(args, 'aws-profile');
  const { region } = requireRegion(command, { flag: stringOption(args, 'region'), awsProfile });
  const endpoint = stringOption(args, 'endpoint-url');
  const endpoints: AwsEndpointFlags = endpoint
    ? { ssm: endpoint, ec2: endpoint, sts: endpoint, rds: endpoint, elasticache: endpoint }
    : {};
  const ssmEndpoint = stringOption(args, 'ssm-endpoint');
  if (ssmEndpoint !== undefined) {
    endpoints.ssm = ssmEndpoint;
  }
  return createAwsClientSet({
    region,
    awsProfile,
    endpoints,
    mfaCodeProvider: promptMfaCode,
  });
}
