// Tunnel lifecycle with real listeners and a fake session that forwards to a real echo
// server: binding rules, on-demand starts, pools, error classes and stop.

import { createServer, type AddressInfo, type Server } from 'node:net';
import { SSMClient } from '@aws-sdk/client-ssm';
import { afterEach, describe, expect, it } from 'vitest';
import type { Profile, TunnelStatus } from '../../daemon/config/types.js';
import { BastionlessError } from '../../daemon/errors.js';
import { Tunnel, type TunnelDeps } from '../../daemon/tunnel/tunnel.js';
import { FakeStarter } from './fake-session.js';
import {
  canBind,
  captureLogger,
  echoRoundTrip,
  expectClosed,
  freePort,
  makeProfile,
  startEchoServer,
  waitFor,
  type EchoServer,
} from './helpers.js';

const cleanups: (() => Promise<unknown> | void)[] = [];

afterEach(async () => {
  while (cleanups.length > 0) {
    await cleanups.pop()?.();
  }
});

function portOf(status: TunnelStatus): number {
  const match = /:(\d+)$/.exec(status.localAddress.split(', ')[0] ?? '');
  if (!match) {
    throw new Error(`no port in localAddress ${status.localAddress}`);
  }
  return Number(match[1]);
}

async function echo(): Promise<EchoServer> {
  const server = await startEchoServer();
  cleanups.push(() => server.close());
  return server;
}

function makeTunnel(
  profile: Profile,
  starter: FakeStarter,
  extra: Partial<TunnelDeps> = {},
): Tunnel {
  const tunnel = new Tunnel(profile, {
    logger: captureLogger().logger,
    startSession: starter.start,
    ssmClientFor: () => new SSMClient({ region: 'us-east-1' }),
    timings: { backoffInitialMs: 50, backoffMaxMs: 200, connectionWaitMs: 5000 },
    ...extra,
  });
  cleanups.push(() => tunnel.stop());
  return tunnel;
}

describe('Tunnel binding', () => {
  it('fails at once when the port is in use', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen({ host: '127.0.0.1', port: 0 }, resolve));
    cleanups.push(() => new Promise((resolve) => blocker.close(resolve)));
    const port = (blocker.address() as AddressInfo).port;
    const starter = new FakeStarter(() => 1);
    const tunnel = makeTunnel(makeProfile({ localPort: port }), starter);

    const began = Date.now();
    const status = await tunnel.start();
    const elapsed = Date.now() - began;

    expect(status.state).toBe('failed');
    expect(elapsed).toBeLessThan(1000);
    expect(status.lastError?.code).toBe('ERR_PORT_IN_USE');
    expect(status.lastError?.message).toContain(`127.0.0.1:${port}`);
    // This test process holds the port, so the owner lookup must find it.
    expect(status.lastError?.message).toContain(`pid ${process.pid}`);
    expect(starter.calls).toHaveLength(0);
  });

  it('binds IPv4 and IPv6 for localhost', async () => {
    const server = await echo();
    const starter = new FakeStarter(() => server.port);
    const tunnel = makeTunnel(makeProfile({ bindAddress: 'localhost' }), starter);

    const status = await tunnel.start();
    const port = portOf(status);

    expect(status.localAddress).toBe(`127.0.0.1:${port}, [::1]:${port}`);
    const v4 = await echoRoundTrip('127.0.0.1', port);
    expect(v4.received).toBe(v4.sent);
    const v6 = await echoRoundTrip('::1', port);
    expect(v6.received).toBe(v6.sent);
  });

  it('rejects a non-loopback address without opt-in', async () => {
    const starter = new FakeStarter(() => 1);
    const tunnel = makeTunnel(makeProfile({ bindAddress: '0.0.0.0' }), starter);

    const status = await tunnel.start();

    expect(status.state).toBe('failed');
    expect(status.lastError?.code).toBe('ERR_NON_LOOPBACK');
    expect(status.lastError?.hint).toContain('allowNonLoopback');
    expect(starter.calls).toHaveLength(0);
  });

  it('binds a non-loopback address with opt-in and warns', async () => {
    const starter = new FakeStarter(() => 1);
    const { logger, lines } = captureLogger();
    const tunnel = makeTunnel(
      makeProfile({ bindAddress: '0.0.0.0', allowNonLoopback: true }),
      starter,
      { logger },
    );

    const status = await tunnel.start();

    expect(status.state).toBe('listening');
    expect(lines.some((line) => line.includes('non-loopback'))).toBe(true);
  });

  it('shares a remote port across loopback addresses', async () => {
    const server = await echo();
    const port = await freePort();
    const starter = new FakeStarter(() => server.port);
    const first = makeTunnel(
      makeProfile({ name: 'a', bindAddress: '127.0.0.2', localPort: port }),
      starter,
    );
    const second = makeTunnel(
      makeProfile({ name: 'b', bindAddress: '127.0.0.3', localPort: port }),
      starter,
    );

    expect((await first.start()).state).toBe('listening');
    expect((await second.start()).state).toBe('listening');
    const viaFirst = await echoRoundTrip('127.0.0.2', port);
    expect(viaFirst.received).toBe(viaFirst.sent);
    const viaSecond = await echoRoundTrip('127.0.0.3', port);
    expect(viaSecond.received).toBe(viaSecond.sent);
  });
});

