// CachingCredentialsProvider with IAM Identity Center profiles of the `[sso-session NAME]`
// style, against the stand-in SSO portal and SSO-OIDC service on 127.0.0.1.

import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { CachingCredentialsProvider } from '../../daemon/aws/credentials.js';
import {
  cleanupAfterEach,
  createTestHome,
  REFRESHABLE_SSO_FIELDS,
  SSO_REFRESH_GRANT,
  SSO_REFRESH_REQUEST,
  ssoSessionConfig,
  ssoSessionToken,
  startSsoPortal,
  writeSsoSessionToken,
  type SsoPortal,
  type SsoPortalOptions,
  type SsoSessionToken,
  type TestHome,
} from '../integration/helpers.js';
import { rejection } from './helpers/fixtures.js';

const ROLE_KEY = 'ASIASSOSESSION0001';
const onCleanup = cleanupAfterEach();

// The SDK (token-providers 3.1177) skips a refresh within 30 seconds of the last attempt for
// the same session name, in module state, so every test uses its own session name.

interface Setup {
  home: TestHome;
  portal: SsoPortal;
  /** A second portal given as the STS endpoint: the SSO calls must never reach it. */
  stsStandIn: SsoPortal;
  provider(awsProfile: string): CachingCredentialsProvider;
}

async function setup(config: string, portalOptions: SsoPortalOptions = {}): Promise<Setup> {
  const home = await createTestHome();
  onCleanup(() => home.cleanup());
  const portal = await startSsoPortal(ROLE_KEY, portalOptions);
  onCleanup(() => portal.close());
  const stsStandIn = await startSsoPortal('ASIAWRONGENDPOINT1', portalOptions);
  onCleanup(() => stsStandIn.close());
  process.env.AWS_ENDPOINT_URL_SSO = portal.url;
  process.env.AWS_ENDPOINT_URL_SSO_OIDC = portal.url;
  await home.writeAwsConfig(config);
  return {
    home,
    portal,
    stsStandIn,
    provider(awsProfile) {
      const provider = new CachingCredentialsProvider({
        region: 'eu-west-1',
        awsProfile,
        stsEndpoint: stsStandIn.url,
      });
      onCleanup(async () => provider.close());
      return provider;
    },
  };
}

describe('CachingCredentialsProvider with an sso-session profile', () => {
  it('loads role credentials with a cached token', async () => {
    const env = await setup(ssoSessionConfig('corp-valid'));
    await writeSsoSessionToken(
      env.home.dir,
      'corp-valid',
      ssoSessionToken(3_600_000, REFRESHABLE_SSO_FIELDS),
    );

    const credentials = await env.provider('dev').provide();
    expect(credentials.accessKeyId).toBe(ROLE_KEY);
    expect(credentials.expiration).toBeInstanceOf(Date);
    expect(env.portal.roleRequests).toEqual([
      { accountId: '123456789012', roleName: 'Developer', accessToken: 'cached-access-token' },
    ]);
    expect(env.portal.createTokenRequests).toEqual([]);
    expect(env.stsStandIn.tokens).toEqual([]);
  });

  it('refreshes an expired token with CreateToken', async () => {
    const env = await setup(ssoSessionConfig('corp-refresh'), SSO_REFRESH_GRANT);
    const cacheFile = await writeSsoSessionToken(
      env.home.dir,
      'corp-refresh',
      ssoSessionToken(-60_000, REFRESHABLE_SSO_FIELDS),
    );

    const credentials = await env.provider('dev').provide();
    expect(credentials.accessKeyId).toBe(ROLE_KEY);
    expect(env.portal.createTokenRequests).toEqual([SSO_REFRESH_REQUEST]);
    expect(env.portal.tokens).toEqual(['new-access-token']);
    expect(env.stsStandIn.createTokenRequests).toEqual([]);

    // The SDK writes the new pair back, so the AWS CLI and the next daemon start reuse it.
    const cached = JSON.parse(await readFile(cacheFile, 'utf8')) as SsoSessionToken;
    expect(cached.accessToken).toBe('new-access-token');
    expect(cached.refreshToken).toBe('refresh-token-2');
    expect(cached.clientId).toBe('oidc-client-id');
    expect(Date.parse(cached.expiresAt)).toBeGreaterThan(Date.now() + 3_000_000);
  });

  it('asks for a session login without a refresh token', async () => {
    const env = await setup(ssoSessionConfig('corp-expired'));
    await writeSsoSessionToken(env.home.dir, 'corp-expired', ssoSessionToken(-60_000));

    const error = await rejection(env.provider('dev').provide());
    expect(error.code).toBe('ERR_NEEDS_LOGIN');
    expect(error.hint).toContain('aws sso login --sso-session corp-expired');
    expect(error.hint).not.toContain('--profile');
    expect(env.portal.createTokenRequests).toEqual([]);
    expect(env.portal.tokens).toEqual([]);
  });

  it('asks for a session login after a rejected refresh', async () => {
    const env = await setup(ssoSessionConfig('corp-revoked'));
    await writeSsoSessionToken(
      env.home.dir,
      'corp-revoked',
      ssoSessionToken(-60_000, REFRESHABLE_SSO_FIELDS),
    );

    const error = await rejection(env.provider('dev').provide());
    expect(env.portal.createTokenRequests).toHaveLength(1);
    expect(error.code).toBe('ERR_NEEDS_LOGIN');
    expect(error.hint).toContain('aws sso login --sso-session corp-revoked');
    expect(env.portal.tokens).toEqual([]);
  });

  it('asks for a session login without a cache file', async () => {
    const env = await setup(ssoSessionConfig('corp-missing'));

    const error = await rejection(env.provider('dev').provide());
    expect(error.code).toBe('ERR_NEEDS_LOGIN');
    expect(error.hint).toContain('aws sso login --sso-session corp-missing');
  });

  it('names the session of a source profile', async () => {
    const roleProfile = [
      '[profile admin]',
      'role_arn = arn:aws:iam::123456789012:role/Admin',
      'source_profile = dev',
      '',
    ].join('\n');
    const env = await setup(ssoSessionConfig('corp-chain', roleProfile));
    await writeSsoSessionToken(env.home.dir, 'corp-chain', ssoSessionToken(-60_000));

    const error = await rejection(env.provider('admin').provide());
    expect(error.code).toBe('ERR_NEEDS_LOGIN');
    expect(error.hint).toContain('aws sso login --sso-session corp-chain');
    expect(env.stsStandIn.tokens).toEqual([]);
  });
});
