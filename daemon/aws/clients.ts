// Factories for AWS SDK clients, so every caller applies the same region, profile,
// endpoint and credentials rules.

import { createRequire } from 'node:module';
import { SSMClient } from '@aws-sdk/client-ssm';
import { fromIni, fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import type { RDSClient } from '@aws-sdk/client-rds';
import type { STSClient } from '@aws-sdk/client-sts';
import { BastionlessError, classifyError, mayNeedFreshCredentials } from '../errors.js';
import { CachingCredentialsProvider, type MfaCodeProvider } from './credentials.js';

export interface AwsClientOptions {
  region: string;
  /** Named profile from the shared config files; absent means the default provider chain. */
  awsProfile?: string;
  /** SSM endpoint override: a VPC endpoint, a FIPS endpoint or the local emulator. */
  endpoint?: string;
  /** Explicit credentials provider; takes precedence over `awsProfile`. */
  credentials?: AwsCredentialIdentityProvider;
}

export function credentialsFor(options: AwsClientOptions): AwsCredentialIdentityProvider {
  if (options.credentials) {
    return options.credentials;
  }
  if (options.awsProfile) {
    return fromIni({ profile: options.awsProfile });
  }
  return fromNodeProviderChain();
}

export function createSsmClient(options: AwsClientOptions): SSMClient {
  return new SSMClient({
    region: options.region,
    endpoint: options.endpoint,
    credentials: credentialsFor(options),
    maxAttempts: 3,
  });
}

/** Endpoint overrides per service: VPC endpoints, FIPS endpoints or the local emulator. */
export interface AwsEndpoints {
  ssm?: string;
  ec2?: string;
  sts?: string;
  rds?: string;
  elasticache?: string;
}

export interface AwsClientSetOptions {
  region: string;
  awsProfile?: string;
  endpoints?: AwsEndpoints;
  mfaCodeProvider?: MfaCodeProvider;
  /** Shared credentials cache; created from `awsProfile` when absent. */
  credentials?: CachingCredentialsProvider;
}

/**
 * The SDK clients of one profile. All of them sign with the same cached credentials. The
 * EC2, STS, RDS and ElastiCache clients are built, and their packages loaded, on first
 * access. Most profiles need only SSM, and on Node 20 an idle daemon with 20 profiles took
 * about 170 MB of RSS with all four loaded against 90 MB without.
 */
export interface AwsClientSet {
  region: string;
  credentials: CachingCredentialsProvider;
  ssm: SSMClient;
  ec2: EC2Client;
  sts: STSClient;
  rds: RDSClient;
  elasticache: ElastiCacheClient;
  /**
   * Loads fresh credentials and makes every client use them. Each SDK client keeps its own copy
   * of the identity (forever for keys without expiration), so refreshing the cache alone is not
   * enough.
   */
  refreshCredentials(): Promise<void>;
  /** Stops the credentials refresh timer and closes every client's connection pool. */
  destroy(): void;
}

type ForceRefreshable = (options?: { forceRefresh?: boolean }) => Promise<unknown>;

/** The part of an SDK client the set needs to refresh and destroy it. */
interface SdkClient {
  config: { credentials: unknown };
  destroy(): void;
}

// The SDK packages ship CommonJS builds, which `import` loads too, so require returns the
// same module instance a static import would.
const requireModule = createRequire(import.meta.url);

/** Package and class of each client that is built on first access. */
const LAZY_CLIENTS = {
  ec2: { packageName: '@aws-sdk/client-ec2', className: 'EC2Client' },
  sts: { packageName: '@aws-sdk/client-sts', className: 'STSClient' },
  rds: { packageName: '@aws-sdk/client-rds', className: 'RDSClient' },
  elasticache: { packageName: '@aws-sdk/client-elasticache', className: 'ElastiCacheClient' },
} as const;

type LazyClientName = keyof typeof LAZY_CLIENTS;

/** Loads the package of one lazily built client and builds it with the shared base options. */
function buildLazyClient(
  name: LazyClientName,
  base: Record<string, unknown>,
  endpoint: string | undefined,
): SdkClient {
  const { packageName, className } = LAZY_CLIENTS[name];
  const exports = requireModule(packageName) as Record<
    string,
    new (config: Record<string, unknown>) => SdkClient
  >;
  return new exports[className]!({ ...base, endpoint });
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/**
 * Throws ERR_CONFIG_INVALID for the first endpoint that is not an http(s) URL. One value set
 * for several services (as --endpoint-url does) is reported once, with every service it is
 * set for, rather than as one SDK error per client.
 */
export function checkEndpoints(endpoints: AwsEndpoints): void {
  const entries = Object.entries(endpoints).filter(
    (entry): entry is [string, string] => entry[1] !== undefined,
  );
  const invalid = entries.find(([, url]) => !isHttpUrl(url));
  if (invalid === undefined) {
    return;
  }
  const services = entries.filter(([, url]) => url === invalid[1]).map(([service]) => service);
  throw new BastionlessError(
    'ERR_CONFIG_INVALID',
    `Invalid endpoint URL ${JSON.stringify(invalid[1])} for ${services.join(', ')}: ` +
      'expected an http:// or https:// URL such as http://127.0.0.1:4566',
    {
      hint: 'Fix --endpoint-url or --ssm-endpoint, or the endpoints field of the profile.',
    },
  );
}

export function createAwsClientSet(options: AwsClientSetOptions): AwsClientSet {
  const endpoints = options.endpoints ?? {};
  checkEndpoints(endpoints);
  const credentials =
    options.credentials ??
    new CachingCredentialsProvider({
      region: options.region,
      awsProfile: options.awsProfile,
      stsEndpoint: endpoints.sts,
      mfaCodeProvider: options.mfaCodeProvider,
    });
  const base = { region: options.region, credentials: credentials.provide, maxAttempts: 3 };
  const ssm = new SSMClient({ ...base, endpoint: endpoints.ssm });
  const lazy = new Map<LazyClientName, SdkClient>();
  const lazyClient = (name: LazyClientName): SdkClient => {
    let client = lazy.get(name);
    if (client === undefined) {
      client = buildLazyClient(name, base, endpoints[name]);
      lazy.set(name, client);
    }
    return client;
  };
  // Only clients that exist are refreshed or destroyed, so neither loads a package.
  const builtClients = (): SdkClient[] => [ssm, ...lazy.values()];
  const set: AwsClientSet = {
    region: options.region,
    credentials,
    ssm,
    get ec2() {
      return lazyClient('ec2') as EC2Client;
    },
    get sts() {
      return lazyClient('sts') as STSClient;
    },
    get rds() {
      return lazyClient('rds') as RDSClient;
    },
    get elasticache() {
      return lazyClient('elasticache') as ElastiCacheClient;
    },
    async refreshCredentials() {
      await credentials.forceRefresh();
      await Promise.all(
        builtClients().map((client) =>
          (client.config.credentials as ForceRefreshable)({ forceRefresh: true }),
        ),
      );
    },
    destroy() {
      credentials.close();
      for (const client of builtClients()) {
        client.destroy();
      }
    },
  };
  return set;
}

/**
 * Runs `call`, and when AWS rejects the credentials (HTTP 403 or an expired token), refreshes
 * them once and runs `call` again. Other errors, and a second rejection, are raised as
 * BastionlessErrors.
 */
export async function withCredentialRetry<T>(
  clients: AwsClientSet,
  call: () => Promise<T>,
): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const classified = classifyError(error, { awsProfile: clients.credentials.awsProfile });
    if (!mayNeedFreshCredentials(classified)) {
      throw classified;
    }
    await clients.refreshCredentials();
  }
  try {
    return await call();
  } catch (error) {
    throw classifyError(error, { awsProfile: clients.credentials.awsProfile });
  }
}
