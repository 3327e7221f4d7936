import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsClientSet, withCredentialRetry } from '../../daemon/aws/clients.js';
import { CachingCredentialsProvider } from '../../daemon/aws/credentials.js';
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
