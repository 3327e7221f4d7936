// Credentials for one bastionless profile: the SDK provider chain behind a cache that every
// client of that profile shares, refreshed ahead of expiry so open tunnels never sign a
// request with expired keys.

import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type {
  getDefaultRoleAssumer,
  getDefaultRoleAssumerWithWebIdentity,
} from '@aws-sdk/client-sts';
import { fromIni, fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { BastionlessError, classifyError } from '../errors.js';

/** Asks the user for the current code of the MFA device `mfaSerial`. */
export type MfaCodeProvider = (mfaSerial: string) => Promise<string>;

export interface CredentialsOptions {
  region: string;
  /**
   * Named profile of the shared config files (static keys, SSO, assume-role chains,
   * credential_process). Absent means the default chain, which reads the environment first.
   */
  awsProfile?: string;
  /**
   * STS endpoint for assume-role calls: a VPC endpoint or the local emulator. The SSO portal
   * and SSO-OIDC calls never use it: they take AWS_ENDPOINT_URL_SSO and AWS_ENDPOINT_URL_SSO_OIDC.
   */
  stsEndpoint?: string;
  /** Called when an assumed role has `mfa_serial`; the code is passed to STS and not kept. */
  mfaCodeProvider?: MfaCodeProvider;
  /** Refresh this long before the expiration; default 5 minutes. */
  refreshBeforeExpiryMs?: number;
  /** Wait before retrying a failed background refresh; default 30 seconds. */
  retryDelayMs?: number;
  /** Source provider, replacing the SDK chain (tests, or credentials from the control API). */
  source?: AwsCredentialIdentityProvider;
  now?: () => number;
}

const DEFAULT_REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;
const DEFAULT_RETRY_DELAY_MS = 30_000;
// setTimeout fires immediately for delays above 2^31-1 ms, so long expirations are capped.
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

type SourceProvider = (options?: { forceRefresh?: boolean }) => Promise<AwsCredentialIdentity>;

const requireModule = createRequire(import.meta.url);

type RoleAssumer = ReturnType<typeof getDefaultRoleAssumer>;
type WebIdentityRoleAssumer = ReturnType<typeof getDefaultRoleAssumerWithWebIdentity>;

/**
 * Builds the STS role assumers for `stsConfig`. @aws-sdk/client-sts is loaded on the first
 * assume-role call, because most profiles never make one and the package costs memory.
 */
function createRoleAssumers(stsConfig: { region: string; endpoint: string | undefined }) {
  let assumer: RoleAssumer | undefined;
  let webIdentityAssumer: WebIdentityRoleAssumer | undefined;
  const sts = () => requireModule('@aws-sdk/client-sts') as typeof import('@aws-sdk/client-sts');
  return {
    roleAssumer: (...args: Parameters<RoleAssumer>) => {
      assumer ??= sts().getDefaultRoleAssumer(stsConfig);
      return assumer(...args);
    },
    roleAssumerWithWebIdentity: (...args: Parameters<WebIdentityRoleAssumer>) => {
      webIdentityAssumer ??= sts().getDefaultRoleAssumerWithWebIdentity(stsConfig);
      return webIdentityAssumer(...args);
    },
  };
}

function createSourceProvider(options: CredentialsOptions): SourceProvider {
  if (options.source) {
    return options.source as SourceProvider;
  }
  // Only the STS clients get the region and the STS endpoint, so no shared clientConfig is
  // passed. With one, the SDK (credential-provider-sso 3.973) lets its region override
  // `sso_region` for GetRoleCredentials and sends the SSO portal and SSO-OIDC calls to its
  // endpoint.
  const shared = {
    mfaCodeProvider: options.mfaCodeProvider,
    ...createRoleAssumers({ region: options.region, endpoint: options.stsEndpoint }),
    // ignoreCache re-reads the config files on every refresh, so a fresh `aws sso login`
    // or an edited profile applies without restarting the daemon.
    ignoreCache: true,
  };
  if (options.awsProfile) {
    return fromIni({ ...shared, profile: options.awsProfile }) as SourceProvider;
  }
  return fromNodeProviderChain(shared) as SourceProvider;
}

/** Maximum number of profiles read along a source_profile chain when looking for an sso-session. */
const MAX_SOURCE_PROFILE_HOPS = 5;

/**
 * Reads the `key = value` pairs of `[profile NAME]` (or `[default]`) from the AWS config file.
 * It covers what an SSO hint needs, not the whole format: nested sub-properties are skipped.
 */
function profileSection(configText: string, profile: string): Map<string, string> {
  const headers =
    profile === 'default'
      ? new Set(['default', 'profile default'])
      : new Set([`profile ${profile}`]);
  const values = new Map<string, string>();
  let inSection = false;
  for (const rawLine of configText.split(/\r?\n/)) {
    const line = rawLine.split(/(?:^|\s)[;#]/)[0]!.trim();
    if (line.startsWith('[') && line.endsWith(']')) {
      inSection = headers.has(line.slice(1, -1).trim().replace(/\s+/g, ' '));
      continue;
    }
    const equals = line.indexOf('=');
    if (inSection && equals > 0 && rawLine.trimStart() === rawLine) {
      values.set(line.slice(0, equals).trim(), line.slice(equals + 1).trim());
    }
  }
  return values;
}

/**
 * Returns the `sso_session` that `awsProfile` or a profile in its source_profile chain uses,
 * or undefined for a profile without one (legacy SSO, static keys) or an unreadable config.
 */
async function findSsoSession(awsProfile: string): Promise<string | undefined> {
  const configFile = process.env.AWS_CONFIG_FILE ?? join(homedir(), '.aws', 'config');
  let configText: string;
  try {
    configText = await readFile(configFile, 'utf8');
  } catch {
    return undefined;
  }
  let profile: string | undefined = awsProfile;
  const visited = new Set<string>();
  while (profile !== undefined && !visited.has(profile) && visited.size < MAX_SOURCE_PROFILE_HOPS) {
    visited.add(profile);
    const section = profileSection(configText, profile);
    const session = section.get('sso_session');
    if (session) {
      return session;
    }
    profile = section.get('source_profile');
  }
  return undefined;
}

/**
 * Rewrites the `aws sso login --profile X` command in the hint of `error` to
 * `aws sso login --sso-session NAME` when the profile, or its source_profile, uses an
 * sso-session section. The session name says which token cache to renew, and one login
 * renews it for every profile of that session.
 */
async function withSsoSessionHint(
  error: BastionlessError,
  awsProfile: string | undefined,
): Promise<BastionlessError> {
  const profileCommand = `aws sso login --profile ${awsProfile}`;
  if (awsProfile === undefined || !error.hint?.includes(profileCommand)) {
    return error;
  }
  const session = await findSsoSession(awsProfile);
  if (session === undefined) {
    return error;
  }
  const hint = error.hint.replaceAll(profileCommand, `aws sso login --sso-session ${session}`);
  return new BastionlessError(error.code, error.message, {
    hint,
    cause: error.cause,
    retryable: error.retryable,
  });
}

/**
 * Caches the credentials of one profile. `provide` is the identity provider handed to every
 * SDK client of the profile; a timer refreshes the credentials `refreshBeforeExpiryMs` before
 * they expire. Concurrent callers share one in-flight load, and load failures are BastionlessErrors (an
 * expired SSO session is ERR_NEEDS_LOGIN with the `aws sso login --profile X` command, or
 * `aws sso login --sso-session NAME` for a profile of an sso-session section). Events:
 * - `refreshed` (credentials expiration: Date | undefined)
 * - `refresh-failed` (error: BastionlessError): a background refresh failed; the old
 *   credentials stay in use while they are valid and the refresh is retried.
 */
export class CachingCredentialsProvider extends EventEmitter {
  readonly awsProfile: string | undefined;
  private readonly source: SourceProvider;
  private readonly refreshBeforeExpiryMs: number;
  private readonly retryDelayMs: number;
  private readonly now: () => number;
  private current: AwsCredentialIdentity | undefined;
  /** Epoch milliseconds at which the current credentials are refreshed. */
  private refreshAtMs = Number.POSITIVE_INFINITY;
  private inFlight: Promise<AwsCredentialIdentity> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: CredentialsOptions) {
    super();
    this.awsProfile = options.awsProfile;
    this.source = createSourceProvider(options);
    this.refreshBeforeExpiryMs = options.refreshBeforeExpiryMs ?? DEFAULT_REFRESH_BEFORE_EXPIRY_MS;
    this.retryDelayMs = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
    this.now = options.now ?? Date.now;
  }

  /** Expiration of the cached credentials; undefined for long-term keys or before the first load. */
  get expiration(): Date | undefined {
    return this.current?.expiration;
  }

  /** SDK identity provider: the cached credentials, or a load when they are missing or due. */
  readonly provide: AwsCredentialIdentityProvider = async () => {
    if (this.current && !this.isDue(this.current)) {
      return this.current;
    }
    return this.load(false);
  };

  /** Discards the cache and loads again, e.g. after a 403 with credentials that looked valid. */
  forceRefresh(): Promise<AwsCredentialIdentity> {
    return this.load(true);
  }

  /** Stops the refresh timer. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private isDue(credentials: AwsCredentialIdentity): boolean {
    return credentials.expiration !== undefined && this.now() >= this.refreshAtMs;
  }

  /**
   * Returns when to refresh credentials loaded now: `refreshBeforeExpiryMs` ahead of the
   * expiration, but no earlier than half their remaining lifetime. Without that floor,
   * credentials living shorter than the lead would be due at once and reloaded on every call.
   */
  private refreshTimeFor(expiration: Date): number {
    const now = this.now();
    const lifetimeMs = expiration.getTime() - now;
    return now + Math.max(lifetimeMs - this.refreshBeforeExpiryMs, lifetimeMs / 2);
  }

  private load(forceRefresh: boolean): Promise<AwsCredentialIdentity> {
    if (this.inFlight) {
      return this.inFlight;
    }
    const loading = this.source({ forceRefresh })
      .then((credentials) => {
        this.current = credentials;
        this.refreshAtMs = credentials.expiration
          ? this.refreshTimeFor(credentials.expiration)
          : Number.POSITIVE_INFINITY;
        this.schedule(credentials);
        this.emit('refreshed', credentials.expiration);
        return credentials;
      })
      .catch(async (error: unknown) => {
        const classified = classifyError(error, { awsProfile: this.awsProfile });
        throw await withSsoSessionHint(classified, this.awsProfile);
      })
      .finally(() => {
        this.inFlight = undefined;
      });
    this.inFlight = loading;
    return loading;
  }

  private schedule(credentials: AwsCredentialIdentity): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closed || !credentials.expiration) {
      return;
    }
    this.startTimer(Math.max(0, this.refreshAtMs - this.now()));
  }

  private startTimer(delayMs: number): void {
    this.timer = setTimeout(
      () => this.refreshInBackground(),
      Math.min(delayMs, MAX_TIMER_DELAY_MS),
    );
    this.timer.unref();
  }

  private refreshInBackground(): void {
    this.timer = undefined;
    this.load(true).catch((error: BastionlessError) => {
      this.emit('refresh-failed', error);
      const stillValid =
        this.current?.expiration !== undefined && this.current.expiration.getTime() > this.now();
      if (!this.closed && stillValid) {
        this.startTimer(this.retryDelayMs);
      }
    });
  }
}
