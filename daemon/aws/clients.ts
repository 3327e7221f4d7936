// Factories for AWS SDK clients, so every caller applies the same region, profile,
// endpoint and credentials rules.

import { SSMClient } from '@aws-sdk/client-ssm';
import { fromIni, fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentityProvider } from '@smithy/types';

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
