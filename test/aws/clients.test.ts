import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkEndpoints,
  createAwsClientSet,
  withCredentialRetry,
} from '../../daemon/aws/clients.js';
import { CachingCredentialsProvider } from '../../daemon/aws/credentials.js';
import { BastionlessError } from '../../daemon/errors.js';
import { startAwsApiServer, type AwsApiServer } from './helpers/aws-api-server.js';
import { rejection } from './helpers/fixtures.js';

let server: AwsApiServer;

beforeAll(async () => {
  server = await startAwsApiServer({
    credentials: [
      { accessKeyId: 'AKIAROTATEDOLD0001', expired: true },
      { accessKeyId: 'AKIAROTATEDNEW0001', arn: 'arn:aws:iam::123456789012:user/rotated' },
    ],
  });
});

afterAll(async () => {
  await server.close();
});

/** Clients whose source returns the listed keys in turn, one per load, counting loads. */
function rotatingClients(keys: string[]) {
  let loads = 0;
  const clients = createAwsClientSet({
    region: 'us-east-1',
    endpoints: { sts: server.endpoint },
    credentials: new CachingCredentialsProvider({
      region: 'us-east-1',
      source: async () => {
        const accessKeyId = keys[Math.min(loads, keys.length - 1)]!;
        loads += 1;
        return { accessKeyId, secretAccessKey: 'secret' };
      },
    }),
  });
  return { clients, loads: () => loads };
}

describe('withCredentialRetry', () => {
  it('retries once with fresh keys', async () => {
    const { clients, loads } = rotatingClients(['AKIAROTATEDOLD0001', 'AKIAROTATEDNEW0001']);
    try {
      const identity = await withCredentialRetry(clients, () =>
        clients.sts.send(new GetCallerIdentityCommand({})),
      );
      expect(identity.Arn).toBe('arn:aws:iam::123456789012:user/rotated');
      expect(loads()).toBe(2);

      // The client now signs with the new keys without another load.
      const again = await clients.sts.send(new GetCallerIdentityCommand({}));
      expect(again.Arn).toBe('arn:aws:iam::123456789012:user/rotated');
      expect(loads()).toBe(2);
    } finally {
      clients.destroy();
    }
  });

  it('raises a second rejection as a typed error', async () => {
    const { clients, loads } = rotatingClients(['AKIAROTATEDOLD0001']);
    try {
      const error = await rejection(
        withCredentialRetry(clients, () => clients.sts.send(new GetCallerIdentityCommand({}))),
      );
      expect(error.code).toBe('ERR_EXPIRED_CREDENTIALS');
      expect(loads()).toBe(2);
    } finally {
      clients.destroy();
    }
  });

  it('does not retry other errors', async () => {
    const { clients, loads } = rotatingClients(['AKIAROTATEDNEW0001']);
    let calls = 0;
    try {
      const error = await rejection(
        withCredentialRetry(clients, async () => {
          calls += 1;
          throw Object.assign(new Error('Target is not connected.'), {
            name: 'TargetNotConnected',
          });
        }),
      );
      expect(error.code).toBe('ERR_TARGET_NOT_CONNECTED');
      expect(calls).toBe(1);
      expect(loads()).toBe(0);
    } finally {
      clients.destroy();
    }
  });
});

describe('checkEndpoints', () => {
  /** Returns the BastionlessError `run` throws, failing the test when it throws none. */
  function thrown(run: () => unknown): BastionlessError {
    try {
      run();
    } catch (error) {
      expect(error).toBeInstanceOf(BastionlessError);
      return error as BastionlessError;
    }
    return expect.unreachable('nothing thrown');
  }

  it('accepts http and https URLs', () => {
    expect(() =>
      checkEndpoints({ ssm: 'http://127.0.0.1:4566', sts: 'https://sts.us-east-1.amazonaws.com' }),
    ).not.toThrow();
  });

  it('reports one value set for every service once', () => {
    const url = 'not-a-url';
    const error = thrown(() =>
      createAwsClientSet({
        region: 'us-east-1',
        endpoints: { ssm: url, ec2: url, sts: url, rds: url, elasticache: url },
      }),
    );
    expect(error.code).toBe('ERR_CONFIG_INVALID');
    expect(error.message).toBe(
      'Invalid endpoint URL "not-a-url" for ssm, ec2, sts, rds, elasticache: expected an ' +
        'http:// or https:// URL such as http://127.0.0.1:4566',
    );
    expect(error.hint).toContain('--endpoint-url');
  });

  it('names only the services with the bad value', () => {
    const error = thrown(() =>
      checkEndpoints({ ssm: 'ftp://127.0.0.1', sts: 'http://127.0.0.1:4566' }),
    );
    expect(error.message).toContain('"ftp://127.0.0.1" for ssm:');
  });
});
