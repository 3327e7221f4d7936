import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAwsClientSet } from '../../daemon/aws/clients.js';
import { CachingCredentialsProvider } from '../../daemon/aws/credentials.js';
import { clearEnv } from '../helpers/env.js';
import {
  processKey,
  writeCredentialProcess,
  writeSsoSessionToken,
} from '../integration/helpers.js';
import { startAwsApiServer, type AwsApiServer } from './helpers/aws-api-server.js';
import { rejection } from './helpers/fixtures.js';

const REGION = 'us-east-1';
const ENV_KEYS = [
  'HOME',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_PROFILE',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
];

// Profile `admin` assumes a role from the static keys of `base`, with an MFA device.
const MFA_ROLE_CONFIG = [
  '[profile base]',
  'aws_access_key_id = AKIASTATIC00000001',
  'aws_secret_access_key = s3cret',
  '[profile admin]',
  'role_arn = arn:aws:iam::123456789012:role/Admin',
  'source_profile = base',
  'mfa_serial = arn:aws:iam::123456789012:mfa/alice',
  '',
].join('\n');

let server: AwsApiServer;
let dir: string;
let restoreEnv: () => void;

beforeAll(async () => {
  server = await startAwsApiServer({
    credentials: [
      { accessKeyId: 'AKIASTATIC00000001', arn: 'arn:aws:iam::123456789012:user/alice' },
      { accessKeyId: 'AKIAENVIRONMENT001', arn: 'arn:aws:iam::123456789012:user/env-user' },
    ],
  });
});

afterAll(async () => {
  await server.close();
});

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bastionless-credentials-'));
  restoreEnv = clearEnv(ENV_KEYS);
  process.env.HOME = dir;
  process.env.AWS_CONFIG_FILE = join(dir, 'config');
  process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'credentials');
  await writeFile(join(dir, 'credentials'), '');
});

afterEach(async () => {
  restoreEnv();
  await rm(dir, { recursive: true, force: true });
});

async function writeConfig(text: string): Promise<void> {
  await writeFile(join(dir, 'config'), text);
}

async function callerArn(provider: CachingCredentialsProvider): Promise<string | undefined> {
  const clients = createAwsClientSet({
    region: REGION,
    credentials: provider,
    endpoints: { sts: server.endpoint },
  });
  try {
    const identity = await clients.sts.send(new GetCallerIdentityCommand({}));
    return identity.Arn;
  } finally {
    clients.destroy();
  }
}