const notConnected = () =>
  Object.assign(new Error('i-0123456789abcdef0 is not connected.'), {
    name: 'TargetNotConnected',
  });

/** Closes within 1 s, the limit for a connection to a tunnel that cannot start a session. */
const FAST_CLOSE_MS = 1000;

describe('Tunnel failure streak', () => {
  it('closes connections while a target is offline', async () => {
    const server = await echo();
    const starter = new FakeStarter(() => server.port);
    starter.failures.push(notConnected(), notConnected());
    const tunnel = makeTunnel(makeProfile(), starter);
    const port = portOf(await tunnel.start());

    // The first connection waits for the start, which fails with a lasting error.
    await expectClosed('127.0.0.1', port, FAST_CLOSE_MS);
    const status = tunnel.status();

    expect(starter.calls).toHaveLength(1);
    expect(status.lastError?.code).toBe('ERR_TARGET_NOT_CONNECTED');
    expect(status.reason).toContain('connections are closed at once until a session opens');
    expect(status.activeConnections).toBe(0);

    // Each connection is closed at once and requests another start after the backoff.
    await expectClosed('127.0.0.1', port, FAST_CLOSE_MS);
    await waitFor(() => starter.calls.length === 2, 2000, 'the second start');
    await expectClosed('127.0.0.1', port, FAST_CLOSE_MS);
    await waitFor(() => tunnel.status().state === 'open', 2000, 'state open');
    const result = await echoRoundTrip('127.0.0.1', port);

    expect(result.received).toBe(result.sent);
    expect(starter.calls).toHaveLength(3);
    expect(tunnel.status().totalConnections).toBe(4);
  });

  it('retries always-on in the background', async () => {
    const server = await echo();
    const starter = new FakeStarter(() => server.port);
    starter.failures = Array.from({ length: 1000 }, notConnected);
    const log = captureLogger();
    const tunnel = makeTunnel(makeProfile({ mode: 'always-on' }), starter, {
      logger: log.logger,
    });
    const port = portOf(await tunnel.start());
    await waitFor(() => starter.calls.length >= 2, 2000, 'two failed starts');

    for (let index = 0; index < 3; index += 1) {
      await expectClosed('127.0.0.1', port, FAST_CLOSE_MS);
    }
    const status = tunnel.status();

    expect(status.state).toBe('connecting');
    expect(status.reason).toMatch(/Next attempt at \d{4}-|Retrying now/);
    expect(status.activeConnections).toBe(0);
    const begins = log.lines.filter((line) => line.includes('closing connections at once'));
    expect(begins).toHaveLength(1);

    starter.failures.length = 0;
    await waitFor(() => tunnel.status().state === 'open', 3000, 'state open');
    const result = await echoRoundTrip('127.0.0.1', port);

    expect(result.received).toBe(result.sent);
    const ends = log.lines
      .map((line) => JSON.parse(line) as { msg: string; closedConnections?: number })
      .filter((entry) => entry.msg === 'connections wait for sessions again');
    expect(ends).toHaveLength(1);
    expect(ends[0]!.closedConnections).toBe(3);
  });
});

