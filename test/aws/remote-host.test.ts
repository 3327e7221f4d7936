import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsClientSet } from '../../daemon/aws/clients.js';
import {
  createRemoteHostResolver,
  parseRemoteHost,
  resolveRemoteHost,
} from '../../daemon/aws/remote-host.js';
import { LOOKED_UP_REMOTE_PORT, validateProfile } from '../../daemon/config/schema.js';
import { BastionlessError } from '../../daemon/errors.js';
import { startAwsApiServer, type AwsApiServer } from './helpers/aws-api-server.js';
import { makeTestClients, rejection } from './helpers/fixtures.js';

let server: AwsApiServer;
let clients: AwsClientSet;

const ORDERS_PRIMARY = 'orders.c1a2b3c4d5e6.us-east-1.rds.amazonaws.com';
const ORDERS_STANDBY = 'orders-standby.c1a2b3c4d5e6.us-east-1.rds.amazonaws.com';

beforeAll(async () => {
  server = await startAwsApiServer({
    dbInstances: [
      { id: 'orders', engine: 'postgres', endpoint: { address: ORDERS_PRIMARY, port: 5432 } },
    ],
    dbClusters: [
      {
        id: 'billing',
        engine: 'aurora-mysql',
        endpoint: 'billing.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com',
        port: 3306,
      },
    ],
    cacheClusters: [
      {
        id: 'sessions',
        engine: 'redis',
        address: 'sessions.abc123.0001.use1.cache.amazonaws.com',
        port: 6379,
      },
    ],
  });
  clients = makeTestClients(server.endpoint, 'AKIAREMOTEHOST0001');
});

afterAll(async () => {
  clients.destroy();
  await server.close();
});

describe('parseRemoteHost', () => {
  it('parses resource prefixes', () => {
    expect(parseRemoteHost('rds:orders')).toEqual({ kind: 'rds', name: 'orders' });
    expect(parseRemoteHost('rds-cluster:billing')).toEqual({
      kind: 'rds-cluster',
      name: 'billing',
    });
    expect(parseRemoteHost('elasticache:sessions')).toEqual({
      kind: 'elasticache',
      name: 'sessions',
    });
  });

  it('keeps plain hosts and addresses', () => {
    expect(parseRemoteHost('db.internal')).toEqual({ kind: 'host', name: 'db.internal' });
    expect(parseRemoteHost('10.0.1.5')).toEqual({ kind: 'host', name: '10.0.1.5' });
    expect(parseRemoteHost('fd00::5')).toEqual({ kind: 'host', name: 'fd00::5' });
  });

  it('rejects an invalid identifier', () => {
    expect(() => parseRemoteHost('rds:')).toThrow(/Invalid remoteHost "rds:"/);
    expect(() => parseRemoteHost('rds:1bad')).toThrow(BastionlessError);
  });
});

describe('resolveRemoteHost', () => {
  it('looks up an RDS instance endpoint', async () => {
    expect(await resolveRemoteHost('rds:orders', clients)).toEqual({
      host: ORDERS_PRIMARY,
      port: 5432,
    });
  });

  it('looks up cluster writer and reader endpoints', async () => {
    expect(await resolveRemoteHost('rds-cluster:billing', clients)).toEqual({
      host: 'billing.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com',
      port: 3306,
    });
    expect(await resolveRemoteHost('rds-cluster-reader:billing', clients)).toEqual({
      host: 'billing.cluster-ro-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com',
      port: 3306,
    });
  });

  it('looks up an ElastiCache node endpoint', async () => {
    expect(await resolveRemoteHost('elasticache:sessions', clients)).toEqual({
      host: 'sessions.abc123.0001.use1.cache.amazonaws.com',
      port: 6379,
    });
  });

  it('reports unknown resources as not found', async () => {
    for (const remoteHost of ['rds:missing', 'rds-cluster:missing', 'elasticache:missing']) {
      const error = await rejection(resolveRemoteHost(remoteHost, clients));
      expect(error.code).toBe('ERR_REMOTE_HOST_NOT_FOUND');
      expect(error.message).toContain('missing');
    }
  });

  it('names the up command in the hint', async () => {
    const error = await rejection(resolveRemoteHost('rds:missing', clients));
    expect(error.hint).toBe(
      'Check the identifier and the region of the profile. A resource being created has no ' +
        'endpoint until it is available, and the tunnel does not retry the lookup, so run ' +
        '`bastionless up NAME` once it is available.',
    );
  });

  it('supplies the port a profile leaves out', async () => {
    const cases = [
      ['rds:orders', 5432],
      ['rds-cluster:billing', 3306],
      ['elasticache:sessions', 6379],
    ] as const;
    for (const [remoteHost, port] of cases) {
      const { profile, issues } = validateProfile({
        name: 'db',
        region: 'us-east-1',
        target: 'i-0123456789abcdef0',
        remoteHost,
        localPort: 15432,
      });
      expect(issues).toEqual([]);
      expect(profile!.remotePort).toBe(LOOKED_UP_REMOTE_PORT);
      const resolved = await resolveRemoteHost(profile!.remoteHost!, clients);
      expect(resolved.port).toBe(port);
    }
  });

  it('passes plain hosts through without a lookup', async () => {
    const before = server.state.calls.length;
    expect(await resolveRemoteHost('db.internal', clients)).toEqual({
      host: 'db.internal',
      port: null,
    });
    expect(server.state.calls.length).toBe(before);
  });
});

describe('createRemoteHostResolver', () => {
  it('picks up a failover after invalidate', async () => {
    let nowMs = 1_000;
    const resolver = createRemoteHostResolver('rds:orders', clients, {
      cacheMs: 10_000,
      now: () => nowMs,
    });
    expect((await resolver.resolve()).host).toBe(ORDERS_PRIMARY);

    server.state.scenario.dbInstances[0]!.endpoint = { address: ORDERS_STANDBY, port: 5433 };
    expect((await resolver.resolve()).host).toBe(ORDERS_PRIMARY);

    resolver.invalidate();
    expect(await resolver.resolve()).toEqual({ host: ORDERS_STANDBY, port: 5433 });

    server.state.scenario.dbInstances[0]!.endpoint = { address: ORDERS_PRIMARY, port: 5432 };
    nowMs += 10_000;
    expect(await resolver.resolve()).toEqual({ host: ORDERS_PRIMARY, port: 5432 });
  });
});
