// resolveRegion, ssoRegion and missingRegionMessage: the order of the region sources and
// the sections of the AWS config file they read.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingRegionMessage, resolveRegion, ssoRegion } from '../../daemon/aws/region.js';

let dir: string;
let configFile: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bastionless-region-unit-'));
  configFile = join(dir, 'config');
  writeFileSync(
    configFile,
    [
      '[default]',
      'region = ap-south-1',
      '[profile base]',
      'region = us-east-1 # the main account',
      's3 =',
      '  region = eu-north-1',
      '[profile legacy-sso]',
      'sso_region = eu-west-1',
      '',
    ].join('\n'),
  );
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = (extra: NodeJS.ProcessEnv = {}) => ({ AWS_CONFIG_FILE: configFile, ...extra });

describe('resolveRegion', () => {
  it('prefers the flag', () => {
    const resolved = resolveRegion({ flag: 'eu-west-3', env: env({ AWS_REGION: 'us-west-2' }) });
    expect(resolved).toEqual({ region: 'eu-west-3', source: '--region' });
  });

  it('reads AWS_REGION before AWS_DEFAULT_REGION', () => {
    const both = env({ AWS_REGION: 'us-west-2', AWS_DEFAULT_REGION: 'us-west-1' });
    expect(resolveRegion({ env: both })?.source).toBe('AWS_REGION');
    const onlyDefault = env({ AWS_DEFAULT_REGION: 'us-west-1' });
    expect(resolveRegion({ env: onlyDefault })).toEqual({
      region: 'us-west-1',
      source: 'AWS_DEFAULT_REGION',
    });
  });

  it('reads the named profile, not sub-properties', () => {
    expect(resolveRegion({ awsProfile: 'base', env: env() })).toEqual({
      region: 'us-east-1',
      source: `[profile base] in ${configFile}`,
    });
  });

  it('uses AWS_PROFILE, then default', () => {
    expect(resolveRegion({ env: env({ AWS_PROFILE: 'base' }) })?.region).toBe('us-east-1');
    expect(resolveRegion({ env: env() })?.region).toBe('ap-south-1');
  });

  it('skips sso_region', () => {
    expect(resolveRegion({ awsProfile: 'legacy-sso', env: env() })).toBeUndefined();
  });

  it('finds nothing without a config file', () => {
    const missing = { AWS_CONFIG_FILE: join(dir, 'absent') };
    expect(resolveRegion({ awsProfile: 'base', env: missing })).toBeUndefined();
  });
});

describe('ssoRegion', () => {
  it('reads a legacy SSO profile', () => {
    expect(ssoRegion('legacy-sso', { configFile, credentialsFile: '/dev/null' })).toBe('eu-west-1');
  });

  it('returns undefined without SSO', () => {
    expect(ssoRegion('base', { configFile, credentialsFile: '/dev/null' })).toBeUndefined();
  });
});

describe('missingRegionMessage', () => {
  it('names the section and file', () => {
    expect(missingRegionMessage({ awsProfile: 'other', env: env() })).toBe(
      'missing region: pass --region, set AWS_REGION, or set region in the ' +
        `[profile other] section of ${configFile}`,
    );
  });

  it('explains an sso_region', () => {
    expect(missingRegionMessage({ awsProfile: 'legacy-sso', env: env() })).toContain(
      'Its sso_region eu-west-1 is only where IAM Identity Center sign-in goes',
    );
  });
});
