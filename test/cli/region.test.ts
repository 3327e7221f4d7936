// The region of add, targets and connect: --region, then AWS_REGION and AWS_DEFAULT_REGION,
// then `region` in the AWS profile's config section, with one wording when none is set.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { cliEnv, runCli } from './helpers.js';

let home: string;
let awsConfig: string;
let env: NodeJS.ProcessEnv;
let emulator: Emulator;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'bastionless-region-'));
  awsConfig = join(home, 'aws-config');
  writeFileSync(
    awsConfig,
    [
      '[profile base]',
      'region = us-east-1',
      'aws_access_key_id = AKIAEMULATOREXAMPLE',
      'aws_secret_access_key = emulator-secret',
      '[profile sso-only]',
      'sso_session = corp',
      '[sso-session corp]',
      'sso_region = eu-west-1',
      'sso_start_url = https://example.awsapps.com/start',
      '',
    ].join('\n'),
  );
  env = { ...cliEnv(home), AWS_CONFIG_FILE: awsConfig };
  delete env.AWS_REGION;
  emulator = await startEmulator({ pacing: false });
});

afterAll(async () => {
  await emulator.close();
  rmSync(home, { recursive: true, force: true });
});

const ADD_FLAGS = ['--target', 'i-0123456789abcdef0', '--remote-port', '80'];

function storedRegion(configFile: string, name: string): unknown {
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as {
    profiles: Array<{ name: string; region: unknown }>;
  };
  return config.profiles.find((profile) => profile.name === name)?.region;
}

describe('region resolution in the CLI', () => {
  it('add takes the region of the AWS profile', async () => {
    const configFile = join(home, 'add-profile.json');
    const result = await runCli(
      ['add', 'db', ...ADD_FLAGS, '--local-port', '18201', '--aws-profile', 'base'],
      { ...env, BASTIONLESS_CONFIG: configFile },
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`region us-east-1 from [profile base] in ${awsConfig}\n`);
    expect(storedRegion(configFile, 'db')).toBe('us-east-1');
  });

  it('add prefers AWS_REGION to the file', async () => {
    const configFile = join(home, 'add-env.json');
    const result = await runCli(
      ['add', 'db', ...ADD_FLAGS, '--local-port', '18202', '--aws-profile', 'base'],
      { ...env, BASTIONLESS_CONFIG: configFile, AWS_REGION: 'eu-central-1' },
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('region eu-central-1 from AWS_REGION\n');
    expect(storedRegion(configFile, 'db')).toBe('eu-central-1');
  });

  it('add without any region names the section', async () => {
    const configFile = join(home, 'add-none.json');
    const result = await runCli(['add', 'db', ...ADD_FLAGS, '--local-port', '18203'], {
      ...env,
      BASTIONLESS_CONFIG: configFile,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'bastionless: missing region: pass --region, set AWS_REGION, or set region in the ' +
        `[default] section of ${awsConfig}\n`,
    );
  });

  it('does not take sso_region as the region', async () => {
    const result = await runCli(['targets', '--aws-profile', 'sso-only'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'bastionless: missing region: pass --region, set AWS_REGION, or set region in the ' +
        `[profile sso-only] section of ${awsConfig}. Its sso_region eu-west-1 is only where ` +
        'IAM Identity Center sign-in goes, not the region of the SSM and EC2 calls\n',
    );
  });

  it('targets takes the region of the AWS profile', async () => {
    const result = await runCli(
      ['targets', '--aws-profile', 'base', '--endpoint-url', emulator.url, '--json'],
      env,
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const targets = JSON.parse(result.stdout) as Array<{ instanceId: string }>;
    expect(targets.map((target) => target.instanceId)).toContain('i-0123456789abcdef0');
  });

  it('connect without any region uses the same wording', async () => {
    const result = await runCli(['connect', ...ADD_FLAGS, '--local-port', '0'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'bastionless: missing region: pass --region, set AWS_REGION, or set region in the ' +
        `[default] section of ${awsConfig}\n`,
    );
  });
});
