// awsProfileFiles and awsProfileDefined: the files a named AWS profile is looked up in, and
// which section names define it there.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  awsProfileDefined,
  awsProfileFiles,
  iniSectionNames,
  type AwsProfileFiles,
} from '../../daemon/aws/profile-files.js';

describe('awsProfileFiles', () => {
  it('uses the AWS_* variables first', () => {
    const files = awsProfileFiles({
      HOME: '/home/u',
      AWS_CONFIG_FILE: '/etc/aws-config',
      AWS_SHARED_CREDENTIALS_FILE: '/etc/aws-credentials',
    });
    expect(files).toEqual({
      configFile: '/etc/aws-config',
      credentialsFile: '/etc/aws-credentials',
    });
  });

  it('falls back to ~/.aws', () => {
    const files = awsProfileFiles({ HOME: '/home/u' });
    expect(files.configFile).toBe(join('/home/u', '.aws', 'config'));
    expect(files.credentialsFile).toBe(join('/home/u', '.aws', 'credentials'));
  });
});

describe('iniSectionNames', () => {
  it('lists sections with spaces normalised', () => {
    const text =
      '[default]\nregion = x\n  [ profile   dev ]\n# [profile commented]\n[sso-session corp]';
    expect(iniSectionNames(text)).toEqual(['default', 'profile dev', 'sso-session corp']);
  });
});

describe('awsProfileDefined', () => {
  let dir: string;
  let files: AwsProfileFiles;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bastionless-profile-files-'));
    files = { configFile: join(dir, 'config'), credentialsFile: join(dir, 'credentials') };
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('finds nothing without files', () => {
    expect(awsProfileDefined('dev', files)).toBe(false);
  });

  it('finds [profile NAME] in the config file', async () => {
    await writeFile(files.configFile, '[profile dev]\nregion = us-east-1\n');
    expect(awsProfileDefined('dev', files)).toBe(true);
    expect(awsProfileDefined('prod', files)).toBe(false);
  });

  it('ignores [NAME] in the config file', async () => {
    await writeFile(files.configFile, '[dev]\nregion = us-east-1\n');
    expect(awsProfileDefined('dev', files)).toBe(false);
  });

  it('finds [default] in the config file', async () => {
    await writeFile(files.configFile, '[default]\nregion = us-east-1\n');
    expect(awsProfileDefined('default', files)).toBe(true);
  });

  it('finds [NAME] in the credentials file', async () => {
    await writeFile(files.credentialsFile, '[dev]\naws_access_key_id = AKIAEXAMPLE\n');
    expect(awsProfileDefined('dev', files)).toBe(true);
  });
});
