// The daemon with an IAM Identity Center profile of the `[sso-session NAME]` style: role
// credentials from the stand-in SSO portal, a token refresh through SSO-OIDC CreateToken, and
// the needs-login state when the token cannot be refreshed. Every transfer is checked with
// SHA-256, and no token or secret may reach the daemon log.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { echoRoundTrip, startEchoServer, type EchoServer } from '../tunnel/helpers.js';
import {
  cleanupAfterEach,
  createTestHome,
  REFRESHABLE_SSO_FIELDS,
  SSO_REFRESH_GRANT,
  SSO_REFRESH_REQUEST,
  ssoSessionConfig,
  ssoSessionToken,
  emulatorProfile,
  SSO_ROLE_SECRETS,
  startSsoPortal,
  startTestDaemon,
  waitForTunnel,
  waitUntil,
  writeSsoSessionToken,
  type SsoPortal,
  type SsoPortalOptions,
  type SsoSessionToken,
  type TestDaemon,
  type TestHome,
} from './helpers.js';

const ROLE_KEY = 'ASIASSOSESSION0001';
const INSTANCE_ID = 'i-0123456789abcdef0';
const onCleanup = cleanupAfterEach();

/** Every token and secret the tests hand out; none of them may appear in the daemon log. */
const SECRETS = [
  'cached-access-token',
  'refresh-token-1',
  'oidc-client-secret',
  'new-access-token',
  'refresh-token-2',
  'fresh-access-token',
  // Role credentials that the stand-in portal returns.
  SSO_ROLE_SECRETS.secretAccessKey,
  SSO_ROLE_SECRETS.sessionToken,
];

interface Setup {
  home: TestHome;
  emulator: Emulator;
  echo: EchoServer;
  portal: SsoPortal;
  daemon: TestDaemon;
}

/**
 * Starts the emulator, the stand-in SSO portal and a daemon whose tunnel `db` uses profile
 * `dev` of sso-session `session`, after writing `token` to the session's cache file. The SDK
 * skips a refresh within 30 seconds of the last one for a session name (token-providers
 * 3.1177, module state), so every test uses its own name.
 */
async function startWithSession(
  session: string,
  token: SsoSessionToken,
  portalOptions: SsoPortalOptions = {},
): Promise<Setup & { cacheFile: string }> {
  const home = await createTestHome();
  onCleanup(() => home.cleanup());
  const emulator = await startEmulator({
    pacing: false,
    scenario: {
      instances: [
        { instanceId: INSTANCE_ID, pingStatus: 'Online', agentVersion: '3.3.987.0', tags: {} },
      ],
    },
  });
  onCleanup(() => emulator.close());
  const echo = await startEchoServer();
  onCleanup(() => echo.close());
  const portal = await startSsoPortal(ROLE_KEY, portalOptions);
  onCleanup(() => portal.close());
  process.env.AWS_ENDPOINT_URL_SSO = portal.url;
  process.env.AWS_ENDPOINT_URL_SSO_OIDC = portal.url;

  await home.writeAwsConfig(ssoSessionConfig(session));
  const cacheFile = await writeSsoSessionToken(home.dir, session, token);
  // The STS override stays on the emulator: the SSO calls must still reach the portal.
  const daemon = await startTestDaemon(home.dir, [
    emulatorProfile(emulator, { awsProfile: 'dev', remotePort: echo.port }),
  ]);
  onCleanup(() => daemon.stop());
  return { home, emulator, echo, portal, daemon, cacheFile };
}

function startSessionCalls(emulator: Emulator) {
  return emulator.calls.filter((call) => call.operation === 'AmazonSSM.StartSession');
}

/** Sends 64 KiB through tunnel `db` and back and compares the SHA-256 of both directions. */
async function expectRoundTrip(daemon: TestDaemon): Promise<void> {
  const { sent, received } = await echoRoundTrip('127.0.0.1', await daemon.localPort('db'));
  expect(received).toBe(sent);
}

