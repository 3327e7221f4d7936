// The AWS region a command calls, resolved in the order the AWS CLI v2 uses: the --region
// option, then AWS_REGION and AWS_DEFAULT_REGION, then `region` in the config-file section
// of the named profile (--aws-profile, else AWS_PROFILE, else default).

import {
  awsConfigProfileSettings,
  awsProfileFiles,
  awsConfigSection,
  awsProfileSectionName,
  type AwsProfileFiles,
} from './profile-files.js';

/** AWS region names such as us-east-1, eu-central-2 or us-gov-west-1. */
export const AWS_REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/** Environment variables that set the region, in the order they are read. */
const REGION_VARIABLES = ['AWS_REGION', 'AWS_DEFAULT_REGION'] as const;

export interface RegionRequest {
  /** Value of the --region option, if given. */
  flag?: string;
  /** Value of the --aws-profile option, if given. */
  awsProfile?: string;
  /** Environment with the AWS_* variables and HOME; default process.env. */
  env?: NodeJS.ProcessEnv;
}

export interface ResolvedRegion {
  region: string;
  /** Origin of the region for messages: `--region`, a variable name or `[SECTION] in FILE`. */
  source: string;
}

/** Returns the AWS profile whose config section is read: the option, AWS_PROFILE or default. */
export function effectiveAwsProfile(request: RegionRequest): string {
  const env = request.env ?? process.env;
  return request.awsProfile || env.AWS_PROFILE || 'default';
}

/** Resolves the region of `request`, or returns undefined when no source sets one. */
export function resolveRegion(request: RegionRequest): ResolvedRegion | undefined {
  if (request.flag) {
    return { region: request.flag, source: '--region' };
  }
  const env = request.env ?? process.env;
  for (const variable of REGION_VARIABLES) {
    const value = env[variable];
    if (value) {
      return { region: value, source: variable };
    }
  }
  const profile = effectiveAwsProfile(request);
  const files = awsProfileFiles(env);
  const region = awsConfigProfileSettings(profile, files).get('region');
  if (region) {
    return { region, source: `[${awsProfileSectionName(profile)}] in ${files.configFile}` };
  }
  return undefined;
}

/**
 * Returns the `sso_region` of `profile`: from its own section (legacy SSO settings) or from
 * the `[sso-session NAME]` section it names. The SDK sends only the IAM Identity Center
 * sign-in and role-credential calls there, so it never serves as the service region.
 */
export function ssoRegion(profile: string, files: AwsProfileFiles): string | undefined {
  const settings = awsConfigProfileSettings(profile, files);
  const own = settings.get('sso_region');
  if (own) {
    return own;
  }
  const session = settings.get('sso_session');
  if (!session) {
    return undefined;
  }
  return awsConfigSection(`sso-session ${session}`, files).get('sso_region') || undefined;
}

/**
 * Returns the one wording of a missing region for every command. When the profile has an
 * sso_region, the message explains why that does not count.
 */
export function missingRegionMessage(request: RegionRequest): string {
  const env = request.env ?? process.env;
  const profile = effectiveAwsProfile(request);
  const files = awsProfileFiles(env);
  const section = awsProfileSectionName(profile);
  const message =
    'missing region: pass --region, set AWS_REGION, or set region in the ' +
    `[${section}] section of ${files.configFile}`;
  const sso = ssoRegion(profile, files);
  if (sso === undefined) {
    return message;
  }
  return (
    `${message}. Its sso_region ${sso} is only where IAM Identity Center sign-in goes, ` +
    'not the region of the SSM and EC2 calls'
  );
}
