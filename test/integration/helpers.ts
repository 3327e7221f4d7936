// A daemon in a temporary BASTIONLESS_HOME with its own AWS config files, talking to the SSM
// emulator, plus the HTTP and file helpers the integration tests share.

import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { startDaemon, type RunningDaemon } from '../../daemon/daemon.js';
import type { Profile, TunnelStatus } from '../../daemon/config/types.js';
import { resolvePaths } from '../../daemon/paths.js';
import type { TunnelTimings } from '../../daemon/tunnel/tunnel.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { freePort, makeProfile, startEchoServer, type EchoServer } from '../tunnel/helpers.js';
import { clearEnv } from '../helpers/env.js';
import { recordSecret } from '../helpers/suite-secrets.js';

/**
 * Registers an afterEach hook that runs the cleanups added during each test, newest first, and
 * returns the function that adds one. Call it once at the top level of a test file.
 */
export function cleanupAfterEach(): (cleanup: () => Promise<void>) => void {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup();
    }
  });
  return (cleanup) => {
    cleanups.push(cleanup);
  };
}

/** An AWS config profile `static` with fixed keys, which the emulator accepts. */
export const STATIC_PROFILE =
  '[profile static]\naws_access_key_id = AKIASTATIC00000001\naws_secret_access_key = s3cret\n';

/** Environment variables that `createTestHome` replaces and its cleanup restores. */
const AWS_ENV_KEYS = [
  'HOME',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_PROFILE',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_ENDPOINT_URL_SSO',
  'AWS_ENDPOINT_URL_SSO_OIDC',
  'AWS_EC2_METADATA_DISABLED',
];

export interface TestHome {
  dir: string;
  /** Writes ~/.aws/config of the test home. */
  writeAwsConfig(text: string): Promise<void>;
  cleanup(): Promise<void>;
}

/**
 * Creates a temporary home and points HOME and the AWS config files at it. The AWS SDK reads
 * these variables from process.env, so tests in one file must not run concurrently.
 */
