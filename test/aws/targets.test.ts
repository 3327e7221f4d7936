import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsClientSet } from '../../daemon/aws/clients.js';
import {
  agentSupportsMux,
  compareVersions,
  createTargetResolver,
  describeTargetChoice,
  listTargets,
  resolveTarget,
  type TargetChoice,
} from '../../daemon/aws/targets.js';
import { startAwsApiServer, type AwsApiServer } from './helpers/aws-api-server.js';
import { makeTestClients, rejection } from './helpers/fixtures.js';

let server: AwsApiServer;
let clients: AwsClientSet;

const PROXY_TAGS = { Role: 'db-proxy', Environment: 'prod' };

beforeAll(async () => {
  server = await startAwsApiServer({
    instances: [
      {
        instanceId: 'i-0000000000000b002',
        tags: { ...PROXY_TAGS, Name: 'proxy-b' },
        agentVersion: '3.3.987.0',
      },
      {
        instanceId: 'i-0000000000000b001',
        tags: { ...PROXY_TAGS, Name: 'proxy-a' },
        agentVersion: '3.3.987.0',
      },
      { instanceId: 'i-0000000000000c001', tags: { Role: 'db-proxy', Environment: 'dev' } },
      { instanceId: 'i-00000000000000a01', tags: {}, agentVersion: '3.0.196.0' },
      {
        instanceId: 'i-00000000000000d01',
        tags: { Role: 'batch' },
        pingStatus: 'ConnectionLost',
      },
    ],
  });
  clients = makeTestClients(server.endpoint, 'AKIATARGETS0000001');
});

afterAll(async () => {
  clients.destroy();
  await server.close();
});

function setPing(instanceId: string, pingStatus: 'Online' | 'ConnectionLost'): void {
  const instance = server.state.scenario.instances.find((item) => item.instanceId === instanceId);
  instance!.pingStatus = pingStatus;
}

describe('agent versions', () => {
  it('compares dotted versions numerically', () => {
    expect(compareVersions('3.0.197.0', '3.0.196.0')).toBe(1);
    expect(compareVersions('3.0.196.0', '3.0.196.0')).toBe(0);
    expect(compareVersions('3.0.196', '3.0.196.0')).toBe(0);
    expect(compareVersions('2.3.1000.0', '3.0.196.0')).toBe(-1);
    expect(compareVersions('3.10.0.0', '3.9.0.0')).toBe(1);
  });

  it('requires an agent newer than 3.0.196.0 for mux', () => {
    expect(agentSupportsMux('3.0.196.0')).toBe(false);
    expect(agentSupportsMux('3.0.196.1')).toBe(true);
    expect(agentSupportsMux('3.3.987.0')).toBe(true);
  });
});

describe('listTargets', () => {
  it('lists instances sorted with mux support', async () => {
    const { instances: targets } = await listTargets(clients.ssm);
    expect(targets.map((target) => target.instanceId)).toEqual([
      'i-00000000000000a01',
      'i-00000000000000d01',
      'i-0000000000000b001',
      'i-0000000000000b002',
      'i-0000000000000c001',
    ]);
    const old = targets.find((target) => target.instanceId === 'i-00000000000000a01')!;
    expect(old.agentVersion).toBe('3.0.196.0');
    expect(old.supportsMux).toBe(false);
    const offline = targets.find((target) => target.instanceId === 'i-00000000000000d01')!;
    expect(offline.pingStatus).toBe('ConnectionLost');
    expect(targets.find((target) => target.instanceId === 'i-0000000000000b001')!.supportsMux).toBe(
      true,
    );
  });

  it('adds Name tags when given EC2', async () => {
    const { instances, namesError } = await listTargets(clients.ssm, clients.ec2);
    expect(namesError).toBeNull();
    expect(instances.map((target) => [target.instanceId, target.name])).toEqual([
      ['i-00000000000000a01', null],
      ['i-00000000000000d01', null],
      ['i-0000000000000b001', 'proxy-a'],
      ['i-0000000000000b002', 'proxy-b'],
      ['i-0000000000000c001', null],
    ]);
  });

  it('keeps listing when Name tags fail', async () => {
    const denied = makeTestClients('http://127.0.0.1:1', 'AKIATARGETS0000001');
    try {
      const { instances, namesError } = await listTargets(clients.ssm, denied.ec2);
      expect(namesError).toBeInstanceOf(Error);
      expect(instances).toHaveLength(5);
      expect(instances.every((target) => target.name === null)).toBe(true);
    } finally {
      denied.destroy();
    }
  });
});

