// Helpers shared by the CLI commands that call AWS directly (doctor, targets, profiles):
// loading profiles, building clients, asking for MFA codes on the terminal and wording
// credential hints for the command.

import { createInterface } from 'node:readline/promises';
import { createAwsClientSet, type AwsClientSet } from '../../aws/clients.js';
import type { MfaCodeProvider } from '../../aws/credentials.js';
import { ConfigStore } from '../../config/store.js';
import type { Profile } from '../../config/types.js';
import { BastionlessError, classifyError, type ClassifyContext } from '../../errors.js';
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

/** Codes whose hint names the place to set the AWS profile. */
const SETTINGS_HINT_CODES: ReadonlySet<string> = new Set([
  'ERR_NO_CREDENTIALS',
  'ERR_AWS_PROFILE_NOT_FOUND',
]);

/**
 * Classifies a credential error again with the source of the command's AWS settings, so its
 * hint names the right option: --aws-profile of the command (`settings: 'flags'`) or
 * `bastionless edit NAME` of a tunnel profile. The credential provider classifies its errors
 * without knowing the command, so its hint always names `bastionless edit NAME`. Other errors
 * are returned as they are.
 */
export function withSettingsHint(error: unknown, context: ClassifyContext): unknown {
  if (
    !(error instanceof BastionlessError) ||
    !SETTINGS_HINT_CODES.has(error.code) ||
    error.cause === undefined
  ) {
    return error;
  }
  const reclassified = classifyError(error.cause, context);
  return reclassified.code === error.code ? reclassified : error;
}

/** Returns the context for withSettingsHint of a command that takes AWS_OPTIONS. */
export function flagsContext(args: ParsedArgs): ClassifyContext {
  return { awsProfile: stringOption(args, 'aws-profile'), settings: 'flags' };
}