/** Waits until the daemon log names `sessionId`, then checks it for every secret. */
async function expectLogWithoutSecrets(daemon: TestDaemon, sessionId: string): Promise<void> {
  const logFile = join(daemon.stateDir, 'daemon.log');
  await waitUntil('session logged', async () =>
    (await readFile(logFile, 'utf8').catch(() => '')).includes(sessionId),
  );
  const log = await readFile(logFile, 'utf8');
  for (const secret of SECRETS) {
    expect(log, `daemon.log contains ${secret}`).not.toContain(secret);
  }
}

describe('daemon with an sso-session profile', () => {
  it('opens a tunnel with a cached token', async () => {
    const env = await startWithSession(
      'corp-open',
      ssoSessionToken(3_600_000, REFRESHABLE_SSO_FIELDS),
    );

    const open = await waitForTunnel(env.daemon, 'db', (status) => status.state === 'open');
    await expectRoundTrip(env.daemon);
    expect(env.portal.roleRequests).toEqual([
      { accountId: '123456789012', roleName: 'Developer', accessToken: 'cached-access-token' },
    ]);
    expect(env.portal.createTokenRequests).toEqual([]);
    const starts = startSessionCalls(env.emulator);
    expect(starts).toHaveLength(1);
    expect(starts[0]!.accessKeyId).toBe(ROLE_KEY);
    await expectLogWithoutSecrets(env.daemon, open.sessionIds[0]!);
  });

  it('refreshes an expired token through CreateToken', async () => {
    const env = await startWithSession(
      'corp-refresh',
      ssoSessionToken(-60_000, REFRESHABLE_SSO_FIELDS),
      SSO_REFRESH_GRANT,
    );

    const open = await waitForTunnel(env.daemon, 'db', (status) => status.state === 'open');
    await expectRoundTrip(env.daemon);
    expect(env.portal.createTokenRequests).toEqual([SSO_REFRESH_REQUEST]);
    expect(env.portal.tokens).toEqual(['new-access-token']);
    expect(startSessionCalls(env.emulator)[0]!.accessKeyId).toBe(ROLE_KEY);

    const cached = JSON.parse(await readFile(env.cacheFile, 'utf8')) as SsoSessionToken;
    expect(cached.accessToken).toBe('new-access-token');
    expect(cached.refreshToken).toBe('refresh-token-2');
    expect(Date.parse(cached.expiresAt)).toBeGreaterThan(Date.now());
    await expectLogWithoutSecrets(env.daemon, open.sessionIds[0]!);
  });

  it('needs a session login, then recovers', async () => {
    const env = await startWithSession('corp-login', ssoSessionToken(-60_000));

    const blocked = await waitForTunnel(
      env.daemon,
      'db',
      (status) => status.state === 'needs-login',
    );
    expect(blocked.lastError?.code).toBe('ERR_NEEDS_LOGIN');
    expect(blocked.lastError?.hint).toContain('aws sso login --sso-session corp-login');
    expect(blocked.reason).toContain('aws sso login --sso-session corp-login');
    expect(env.portal.createTokenRequests).toEqual([]);
    expect(startSessionCalls(env.emulator)).toHaveLength(0);

    // What `aws sso login --sso-session corp-login` leaves in the cache.
    await writeSsoSessionToken(
      env.home.dir,
      'corp-login',
      ssoSessionToken(3_600_000, { ...REFRESHABLE_SSO_FIELDS, accessToken: 'fresh-access-token' }),
    );
    const open = await waitForTunnel(env.daemon, 'db', (status) => status.state === 'open');
    expect(env.portal.tokens).toEqual(['fresh-access-token']);
    expect(startSessionCalls(env.emulator).at(-1)!.accessKeyId).toBe(ROLE_KEY);
    await expectRoundTrip(env.daemon);
    await expectLogWithoutSecrets(env.daemon, open.sessionIds[0]!);
  });
});
