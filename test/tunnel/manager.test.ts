// TunnelManager bookkeeping with fake sessions: applying profiles, groups, events and
// errors for unknown names.

import { SSMClient } from '@aws-sdk/client-ssm';
import { afterEach, describe, expect, it } from 'vitest';
import type { TunnelStatus } from '../../daemon/config/types.js';
import { BastionlessError } from '../../daemon/errors.js';
import { TunnelManager, type TrafficSample } from '../../daemon/tunnel/manager.js';
import { FakeStarter } from './fake-session.js';
import {
  canBind,
  captureLogger,
  echoRoundTrip,
  freePort,
  makeProfile,
  startEchoServer,
  waitFor,
  type EchoServer,
} from './helpers.js';

let manager: TunnelManager | undefined;
let echo: EchoServer | undefined;

afterEach(async () => {
  await manager?.shutdown();
  await echo?.close();
  manager = undefined;
  echo = undefined;
});

async function setup(): Promise<{ manager: TunnelManager; starter: FakeStarter }> {
  echo = await startEchoServer();
  const server = echo;
  const starter = new FakeStarter(() => server.port);
  manager = new TunnelManager({
    logger: captureLogger().logger,
    startSession: starter.start,
    ssmClientFor: () => new SSMClient({ region: 'us-east-1' }),
    trafficIntervalMs: 50,
  });
  return { manager, starter };
}

describe('TunnelManager', () => {
  it('starts autoStart profiles only', async () => {
    const { manager } = await setup();
    await manager.applyProfiles([
      makeProfile({ name: 'auto', autoStart: true }),
      makeProfile({ name: 'manual' }),
    ]);

    expect(manager.get('auto')?.state).toBe('listening');
    expect(manager.get('manual')?.state).toBe('stopped');
    expect(manager.list().map((status) => status.name)).toEqual(['auto', 'manual']);
  });

  it('removes a profile and frees its port', async () => {
    const { manager } = await setup();
    const port = await freePort();
    await manager.applyProfiles([makeProfile({ name: 'gone', localPort: port, autoStart: true })]);
    const removed: string[] = [];
    manager.on('removed', (name: string) => removed.push(name));

    await manager.applyProfiles([]);

    expect(manager.get('gone')).toBeUndefined();
    expect(removed).toEqual(['gone']);
    expect(await canBind('127.0.0.1', port)).toBe(true);
  });

  it('restarts a running tunnel whose profile changed', async () => {
    const { manager } = await setup();
    const [first, second] = [await freePort(), await freePort()];
    await manager.applyProfiles([makeProfile({ name: 'db', localPort: first })]);
    await manager.start('db');

    await manager.applyProfiles([makeProfile({ name: 'db', localPort: second })]);

    expect(manager.get('db')?.state).toBe('listening');
    expect(manager.get('db')?.localAddress).toBe(`127.0.0.1:${second}`);
    expect(await canBind('127.0.0.1', first)).toBe(true);
  });

  it('keeps an unchanged tunnel as it is', async () => {
    const { manager, starter } = await setup();
    const port = await freePort();
    const profile = makeProfile({ name: 'db', localPort: port, autoStart: true });
    await manager.applyProfiles([profile]);
    await echoRoundTrip('127.0.0.1', port);

    await manager.applyProfiles([{ ...profile }]);

    expect(manager.get('db')?.sessionIds).toEqual(['fake-session-1']);
    expect(starter.calls).toHaveLength(1);
  });

  it('starts and stops a group', async () => {
    const { manager } = await setup();
    await manager.applyProfiles([
      makeProfile({ name: 'a', groups: ['staging'] }),
      makeProfile({ name: 'b', groups: ['staging', 'db'] }),
      makeProfile({ name: 'c', groups: ['prod'] }),
    ]);

    const started = await manager.startGroup('staging');
    expect(started.map((status) => status.state)).toEqual(['listening', 'listening']);
    expect(manager.get('c')?.state).toBe('stopped');
    const stopped = await manager.stopGroup('staging');
    expect(stopped.map((status) => status.state)).toEqual(['stopped', 'stopped']);
  });

  it('rejects unknown names and groups', async () => {
    const { manager } = await setup();
    await manager.applyProfiles([makeProfile({ name: 'db' })]);

    await expect(manager.start('nope')).rejects.toThrow(BastionlessError);
    await expect(manager.start('nope')).rejects.toMatchObject({ code: 'ERR_UNKNOWN_TUNNEL' });
    await expect(manager.startGroup('nope')).rejects.toMatchObject({ code: 'ERR_UNKNOWN_TUNNEL' });
  });

  it('emits state and traffic events', async () => {
    const { manager } = await setup();
    const states: TunnelStatus[] = [];
    const traffic: TrafficSample[] = [];
    manager.on('state', (status: TunnelStatus) => states.push(status));
    manager.on('traffic', (sample: TrafficSample) => traffic.push(sample));
    const port = await freePort();
    await manager.applyProfiles([makeProfile({ name: 'db', localPort: port, autoStart: true })]);

    const result = await echoRoundTrip('127.0.0.1', port, 32 * 1024);
    expect(result.received).toBe(result.sent);
    await waitFor(
      () => traffic.some((sample) => sample.bytesIn >= 32 * 1024),
      2000,
      'a traffic sample',
    );

    expect(states.map((status) => status.state)).toContain('listening');
    expect(states.map((status) => status.state)).toContain('open');
    const sample = traffic.at(-1) as TrafficSample;
    expect(sample.name).toBe('db');
    expect(sample.bytesOut).toBe(32 * 1024);
    expect(Number.isNaN(Date.parse(sample.at))).toBe(false);
  });

  it('restarts a tunnel', async () => {
    const { manager, starter } = await setup();
    const port = await freePort();
    await manager.applyProfiles([makeProfile({ name: 'db', localPort: port, autoStart: true })]);
    await echoRoundTrip('127.0.0.1', port);

    const status = await manager.restart('db');

    expect(status.state).toBe('listening');
    expect(starter.sessions[0]?.closed).toBe(true);
    const again = await echoRoundTrip('127.0.0.1', port);
    expect(again.received).toBe(again.sent);
  });
});