describe('Tunnel next attempt time', () => {
  it('reports the scheduled retry time', async () => {
    const server = await echo();
    const starter = new FakeStarter(() => server.port);
    starter.failures = Array.from({ length: 1000 }, notConnected);
    /** `nextAttemptAt` of the status at the moment each session start begins. */
    const atStart: (string | null)[] = [];
    const start: typeof starter.start = (options) => {
      atStart.push(tunnel.status().nextAttemptAt);
      return starter.start(options);
    };
    const tunnel = makeTunnel(makeProfile({ mode: 'always-on' }), starter, {
      startSession: start,
      timings: { backoffInitialMs: 1500, backoffMaxMs: 1500, connectionWaitMs: 5000 },
    });
    const events: TunnelStatus[] = [];
    tunnel.on('state', (status: TunnelStatus) => events.push(status));
    const before = Date.now();
    await tunnel.start();
    await waitFor(() => tunnel.status().nextAttemptAt !== null, 2000, 'a scheduled retry');
    const scheduled = tunnel.status();
    const atMs = Date.parse(scheduled.nextAttemptAt!);

    expect(scheduled.state).toBe('connecting');
    expect(scheduled.nextAttemptAt).toBe(new Date(atMs).toISOString());
    // The backoff's jitter takes up to 30 % off the 1.5 s delay.
    expect(atMs).toBeGreaterThanOrEqual(before + 1000);
    expect(atMs).toBeLessThanOrEqual(Date.now() + 1500);
    expect(scheduled.reason).toContain(`Next attempt at ${scheduled.nextAttemptAt}`);
    expect(events.some((status) => status.nextAttemptAt === scheduled.nextAttemptAt)).toBe(true);

    await waitFor(() => starter.calls.length >= 2, 4000, 'the retried start');

    expect(atStart.slice(0, 2)).toEqual([null, null]);
    await waitFor(() => tunnel.status().nextAttemptAt !== null, 2000, 'the next retry');
    const stopped = await tunnel.stop();

    expect(stopped.nextAttemptAt).toBeNull();
    expect(events.at(-1)?.nextAttemptAt).toBeNull();
  });

  it('has no next attempt while open', async () => {
    const server = await echo();
    const starter = new FakeStarter(() => server.port);
    const tunnel = makeTunnel(makeProfile({ mode: 'always-on' }), starter);
    await tunnel.start();
    await waitFor(() => tunnel.status().state === 'open', 2000, 'state open');

    expect(tunnel.status().nextAttemptAt).toBeNull();
  });
});

