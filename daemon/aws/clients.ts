// Factories for AWS SDK clients, so every caller applies the same region, profile,
// endpoint and credentials rules.

import { SSMClient } from '@aws-sdk/client-ssm';
import { fromIni, fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { RDSClient } from '@aws-sdk/client-rds';
import { STSClient } from '@aws-sdk/client-sts';
import { classifyError, mayNeedFreshCredentials } from '../errors.js';
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

/** The SDK clients of one profile. All of them sign with the same cached credentials. */
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

export function createAwsClientSet(options: AwsClientSetOptions): AwsClientSet {
  const endpoints = options.endpoints ?? {};
  const credentials =
    options.credentials ??
    new CachingCredentialsProvider({
      region: options.region,
      awsProfile: options.awsProfile,
      stsEndpoint: endpoints.sts,
      mfaCodeProvider: options.mfaCodeProvider,
    });
  const base = { region: options.region, credentials: credentials.provide, maxAttempts: 3 };
  const set: AwsClientSet = {
    region: options.region,
    credentials,
    ssm: new SSMClient({ ...base, endpoint: endpoints.ssm }),
    ec2: new EC2Client({ ...base, endpoint: endpoints.ec2 }),
    sts: new STSClient({ ...base, endpoint: endpoints.sts }),
    rds: new RDSClient({ ...base, endpoint: endpoints.rds }),
    elasticache: new ElastiCacheClient({ ...base, endpoint: endpoints.elasticache }),
    async refreshCredentials() {
      await credentials.forceRefresh();
      const clients = [set.ssm, set.ec2, set.sts, set.rds, set.elasticache];
      await Promise.all(
        clients.map((client) =>
          (client.config.credentials as ForceRefreshable)({ forceRefresh: true }),
        ),
      );
    },
    destroy() {
      credentials.close();
      for (const client of [set.ssm, set.ec2, set.sts, set.rds, set.elasticache]) {
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
