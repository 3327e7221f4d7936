import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AwsClientSet } from '../../daemon/aws/clients.js';
import {
  createMergeBaseStore,
  fetchTeamProfiles,
  mergeProfiles,
  normalizeParameterPath,
  pullTeamProfiles,
  pushTeamProfiles,
} from '../../daemon/aws/team-profiles.js';
import { startAwsApiServer, type AwsApiServer } from './helpers/aws-api-server.js';
import { makeProfile, makeTestClients, rejection } from './helpers/fixtures.js';

const ORDERS = makeProfile({ name: 'orders-db', remoteHost: 'rds:orders', localPort: 15432 });
const CACHE = makeProfile({ name: 'cache', remotePort: 6379, localPort: 16379 });

describe('mergeProfiles', () => {
  it('takes remote changes to untouched profiles', () => {
    const remote = [{ ...ORDERS, remotePort: 5433 }];
    const result = mergeProfiles([ORDERS], [ORDERS], remote);
    expect(result.profiles).toEqual(remote);
    expect(result.updated).toEqual(['orders-db']);
    expect(result.conflicts).toEqual([]);
  });

  it('keeps a local edit beside a remote edit', () => {
    const local = [{ ...ORDERS, localPort: 25432 }];
    const remote = [{ ...ORDERS, remotePort: 5433 }];
    const result = mergeProfiles([ORDERS], local, remote);
    expect(result.profiles).toEqual([{ ...ORDERS, localPort: 25432, remotePort: 5433 }]);
    expect(result.conflicts).toEqual([]);
  });

  it('lets local win a conflict and reports it', () => {
    const local = [{ ...ORDERS, remotePort: 6000 }];
    const remote = [{ ...ORDERS, remotePort: 5433 }];
    const result = mergeProfiles([ORDERS], local, remote);
    expect(result.profiles).toEqual(local);
    expect(result.conflicts).toEqual([
      {
        profile: 'orders-db',
        field: 'remotePort',
        detail: 'changed locally and in SSM; kept the local value 6000, not 5433 from SSM',
      },
    ]);
  });

  it('adds new remote profiles and keeps local-only ones', () => {
    const localOnly = makeProfile({ name: 'scratch', localPort: 19999 });
    const result = mergeProfiles([], [localOnly], [CACHE]);
    expect(result.profiles.map((profile) => profile.name)).toEqual(['scratch', 'cache']);
    expect(result.added).toEqual(['cache']);
  });

  it('removes unedited profiles deleted in SSM', () => {
    const result = mergeProfiles([ORDERS, CACHE], [ORDERS, CACHE], [CACHE]);
    expect(result.profiles.map((profile) => profile.name)).toEqual(['cache']);
    expect(result.removed).toEqual(['orders-db']);
  });

  it('keeps edited profiles deleted in SSM', () => {
    const edited = { ...ORDERS, localPort: 25432 };
    const result = mergeProfiles([ORDERS], [edited], []);
    expect(result.profiles).toEqual([edited]);
    expect(result.conflicts[0]!.detail).toBe(
      'removed in SSM but changed locally; kept the local profile',
    );
  });

  it('keeps a local removal unless SSM changed it', () => {
    expect(mergeProfiles([CACHE], [], [CACHE]).profiles).toEqual([]);
    const changed = mergeProfiles([CACHE], [], [{ ...CACHE, remotePort: 6380 }]);
    expect(changed.profiles).toEqual([]);
    expect(changed.conflicts).toHaveLength(1);
  });
});

describe('normalizeParameterPath', () => {
  it('adds the trailing slash and rejects relative paths', () => {
    expect(normalizeParameterPath('/team/bastionless')).toBe('/team/bastionless/');
    expect(normalizeParameterPath('/team/')).toBe('/team/');
    expect(() => normalizeParameterPath('team')).toThrow(/Invalid SSM parameter path "team"/);
  });
});

describe('pull and push through SSM', () => {
  let server: AwsApiServer;
  let clients: AwsClientSet;
  let dir: string;

  beforeAll(async () => {
    server = await startAwsApiServer({});
    clients = makeTestClients(server.endpoint, 'AKIATEAMPROFILES01');
  });

  afterAll(async () => {
    clients.destroy();
    await server.close();
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bastionless-team-'));
    server.state.scenario.parameters = [];
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips profiles as JSON parameters', async () => {
    const names = await pushTeamProfiles(clients.ssm, '/team/db', [ORDERS, CACHE]);
    expect(names).toEqual(['/team/db/orders-db', '/team/db/cache']);
    const stored = server.state.scenario.parameters.find(
      (item) => item.name === '/team/db/orders-db',
    );
    expect(JSON.parse(stored!.value)).toEqual(ORDERS);
    expect(await fetchTeamProfiles(clients.ssm, '/team/db/')).toEqual([CACHE, ORDERS]);
  });

  it('keeps a local edit across pull', async () => {
    const baseStore = createMergeBaseStore(dir);
    await pushTeamProfiles(clients.ssm, '/team/db', [ORDERS, CACHE]);
    await baseStore.write('/team/db', [CACHE, ORDERS]);

    // A teammate moves the database port; locally, this user moved the listener port.
    await pushTeamProfiles(clients.ssm, '/team/db', [{ ...ORDERS, remotePort: 5433 }]);
    const local = [{ ...ORDERS, localPort: 25432 }, CACHE];
    const { result, commit } = await pullTeamProfiles({
      ssm: clients.ssm,
      path: '/team/db',
      local,
      baseStore,
    });
    expect(result.profiles).toEqual([{ ...ORDERS, localPort: 25432, remotePort: 5433 }, CACHE]);
    expect(result.conflicts).toEqual([]);
    expect(result.updated).toEqual(['orders-db']);

    await commit();
    expect(await baseStore.read('/team/db/')).toEqual([CACHE, { ...ORDERS, remotePort: 5433 }]);
  });

  it('rejects a parameter that is not a profile', async () => {
    server.state.scenario.parameters.push({
      name: '/team/db/broken',
      value: '{"name":',
      type: 'String',
    });
    const error = await rejection(fetchTeamProfiles(clients.ssm, '/team/db'));
    expect(error.code).toBe('ERR_CONFIG_PARSE');
    expect(error.message).toContain('/team/db/broken');
  });

  it('pages through many parameters', async () => {
    const many = Array.from({ length: 23 }, (_, index) =>
      makeProfile({ name: `svc-${String(index).padStart(2, '0')}`, localPort: 20000 + index }),
    );
    await pushTeamProfiles(clients.ssm, '/team/many', many);
    const fetched = await fetchTeamProfiles(clients.ssm, '/team/many');
    expect(fetched).toHaveLength(23);
    expect(fetched.map((profile) => profile.name)).toEqual(many.map((profile) => profile.name));
  });
});
