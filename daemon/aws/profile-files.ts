// Locations of the AWS shared config files, a check whether they define a named profile, and
// the settings of one config section. With them, a missing profile or region is reported with
// the files that were read and the command or setting that fixes it.

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

/** Returns the config-file section header of an AWS profile: `default` or `profile NAME`. */
export function awsProfileSectionName(profile: string): string {
  return profile === 'default' ? 'default' : `profile ${profile}`;
}

/**
 * Returns the top-level `key = value` settings of section `[NAME]` of an INI text, with the
 * section name spaced as `iniSectionNames` returns it. A key with an empty value opens
 * sub-properties on the indented lines below it (e.g. `s3 =` then `  max_concurrent_requests
 * = 20`), which are skipped, as the SDK's parser (@smithy/core 3.41) nests them under the key.
 * A `#` or `;` that starts a line or follows a space starts a comment, as in that parser.
 */
export function iniSection(text: string, name: string): Map<string, string> {
  const settings = new Map<string, string>();
  let inSection = false;
  let inSubProperties = false;
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.split(/(?:^|\s)[;#]/)[0]!.trim();
    const header = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
    if (header) {
      inSection = header[1]!.replace(/\s+/g, ' ') === name;
      inSubProperties = false;
      continue;
    }
    const equals = line.indexOf('=');
    if (!inSection || equals <= 0) {
      continue;
    }
    const key = line.slice(0, equals).trim();
    const value = line.slice(equals + 1).trim();
    if (value === '') {
      inSubProperties = true;
    } else if (!inSubProperties || !/^\s/.test(rawLine)) {
      inSubProperties = false;
      settings.set(key, value);
    }
  }
  return settings;
}

/** Returns the settings of section `[NAME]` of the AWS config file, e.g. `sso-session corp`. */
export function awsConfigSection(
  name: string,
  files: Pick<AwsProfileFiles, 'configFile'>,
): Map<string, string> {
  return iniSection(readText(files.configFile), name);
}

/**
 * Returns the settings of AWS profile `profile` in the config file. For `default`, a
 * `[profile default]` section replaces `[default]`, as in the SDK's loader (@smithy/core 3.41).
 */
export function awsConfigProfileSettings(
  profile: string,
  files: Pick<AwsProfileFiles, 'configFile'>,
): Map<string, string> {
  const text = readText(files.configFile);
  if (profile === 'default') {
    const header = iniSectionNames(text).includes('profile default')
      ? 'profile default'
      : 'default';
    return iniSection(text, header);
  }
  return iniSection(text, awsProfileSectionName(profile));
}