export async function createTestHome(): Promise<TestHome> {
  const dir = await mkdtemp(join(tmpdir(), 'bastionless-integration-'));
  const restoreEnv = clearEnv(AWS_ENV_KEYS);
  process.env.HOME = dir;
  process.env.AWS_CONFIG_FILE = join(dir, 'aws-config');
  process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'aws-credentials');
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  await writeFile(join(dir, 'aws-config'), '');
  await writeFile(join(dir, 'aws-credentials'), '');
  return {
    dir,
    writeAwsConfig: (text) => writeFile(join(dir, 'aws-config'), text),
    async cleanup() {
      restoreEnv();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A test home whose AWS config has `STATIC_PROFILE`, the default-scenario emulator and an echo server. */
export interface EmulatorRig {
  home: TestHome;
  emulator: Emulator;
  echo: EchoServer;
}

/** Starts an EmulatorRig and registers the cleanup of each of its parts with `addCleanup`. */
export async function startEmulatorRig(
  addCleanup: (cleanup: () => Promise<void>) => void,
): Promise<EmulatorRig> {
  const home = await createTestHome();
  addCleanup(() => home.cleanup());
  await home.writeAwsConfig(STATIC_PROFILE);
  const emulator = await startEmulator({ pacing: false });
  addCleanup(() => emulator.close());
  const echo = await startEchoServer();
  addCleanup(() => echo.close());
  return { home, emulator, echo };
}

/**
 * Writes a credential_process script that counts its runs and prints keys
 * ASIAPROCESS000001, ASIAPROCESS000002, … expiring `lifetimeMs` after each run.
 */
export async function writeCredentialProcess(
  dir: string,
  lifetimeMs: number,
): Promise<{ path: string; runs(): Promise<number> }> {
  const path = join(dir, 'issue-credentials.mjs');
  const runsFile = join(dir, 'credential-runs');
  await writeFile(runsFile, '0');
  await writeFile(
    path,
    [
      '#!/usr/bin/env node',
      "import { readFileSync, writeFileSync } from 'node:fs';",
      `const runs = Number(readFileSync(${JSON.stringify(runsFile)}, 'utf8')) + 1;`,
      `writeFileSync(${JSON.stringify(runsFile)}, String(runs));`,
      'console.log(JSON.stringify({',
      '  Version: 1,',
      "  AccessKeyId: 'ASIAPROCESS' + String(runs).padStart(6, '0'),",
      "  SecretAccessKey: 'process-secret-' + runs,",
      "  SessionToken: 'process-token-' + runs,",
      `  Expiration: new Date(Date.now() + ${lifetimeMs}).toISOString(),`,
      '}));',
    ].join('\n'),
  );
  await chmod(path, 0o755);
  return { path, runs: async () => Number(await readFile(runsFile, 'utf8')) };
}

/** Access key of the N-th credential_process run, as `writeCredentialProcess` prints it. */
export function processKey(run: number): string {
  return `ASIAPROCESS${String(run).padStart(6, '0')}`;
}

/** Timings short enough for tests: fast retries, login polls and target checks. */
export const TEST_TIMINGS: Partial<TunnelTimings> = {
  backoffInitialMs: 100,
  backoffMaxMs: 1000,
  loginPollIntervalMs: 200,
  targetCheckIntervalMs: 300,
  startTimeoutMs: 15_000,
};

/** Builds a profile whose every AWS endpoint is the emulator, always-on and started with the daemon. */
export function emulatorProfile(emulator: Emulator, overrides: Partial<Profile>): Profile {
  return makeProfile({
    groups: [],
    autoStart: true,
    mode: 'always-on',
    endpoints: {
      ssm: emulator.url,
      ec2: emulator.url,
      sts: emulator.url,
      rds: emulator.url,
      elasticache: emulator.url,
    },
    ...overrides,
  });
}

export interface TestDaemon {
  daemon: RunningDaemon;
  stateDir: string;
  api<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  tunnel(name: string): Promise<TunnelStatus>;
  /** Port the tunnel's listener is bound to. */
  localPort(name: string): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts the daemon with `profiles` in `<home>/bastionless`, with the test timings. A profile
 * with localPort 0 gets a port that was free a moment ago, because the config requires one.
 */
export async function startTestDaemon(home: string, profiles: Profile[]): Promise<TestDaemon> {
  const paths = resolvePaths({ env: { BASTIONLESS_HOME: join(home, 'bastionless') } });
  await rm(paths.configFile, { force: true });
  await mkdir(join(home, 'bastionless'), { recursive: true });
  const withPorts = await Promise.all(
    profiles.map(async (profile) =>
      profile.localPort === 0 ? { ...profile, localPort: await freePort() } : profile,
    ),
  );
  await writeFile(paths.configFile, `${JSON.stringify({ profiles: withPorts }, null, 2)}\n`);
  const daemon = await startDaemon({
    paths,
    logLevel: 'debug',
    managerOverrides: { timings: TEST_TIMINGS },
  });
  const api = async <T>(method: string, path: string, body?: unknown) => {
    const headers: Record<string, string> = { authorization: `Bearer ${daemon.token}` };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
    }
    const response = await fetch(`${daemon.url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: response.status, body: (await response.json()) as T };
  };
  const tunnel = async (name: string) =>
    (await api<TunnelStatus>('GET', `/v1/tunnels/${name}`)).body;
  return {
    daemon,
    stateDir: paths.stateDir,
    api,
    tunnel,
    async localPort(name) {
      const status = await tunnel(name);
      return Number(status.localAddress.split(':').pop());
    },
    stop: () => daemon.stop('test finished'),
  };
}

/** Polls the tunnel until `accept` returns true for its status, or fails with the last one. */
export async function waitForTunnel(
  daemon: TestDaemon,
  name: string,
  accept: (status: TunnelStatus) => boolean,
  timeoutMs = 15_000,
): Promise<TunnelStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: TunnelStatus | undefined;
  while (Date.now() < deadline) {
    last = await daemon.tunnel(name);
    if (accept(last)) {
      return last;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `tunnel ${name} did not reach the expected status within ${timeoutMs} ms; last: ${JSON.stringify(last)}`,
  );
}

/** Polls `check` every 100 ms until it returns true, or throws after `timeoutMs`. */
export async function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface SsoPortal {
  url: string;
  /** Bearer tokens of GetRoleCredentials calls, in order. */
  tokens: string[];
  /** GetRoleCredentials calls, in order. */
  roleRequests: { accountId: string | null; roleName: string | null; accessToken: string }[];
  /** JSON bodies of SSO-OIDC CreateToken calls, in order. */
  createTokenRequests: Record<string, unknown>[];
  close(): Promise<void>;
}

/** Token pair that the stand-in SSO-OIDC service issues for one refresh token. */
export interface IssuedSsoToken {
  accessToken: string;
  refreshToken?: string;
  /** Lifetime of the issued access token in seconds; default 3600. */
  expiresInSeconds?: number;
}

export interface SsoPortalOptions {
  /**
   * Refresh tokens that CreateToken accepts, each with the tokens it issues. Any other refresh
   * token gets HTTP 400 InvalidGrantException, as a revoked one does.
   */
  refreshTokens?: Record<string, IssuedSsoToken>;
}

function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

async function readJsonBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) {
    chunks.push(chunk as Buffer);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
}

/** Role credentials that the stand-in SSO portal returns; they must never reach a log. */
export const SSO_ROLE_SECRETS = Object.freeze({
  secretAccessKey: 'sso-role-secret-access-key',
  sessionToken: 'sso-role-session-token',
});

/**
 * Serves the SSO calls the SDK makes on 127.0.0.1: the portal's GetRoleCredentials
 * (`GET /federation/credentials` with the `x-amz-sso_bearer_token` header) and the SSO-OIDC
 * CreateToken (`POST /token`) that refreshes an sso-session token. The emulator has no SSO
 * portal, so this server replaces it: point AWS_ENDPOINT_URL_SSO and AWS_ENDPOINT_URL_SSO_OIDC
 * at `url`.
 */
export async function startSsoPortal(
  accessKeyId: string,
  options: SsoPortalOptions = {},
): Promise<SsoPortal> {
  const tokens: string[] = [];
  const roleRequests: SsoPortal['roleRequests'] = [];
  const createTokenRequests: Record<string, unknown>[] = [];
  const refreshTokens = options.refreshTokens ?? {};

  const getRoleCredentials = (request: IncomingMessage, response: ServerResponse) => {
    const token = request.headers['x-amz-sso_bearer_token'];
    if (typeof token !== 'string') {
      sendJson(response, 401, { message: 'missing x-amz-sso_bearer_token header' });
      return;
    }
    const query = new URL(request.url!, 'http://127.0.0.1').searchParams;
    recordSecret('sso-token', token);
    recordSecret('secret-access-key', SSO_ROLE_SECRETS.secretAccessKey);
    recordSecret('session-token', SSO_ROLE_SECRETS.sessionToken);
    tokens.push(token);
    roleRequests.push({
      accountId: query.get('account_id'),
      roleName: query.get('role_name'),
      accessToken: token,
    });
    sendJson(response, 200, {
      roleCredentials: {
        accessKeyId,
        secretAccessKey: SSO_ROLE_SECRETS.secretAccessKey,
        sessionToken: SSO_ROLE_SECRETS.sessionToken,
        expiration: Date.now() + 3_600_000,
      },
    });
  };

  const createToken = async (request: IncomingMessage, response: ServerResponse) => {
    const body = await readJsonBody(request);
    for (const field of ['refreshToken', 'clientSecret'] as const) {
      recordSecret('sso-token', typeof body[field] === 'string' ? body[field] : undefined);
    }
    createTokenRequests.push(body);
    const issued =
      body.grantType === 'refresh_token' && typeof body.refreshToken === 'string'
        ? refreshTokens[body.refreshToken]
        : undefined;
    if (!issued) {
      sendJson(
        response,
        400,
        { error: 'invalid_grant', error_description: 'Invalid refresh token provided' },
        { 'x-amzn-errortype': 'InvalidGrantException' },
      );
      return;
    }
    recordSecret('sso-token', issued.accessToken);
    recordSecret('sso-token', issued.refreshToken);
    sendJson(response, 200, {
      accessToken: issued.accessToken,
      tokenType: 'Bearer',
      expiresIn: issued.expiresInSeconds ?? 3600,
      ...(issued.refreshToken === undefined ? {} : { refreshToken: issued.refreshToken }),
    });
  };

  const server = createServer((request, response) => {
    if (request.method === 'GET' && request.url?.startsWith('/federation/credentials')) {
      getRoleCredentials(request, response);
    } else if (request.method === 'POST' && request.url === '/token') {
      createToken(request, response).catch((error: Error) =>
        sendJson(response, 500, { message: error.message }),
      );
    } else {
      sendJson(response, 404, { message: 'not found' });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    tokens,
    roleRequests,
    createTokenRequests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Contents of an sso-session token cache file, as `aws sso login` writes it. */
export interface SsoSessionToken {
  startUrl: string;
  region: string;
  accessToken: string;
  /** ISO 8601 time at which `accessToken` expires. */
  expiresAt: string;
  refreshToken?: string;
  clientId?: string;
  clientSecret?: string;
  registrationExpiresAt?: string;
}

/**
 * Path of an SSO token cache file: the SHA-1, in hex, of the sso-session name, or of the start
 * URL for a legacy profile with `sso_start_url` in the profile itself.
 */
export function ssoSessionCachePath(home: string, cacheKey: string): string {
  const name = createHash('sha1').update(cacheKey).digest('hex');
  return join(home, '.aws', 'sso', 'cache', `${name}.json`);
}

/** Writes the SSO token cache file for `cacheKey` (see ssoSessionCachePath) and returns its path. */
export async function writeSsoSessionToken(
  home: string,
  cacheKey: string,
  token: SsoSessionToken,
): Promise<string> {
  const path = ssoSessionCachePath(home, cacheKey);
  await mkdir(join(home, '.aws', 'sso', 'cache'), { recursive: true });
  await writeFile(path, JSON.stringify(token, null, 2));
  return path;
}

/** Start URL of the sso-session sections that `ssoSessionConfig` writes. */
export const SSO_START_URL = 'https://example-team.awsapps.com/start';

/**
 * Returns an AWS config with `[sso-session SESSION]` and `[profile dev]` using it, as
 * `aws configure sso` writes them, followed by `extraSections`.
 */
export function ssoSessionConfig(session: string, extraSections = ''): string {
  return [
    `[sso-session ${session}]`,
    `sso_start_url = ${SSO_START_URL}`,
    'sso_region = us-east-1',
    'sso_registration_scopes = sso:account:access',
    '',
    '[profile dev]',
    `sso_session = ${session}`,
    'sso_account_id = 123456789012',
    'sso_role_name = Developer',
    '# a comment line: `aws configure sso` writes none, but users add them',
    'region = eu-west-1',
    '',
    extraSections,
  ].join('\n');
}

/** Fields that let the SDK refresh a cached sso-session token through CreateToken. */
export const REFRESHABLE_SSO_FIELDS = {
  refreshToken: 'refresh-token-1',
  clientId: 'oidc-client-id',
  clientSecret: 'oidc-client-secret',
  registrationExpiresAt: new Date(Date.now() + 90 * 86_400_000).toISOString(),
} as const;

/** CreateToken body that the SDK sends to refresh a token with `REFRESHABLE_SSO_FIELDS`. */
export const SSO_REFRESH_REQUEST = {
  clientId: REFRESHABLE_SSO_FIELDS.clientId,
  clientSecret: REFRESHABLE_SSO_FIELDS.clientSecret,
  grantType: 'refresh_token',
  refreshToken: REFRESHABLE_SSO_FIELDS.refreshToken,
} as const;

/** Stand-in portal options under which `SSO_REFRESH_REQUEST` gets a new token pair. */
export const SSO_REFRESH_GRANT: SsoPortalOptions = {
  refreshTokens: {
    [REFRESHABLE_SSO_FIELDS.refreshToken]: {
      accessToken: 'new-access-token',
      refreshToken: 'refresh-token-2',
    },
  },
};

/**
 * Returns a cache entry for a session of `ssoSessionConfig` with access token
 * `cached-access-token`, expiring `expiresInMs` from now (negative: already expired).
 */
export function ssoSessionToken(
  expiresInMs: number,
  fields: Partial<SsoSessionToken> = {},
): SsoSessionToken {
  return {
    startUrl: SSO_START_URL,
    region: 'us-east-1',
    accessToken: 'cached-access-token',
    expiresAt: new Date(Date.now() + expiresInMs).toISOString(),
    ...fields,
  };
}
