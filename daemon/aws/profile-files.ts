// Locations of the AWS shared config files, and a check whether they define a named
// profile, so a missing profile is reported with the files that were read and the command
// that creates it.

import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface AwsProfileFiles {
  /** AWS_CONFIG_FILE, or ~/.aws/config. */
  configFile: string;
  /** AWS_SHARED_CREDENTIALS_FILE, or ~/.aws/credentials. */
  credentialsFile: string;
}

/**
 * Returns the two files the AWS SDK reads named profiles from, resolved as its shared INI file
 * loader (@smithy/core 3) resolves them: the variable first, then HOME or USERPROFILE.
 */
export function awsProfileFiles(env: NodeJS.ProcessEnv = process.env): AwsProfileFiles {
  const home = env.HOME || env.USERPROFILE || homedir();
  return {
    configFile: env.AWS_CONFIG_FILE || join(home, '.aws', 'config'),
    credentialsFile: env.AWS_SHARED_CREDENTIALS_FILE || join(home, '.aws', 'credentials'),
  };
}

/** Returns the section names of an INI text, e.g. `profile dev` and `default`. */
export function iniSectionNames(text: string): string[] {
  const names: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*\[\s*([^\]]+?)\s*\]/.exec(line);
    if (match) {
      names.push(match[1]!.replace(/\s+/g, ' '));
    }
  }
  return names;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    // A missing or unreadable file defines no profile, as the SDK treats it.
    return '';
  }
}

/**
 * Returns true when `profile` has a section in either file: `[profile NAME]` (or `[default]`)
 * in the config file, `[NAME]` in the credentials file. The SDK ignores a `[NAME]` section
 * of the config file for any profile but default, so such a section does not count.
 */
export function awsProfileDefined(profile: string, files: AwsProfileFiles): boolean {
  const configSections = new Set(iniSectionNames(readText(files.configFile)));
  if (configSections.has(`profile ${profile}`)) {
    return true;
  }
  if (profile === 'default' && configSections.has('default')) {
    return true;
  }
  return iniSectionNames(readText(files.credentialsFile)).includes(profile);
}