describe('Tunnel sessions', () => {
  it('starts a session at the first connection', async () => {
    const server = await echo();
    const starter = new FakeStarter(() => server.port);
    const tunnel = makeTunnel(makeProfile(), starter);
    const port = portOf(await tunnel.start());

    expect(starter.calls).toHaveLength(0);
    const result = await echoRoundTrip('127.0.0.1', port, 256 * 1024);

    expect(result.received).toBe(result.sent);
    expect(starter.calls).toHaveLength(1);
    expect(starter.calls[0]?.target).toBe('i-0123456789abcdef0');
    expect(tunnel.status().state).toBe('open');
    expect(tunnel.status().sessionIds).toEqual(['fake-session-1']);
  });

  it('starts a new session after the service ends one', async () => {
    const server = await echo();
    const starter = new FakeStarter(() => server.port);
    const tunnel = makeTunnel(makeProfile(), starter);
    const port = portOf(await tunnel.start());
    await echoRoundTrip('127.0.0.1', port);

    starter.sessions[0]?.endByService('idle timeout');

    expect(tunnel.status().state).toBe('listening');
    expect(tunnel.status().reason).toBe('session ended by the service: idle timeout');
    const again = await echoRoundTrip('127.0.0.1', port);
    expect(again.received).toBe(again.sent);
    expect(starter.calls).toHaveLength(2);
    expect(tunnel.status().sessionIds).toEqual(['fake-session-2']);
  });

  it('spreads connections over a pool of two', async () => {
    const server = await echo();
    const starter = new FakeStarter(() => server.port);
    const tunnel = makeTunnel(makeProfile({ sessionPool: 2 }), starter);
    const port = portOf(await tunnel.start());

    const results = await Promise.all([
      echoRoundTrip('127.0.0.1', port, 512 * 1024),
      echoRoundTrip('127.0.0.1', port, 512 * 1024),
    ]);

    for (const result of results) {
      expect(result.received).toBe(result.sent);
    }
    expect(starter.sessions).toHaveLength(2);
    expect(starter.sessions[0]?.stats.totalConnections).toBe(1);
    expect(starter.sessions[1]?.stats.totalConnections).toBe(1);
  });

  it('counts dial failures and keeps listening', async () => {
    const remotePort = await freePort();
    const starter = new FakeStarter(() => remotePort);
    const tunnel = makeTunnel(makeProfile(), starter);
    const port = portOf(await tunnel.start());

    await expectClosed('127.0.0.1', port);
    await waitFor(() => tunnel.status().dialFailures > 0, 2000, 'a dial failure');

    expect(tunnel.status().state).toBe('open');
    expect(tunnel.status().lastError?.code).toBe('ERR_REMOTE_REFUSED');
    const server = await startEchoServer(remotePort);
    cleanups.push(() => server.close());
    const result = await echoRoundTrip('127.0.0.1', port);
    expect(result.received).toBe(result.sent);
  });

  it('fails without retry on a fatal error', async () => {
    const starter = new FakeStarter(() => 1);
    starter.failures.push(
      Object.assign(new Error('User is not authorized'), { name: 'AccessDeniedException' }),
    );
    const tunnel = makeTunnel(makeProfile(), starter);
    const port = portOf(await tunnel.start());

    await expectClosed('127.0.0.1', port);
    await waitFor(() => tunnel.status().state === 'failed', 2000, 'state failed');

    expect(tunnel.status().lastError?.code).toBe('ERR_ACCESS_DENIED');
    expect(tunnel.status().lastError?.message).toContain('User is not authorized');
    expect(starter.calls).toHaveLength(1);
    expect(await canBind('127.0.0.1', port)).toBe(true);
  });

  it('retries a transient error for a waiting connection', async () => {
    const server = await echo();
    const starter = new FakeStarter(() => server.port);
    starter.failures.push(
      Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }),
    );
    const tunnel = makeTunnel(makeProfile(), starter);
    const port = portOf(await tunnel.start());

    const result = await echoRoundTrip('127.0.0.1', port);

    expect(result.received).toBe(result.sent);
    expect(starter.calls).toHaveLength(2);
    expect(tunnel.status().lastError?.code).toBe('ERR_AWS_UNAVAILABLE');
  });

  it('enters needs-login on an expired SSO session', async () => {
    const starter = new FakeStarter(() => 1);
    starter.failures.push(
      Object.assign(new Error('The SSO session associated with this profile has expired'), {
        name: 'CredentialsProviderError',
      }),
    );
    const tunnel = makeTunnel(makeProfile({ awsProfile: 'dev-admin' }), starter);
    const port = portOf(await tunnel.start());

    await expectClosed('127.0.0.1', port);
    await waitFor(() => tunnel.status().state === 'needs-login', 2000, 'state needs-login');

    expect(tunnel.status().lastError?.code).toBe('ERR_NEEDS_LOGIN');
    expect(tunnel.status().lastError?.hint).toContain('aws sso login --profile dev-admin');
    expect(await canBind('127.0.0.1', port)).toBe(false);
  });

  it('refreshes credentials after ExpiredToken and retries', async () => {
    const server = await echo();
    const starter = new FakeStarter(() => server.port);
    starter.failures.push(
      Object.assign(new Error('The security token included in the request is expired'), {
        name: 'ExpiredTokenException',
      }),
    );
    let refreshes = 0;
    const tunnel = makeTunnel(makeProfile(), starter, {
      refreshCredentials: () => {
        refreshes += 1;
      },
    });
    const port = portOf(await tunnel.start());

    const result = await echoRoundTrip('127.0.0.1', port);

    expect(result.received).toBe(result.sent);
    expect(refreshes).toBe(1);
    expect(starter.calls).toHaveLength(2);
  });

  it('frees the port and closes sessions on stop', async () => {
    const server = await echo();
    const starter = new FakeStarter(() => server.port);
    const tunnel = makeTunnel(makeProfile(), starter);
    const port = portOf(await tunnel.start());
    await echoRoundTrip('127.0.0.1', port);

    const status = await tunnel.stop();

    expect(status.state).toBe('stopped');
    expect(starter.sessions[0]?.closed).toBe(true);
    expect(await canBind('127.0.0.1', port)).toBe(true);
  });

  it('keeps always-on sessions open and restarts them', async () => {
    const server = await echo();
    const starter = new FakeStarter(() => server.port);
    const tunnel = makeTunnel(makeProfile({ mode: 'always-on', sessionPool: 2 }), starter);

    await tunnel.start();
    await waitFor(() => tunnel.status().sessionIds.length === 2, 2000, 'two sessions');
    starter.sessions[0]?.endByService('max session duration');
    await waitFor(() => starter.calls.length === 3, 2000, 'a restart');

    expect(tunnel.status().state).toBe('open');
    expect(tunnel.status().sessionIds).toHaveLength(2);
  });

  it('rejects a tag target without a resolver', async () => {
    const starter = new FakeStarter(() => 1);
    const tunnel = makeTunnel(makeProfile({ target: { tags: { Name: 'db' } } }), starter);
    const port = portOf(await tunnel.start());

    await expectClosed('127.0.0.1', port);
    await waitFor(() => tunnel.status().state === 'failed', 2000, 'state failed');

    expect(tunnel.status().lastError?.code).toBe('ERR_INVALID_TARGET');
    expect(starter.calls).toHaveLength(0);
  });

  it('classifies a thrown BastionlessError as is', async () => {
    const starter = new FakeStarter(() => 1);
    starter.failures.push(new BastionlessError('ERR_INVALID_DOCUMENT', 'Invalid session document'));
    const tunnel = makeTunnel(makeProfile(), starter);
    const port = portOf(await tunnel.start());

    await expectClosed('127.0.0.1', port);
    await waitFor(() => tunnel.status().state === 'failed', 2000, 'state failed');

    expect(tunnel.status().lastError?.code).toBe('ERR_INVALID_DOCUMENT');
  });

  it('replaces a session failing its health check', async () => {
    const server = await echo();
    const starter = new FakeStarter(() => server.port);
    const tunnel = makeTunnel(makeProfile({ mode: 'always-on' }), starter);
    await tunnel.start();
    await waitFor(() => tunnel.status().sessionIds.length === 1, 2000, 'the first session');
    const first = starter.sessions[0];
    Object.assign(first as object, {
      ping: () => Promise.reject(new Error('no pong')),
    });

    await tunnel.checkHealth();
    await waitFor(() => starter.sessions.length === 2, 2000, 'a replacement session');

    expect(first?.closed).toBe(true);
    expect(first?.closeReason).toBe('health check failed');
    await waitFor(() => tunnel.status().sessionIds[0] === 'fake-session-2', 2000, 'the new id');
  });
});