describe('resolveTarget', () => {
  it('accepts an Online instance id', async () => {
    const target = await resolveTarget('i-00000000000000a01', clients);
    expect(target.instanceId).toBe('i-00000000000000a01');
    expect(target.pingStatus).toBe('Online');
  });

  it('rejects an offline instance id', async () => {
    const error = await rejection(resolveTarget('i-00000000000000d01', clients));
    expect(error.code).toBe('ERR_TARGET_NOT_CONNECTED');
    expect(error.message).toContain('i-00000000000000d01 ConnectionLost');
  });

  it('rejects an unknown instance id', async () => {
    const error = await rejection(resolveTarget('i-0000000000000ffff', clients));
    expect(error.code).toBe('ERR_INVALID_TARGET');
  });

  it('rejects tags without a match', async () => {
    const error = await rejection(resolveTarget({ tags: { Role: 'missing' } }, clients));
    expect(error.code).toBe('ERR_INVALID_TARGET');
    expect(error.message).toContain('Role=missing');
  });

  it('picks the lowest id among tag matches', async () => {
    const choices: TargetChoice[] = [];
    const target = await resolveTarget({ tags: PROXY_TAGS }, clients, undefined, (choice) =>
      choices.push(choice),
    );
    expect(target.instanceId).toBe('i-0000000000000b001');
    expect(choices).toEqual([
      {
        instanceId: 'i-0000000000000b001',
        onlineIds: ['i-0000000000000b001', 'i-0000000000000b002'],
        reason: 'lowest-id',
      },
    ]);
    expect(describeTargetChoice({ tags: PROXY_TAGS }, choices[0]!)).toBe(
      'target tags Role=db-proxy,Environment=prod matches 2 Online instances ' +
        '(i-0000000000000b001, i-0000000000000b002); picked the lowest instance id, ' +
        'i-0000000000000b001',
    );
  });

  it('reports no choice for a single match', async () => {
    const choices: TargetChoice[] = [];
    await resolveTarget(
      { tags: { Role: 'db-proxy', Environment: 'dev' } },
      clients,
      undefined,
      (c) => choices.push(c),
    );
    expect(choices).toEqual([]);
  });
});

describe('createTargetResolver', () => {
  it('reports a pick among several once', async () => {
    const choices: TargetChoice[] = [];
    const resolver = createTargetResolver({ tags: PROXY_TAGS }, clients, (choice) =>
      choices.push(choice),
    );
    await resolver.resolve();
    await resolver.resolve();
    expect(choices.map((choice) => choice.instanceId)).toEqual(['i-0000000000000b001']);
  });

  it('fails over when the chosen instance goes offline', async () => {
    const resolver = createTargetResolver({ tags: PROXY_TAGS }, clients);
    expect((await resolver.resolve()).instanceId).toBe('i-0000000000000b001');
    expect(resolver.current).toBe('i-0000000000000b001');

    setPing('i-0000000000000b001', 'ConnectionLost');
    try {
      expect((await resolver.resolve()).instanceId).toBe('i-0000000000000b002');

      // Once moved, the resolver stays on the new instance even when the old one returns.
      setPing('i-0000000000000b001', 'Online');
      expect((await resolver.resolve()).instanceId).toBe('i-0000000000000b002');

      setPing('i-0000000000000b002', 'ConnectionLost');
      expect((await resolver.resolve()).instanceId).toBe('i-0000000000000b001');
    } finally {
      setPing('i-0000000000000b001', 'Online');
      setPing('i-0000000000000b002', 'Online');
    }
  });

  it('reports offline when every match is offline', async () => {
    const resolver = createTargetResolver({ tags: PROXY_TAGS }, clients);
    setPing('i-0000000000000b001', 'ConnectionLost');
    setPing('i-0000000000000b002', 'ConnectionLost');
    try {
      const error = await rejection(resolver.resolve());
      expect(error.code).toBe('ERR_TARGET_NOT_CONNECTED');
      expect(error.retryable).toBe(true);
    } finally {
      setPing('i-0000000000000b001', 'Online');
      setPing('i-0000000000000b002', 'Online');
    }
  });
});
