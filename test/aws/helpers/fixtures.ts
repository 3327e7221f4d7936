// Shared fixtures of the AWS integration tests.

import { expect } from 'vitest';
import {
  createAwsClientSet,
  type AwsClientSet,
  type AwsEndpoints,
} from '../../../daemon/aws/clients.js';
import { CachingCredentialsProvider } from '../../../daemon/aws/credentials.js';
import type { Profile } from '../../../daemon/config/types.js';
import { BastionlessError } from '../../../daemon/errors.js';

/** Builds a complete profile with defaults, where `overrides` replaces any field. */
export function makeProfile(overrides: Partial<Profile>): Profile {
  return {
    name: 'p',
    groups: [],
    region: 'us-east-1',
    target: 'i-0123456789abcdef0',
    remotePort: 5432,
    localPort: 15432,
    bindAddress: '127.0.0.1',
    allowNonLoopback: false,
    autoStart: false,
    mode: 'on-demand',
    sessionPool: 1,
    endpoints: {},
    keepAlive: false,
    ...overrides,
  };
}

/** Clients signed with fixed static keys, so no test reads the machine's AWS config. */
export function makeTestClients(endpoint: string, accessKeyId: string): AwsClientSet {
  const endpoints: AwsEndpoints = {
    ssm: endpoint,
    ec2: endpoint,
    sts: endpoint,
    rds: endpoint,
    elasticache: endpoint,
  };
  return createAwsClientSet({
    region: 'us-east-1',
    endpoints,
    credentials: new CachingCredentialsProvider({
      region: 'us-east-1',
      source: async () => ({ accessKeyId, secretAccessKey: 'test-secret' }),
    }),
  });
}

/** Awaits a promise that must reject with a BastionlessError, and returns that error. */
export async function rejection(promise: Promise<unknown>): Promise<BastionlessError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(BastionlessError);
  return error as BastionlessError;
}

export { freePort } from '../../helpers/ports.js';