describe('CachingCredentialsProvider', () => {
  it('loads static keys from a profile', async () => {
    await writeConfig(
      '[profile static]\naws_access_key_id = AKIASTATIC00000001\naws_secret_access_key = s3cret\n',
    );
    const provider = new CachingCredentialsProvider({ region: REGION, awsProfile: 'static' });
    const credentials = await provider.provide();
    expect(credentials.accessKeyId).toBe('AKIASTATIC00000001');
    expect(provider.expiration).toBeUndefined();
    expect(await callerArn(provider)).toBe('arn:aws:iam::123456789012:user/alice');
    provider.close();
  });

  it('reads environment variables without a profile', async () => {
    process.env.AWS_ACCESS_KEY_ID = 'AKIAENVIRONMENT001';
    process.env.AWS_SECRET_ACCESS_KEY = 'env-secret';
    const provider = new CachingCredentialsProvider({ region: REGION });
    const credentials = await provider.provide();
    expect(credentials.accessKeyId).toBe('AKIAENVIRONMENT001');
    expect(await callerArn(provider)).toBe('arn:aws:iam::123456789012:user/env-user');
    provider.close();
  });

  it('runs credential_process once for concurrent callers', async () => {
    const script = await writeCredentialProcess(dir, 3_600_000);
    await writeConfig(`[profile tool]\ncredential_process = ${script.path}\n`);
    const provider = new CachingCredentialsProvider({ region: REGION, awsProfile: 'tool' });
    const [first, second] = await Promise.all([provider.provide(), provider.provide()]);
    expect(first.accessKeyId).toBe(processKey(1));
    expect(second.accessKeyId).toBe(processKey(1));
    expect(first.sessionToken).toBe('process-token-1');
    expect(provider.expiration).toBeInstanceOf(Date);
    expect(await script.runs()).toBe(1);

    const forced = await provider.forceRefresh();
    expect(forced.accessKeyId).toBe(processKey(2));
    expect((await provider.provide()).accessKeyId).toBe(processKey(2));
    provider.close();
  });

  it('refreshes expiring credentials before they expire', async () => {
    const lifetimeMs = 4_000;
    const script = await writeCredentialProcess(dir, lifetimeMs);
    await writeConfig(`[profile expiring]\ncredential_process = ${script.path}\n`);
    const provider = new CachingCredentialsProvider({
      region: REGION,
      awsProfile: 'expiring',
      refreshBeforeExpiryMs: 2_500,
    });
    const first = await provider.provide();
    const firstExpiration = first.expiration!.getTime();

    const refreshed = new Promise<Date | undefined>((resolve) =>
      provider.once('refreshed', resolve),
    );
    const nextExpiration = await refreshed;
    // The timer fires 2.5 s before the first expiration, so the old keys were still valid when
    // the script ran again. Its run time comes from the expiration it printed, because the
    // 'refreshed' event also waits for the process to exit, which a loaded machine delays.
    const secondRunAt = nextExpiration!.getTime() - lifetimeMs;
    expect(secondRunAt).toBeLessThan(firstExpiration);
    expect(nextExpiration!.getTime()).toBeGreaterThan(firstExpiration);
    const second = await provider.provide();
    expect(second.accessKeyId).toBe(processKey(2));
    provider.close();
  });

  it('maps an expired SSO session to needs-login', async () => {
    const startUrl = 'https://example-team.awsapps.com/start';
    await writeConfig(
      [
        '[profile sso-dev]',
        `sso_start_url = ${startUrl}`,
        'sso_region = us-east-1',
        'sso_account_id = 123456789012',
        'sso_role_name = Developer',
        'region = us-east-1',
        '',
      ].join('\n'),
    );

    // A legacy SSO profile's token is cached under the SHA-1 of its start URL.
    await writeSsoSessionToken(dir, startUrl, {
      startUrl,
      region: 'us-east-1',
      accessToken: 'expired-token',
      expiresAt: new Date(Date.now() - 60_000).toISOString(),
    });

    const provider = new CachingCredentialsProvider({ region: REGION, awsProfile: 'sso-dev' });
    const error = await rejection(provider.provide());
    expect(error.code).toBe('ERR_NEEDS_LOGIN');
    expect(error.hint).toContain('aws sso login --profile sso-dev');
    provider.close();
  });

  it('asks the MFA hook when assuming a role', async () => {
    await writeConfig(MFA_ROLE_CONFIG);
    const serials: string[] = [];
    const provider = new CachingCredentialsProvider({
      region: REGION,
      awsProfile: 'admin',
      stsEndpoint: server.endpoint,
      mfaCodeProvider: async (serial) => {
        serials.push(serial);
        return '123456';
      },
    });
    const credentials = await provider.provide();
    expect(serials).toEqual(['arn:aws:iam::123456789012:mfa/alice']);
    expect(credentials.accessKeyId).toMatch(/^ASIA/);
    expect(credentials.sessionToken).toBeTruthy();
    const assumeCall = server.state.calls.find((call) => call.operation === 'sts:AssumeRole');
    expect(assumeCall).toBeDefined();
    expect((assumeCall!.input as Record<string, string>).TokenCode).toBe('123456');
    expect(await callerArn(provider)).toMatch(/^arn:aws:sts::123456789012:assumed-role\/Admin\//);
    provider.close();
  });

  it('maps a wrong MFA code to needs-login', async () => {
    await writeConfig(MFA_ROLE_CONFIG);
    const provider = new CachingCredentialsProvider({
      region: REGION,
      awsProfile: 'admin',
      stsEndpoint: server.endpoint,
      mfaCodeProvider: async () => 'not-a-code',
    });
    const error = await rejection(provider.provide());
    expect(error.code).toBe('ERR_NEEDS_LOGIN');
    provider.close();
  });
});
