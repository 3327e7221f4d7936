// TunnelManager end to end: real port-forwarding sessions against the SSM emulator, real
// listeners and a real echo server, every transfer checked with SHA-256.

import { createServer, type AddressInfo, type Server } from 'node:net';
import { SSMClient } from '@aws-sdk/client-ssm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Profile } from '../../daemon/config/types.js';
import { createLogger } from '../../daemon/log.js';
import { startPortForwardSession } from '../../daemon/portforward/index.js';
import { TunnelManager } from '../../daemon/tunnel/manager.js';
import type { TunnelTimings } from '../../daemon/tunnel/tunnel.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import {
  canBind,
  echoRoundTrip,
  expectClosed,
  freePort,
  makeProfile,
  startEchoServer,
  waitFor,
  type EchoServer,
} from './helpers.js';

const ACCESS_KEY_ID = 'AKIAEMULATORTUNNEL01';
const SECRET_ACCESS_KEY = 'tunnel-test-secret-key-do-not-log-0123456789';
const SESSION_TOKEN = 'tunnel-test-session-token-do-not-log-9876543210';
const INSTANCE_ID = 'i-0123456789abcdef0';

let emulator: Emulator;
let echo: EchoServer;
let manager: TunnelManager;
let logLines: string[];

const EXPIRED_KEY_ID = 'AKIAEMULATOREXPIRED01';

interface SetupOptions {
  idleTimeoutMs?: number;
  /** Start with an expired access key, and switch to the valid one on refresh. */
  startExpired?: boolean;
  timings?: Partial<TunnelTimings>;
}

let refreshes = 0;

async function setup(options: SetupOptions = {}): Promise<void> {
  emulator = await startEmulator({
    pacing: false,
    idleTimeoutMs: options.idleTimeoutMs,
    scenario: {
      credentials: [
        {
          accessKeyId: ACCESS_KEY_ID,
          secretAccessKey: SECRET_ACCESS_KEY,
          sessionToken: SESSION_TOKEN,
        },
        { accessKeyId: EXPIRED_KEY_ID, expired: true },
      ],
      instances: [
        { instanceId: INSTANCE_ID, pingStatus: 'Online', agentVersion: '3.3.987.0', tags: {} },
      ],
    },
  });
  logLines = [];
  const { logger } = createLogger({
    level: 'trace',
    stream: { write: (line: string) => logLines.push(line) },
  });
  let keyId = options.startExpired ? EXPIRED_KEY_ID : ACCESS_KEY_ID;
  refreshes = 0;
  manager = new TunnelManager({
    logger,
    timings: options.timings,
    startSession: (sessionOptions) => startPortForwardSession(sessionOptions),
    ssmClientFor: (profile) =>
      new SSMClient({
        region: profile.region,
        endpoint: emulator.url,
        credentials: {
          accessKeyId: keyId,
          secretAccessKey: SECRET_ACCESS_KEY,
          sessionToken: SESSION_TOKEN,
        },
      }),
    refreshCredentials: () => {
      refreshes += 1;
      keyId = ACCESS_KEY_ID;
    },
  });
}

beforeEach(async () => {
  echo = await startEchoServer();
});

afterEach(async () => {
  await manager?.shutdown();
  await emulator?.close();
  await echo.close();
});

function profile(overrides: Partial<Profile>): Profile {
  return makeProfile({ target: INSTANCE_ID, remotePort: echo.port, ...overrides });
}

function callsOf(operation: string): number {
  return emulator.calls.filter((call) => call.operation.endsWith(operation)).length;
}

describe('TunnelManager with the emulator', () => {
  it('fails a taken port without StartSession', async () => {
    await setup();
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const port = (blocker.address() as AddressInfo).port;
    await manager.applyProfiles([profile({ name: 'taken', localPort: port })]);

    const began = Date.now();
    const status = await manager.start('taken');
    const elapsed = Date.now() - began;
    await new Promise((resolve) => blocker.close(resolve));

    expect(status.state).toBe('failed');
    expect(elapsed).toBeLessThan(1000);
    expect(status.lastError?.code).toBe('ERR_PORT_IN_USE');
    expect(status.lastError?.message).toContain(String(port));
    expect(callsOf('StartSession')).toBe(0);
  });

  it('starts a new session after an idle timeout', async () => {
    await setup({ idleTimeoutMs: 2000 });
    const port = await freePort();
    await manager.applyProfiles([profile({ name: 'idle', localPort: port })]);
    await manager.start('idle');

    const first = await echoRoundTrip('127.0.0.1', port, 128 * 1024);
    expect(first.received).toBe(first.sent);
    const firstIds = manager.get('idle')?.sessionIds ?? [];
    expect(firstIds).toHaveLength(1);
    await waitFor(() => manager.get('idle')?.state === 'listening', 5000, 'the idle timeout');
    expect(manager.get('idle')?.reason).toContain('ended by the service');

    const second = await echoRoundTrip('127.0.0.1', port, 128 * 1024);
    expect(second.received).toBe(second.sent);
    const secondIds = manager.get('idle')?.sessionIds ?? [];
    expect(secondIds).toHaveLength(1);
    expect(secondIds[0]).not.toBe(firstIds[0]);
    expect(callsOf('StartSession')).toBe(2);
  });

  it('counts dial failures until the remote port opens', async () => {
    await setup();
    const remotePort = await freePort();
    const port = await freePort();
    await manager.applyProfiles([profile({ name: 'closed', localPort: port, remotePort })]);
    await manager.start('closed');

    await expectClosed('127.0.0.1', port, 10_000);
    await waitFor(() => (manager.get('closed')?.dialFailures ?? 0) > 0, 5000, 'a dial failure');
    expect(await canBind('127.0.0.1', port)).toBe(false);
    expect(manager.get('closed')?.lastError?.code).toBe('ERR_REMOTE_REFUSED');

    const late = await startEchoServer(remotePort);
    try {
      const result = await echoRoundTrip('127.0.0.1', port);
      expect(result.received).toBe(result.sent);
    } finally {
      await late.close();
    }
  });

  it('frees five ports within 2 s on shutdown', async () => {
    await setup();
    const ports = await Promise.all([1, 2, 3, 4, 5].map(() => freePort()));
    await manager.applyProfiles(
      ports.map((port, index) => profile({ name: `t${index}`, localPort: port, autoStart: true })),
    );
    for (const port of ports) {
      const result = await echoRoundTrip('127.0.0.1', port);
      expect(result.received).toBe(result.sent);
    }
    const sessionIds = manager.list().flatMap((status) => status.sessionIds);
    expect(sessionIds).toHaveLength(5);

    const began = Date.now();
    await manager.shutdown();
    const elapsed = Date.now() - began;

    expect(elapsed).toBeLessThan(2000);
    for (const port of ports) {
      expect(await canBind('127.0.0.1', port)).toBe(true);
    }
    const terminated = emulator.calls
      .filter((call) => call.operation.endsWith('TerminateSession'))
      .map((call) => (call.input as { SessionId?: string }).SessionId);
    expect([...terminated].sort()).toEqual([...sessionIds].sort());
  });

  it('spreads connections over a pool of two', async () => {
    await setup();
    const port = await freePort();
    await manager.applyProfiles([profile({ name: 'pool', localPort: port, sessionPool: 2 })]);
    await manager.start('pool');

    const results = await Promise.all([
      echoRoundTrip('127.0.0.1', port, 256 * 1024),
      echoRoundTrip('127.0.0.1', port, 256 * 1024),
    ]);

    for (const result of results) {
      expect(result.received).toBe(result.sent);
    }
    expect(manager.get('pool')?.sessionIds).toHaveLength(2);
    const streams = emulator.sessions.map((session) => session.streamsOpened);
    expect(streams).toEqual([1, 1]);
  });

  it('writes no secret to the log', async () => {
    await setup();
    const port = await freePort();
    await manager.applyProfiles([profile({ name: 'secret', localPort: port, autoStart: true })]);
    const result = await echoRoundTrip('127.0.0.1', port);
    expect(result.received).toBe(result.sent);
    const sessionId = manager.get('secret')?.sessionIds[0] ?? '';
    const firstToken = emulator.session(sessionId)?.token ?? '';
    // A websocket loss makes the session call ResumeSession, which issues a second token
    // and logs the reconnect with its error.
    expect(emulator.closeWebsocket(sessionId)).toBe(true);
    await waitFor(() => (manager.get('secret')?.reconnects ?? 0) > 0, 5000, 'a reconnect');
    const resumed = await echoRoundTrip('127.0.0.1', port);
    expect(resumed.received).toBe(resumed.sent);
    const resumedToken = emulator.session(sessionId)?.token ?? '';
    await manager.stop('secret');

    expect(firstToken).not.toBe('');
    expect(resumedToken).not.toBe(firstToken);
    expect(logLines.some((line) => line.includes('resuming session'))).toBe(true);
    const log = logLines.join('');
    expect(log).not.toContain(SECRET_ACCESS_KEY);
    expect(log).not.toContain(SESSION_TOKEN);
    expect(log).not.toContain(firstToken);
    expect(log).not.toContain(resumedToken);
  });

  it('keeps an idle session open with keepAlive', async () => {
    await setup({ idleTimeoutMs: 2000, timings: { keepAliveIntervalMs: 700 } });
    const port = await freePort();
    await manager.applyProfiles([
      profile({ name: 'kept', localPort: port, keepAlive: true, autoStart: true }),
    ]);
    const first = await echoRoundTrip('127.0.0.1', port);
    expect(first.received).toBe(first.sent);
    const sessionId = manager.get('kept')?.sessionIds[0];

    // Twice the idle timeout without any client traffic.
    await new Promise((resolve) => setTimeout(resolve, 4500));

    expect(manager.get('kept')?.state).toBe('open');
    expect(manager.get('kept')?.sessionIds).toEqual([sessionId]);
    const second = await echoRoundTrip('127.0.0.1', port);
    expect(second.received).toBe(second.sent);
    expect(callsOf('StartSession')).toBe(1);
  });

  it('restarts an always-on session ended by an admin', async () => {
    await setup();
    const port = await freePort();
    await manager.applyProfiles([
      profile({ name: 'always', localPort: port, mode: 'always-on', autoStart: true }),
    ]);
    await waitFor(() => manager.get('always')?.state === 'open', 5000, 'the first session');
    const firstId = manager.get('always')?.sessionIds[0] ?? '';

    emulator.terminateSession(firstId);
    await waitFor(
      () => (manager.get('always')?.sessionIds[0] ?? firstId) !== firstId,
      5000,
      'a replacement session',
    );

    expect(manager.get('always')?.state).toBe('open');
    expect(callsOf('StartSession')).toBe(2);
    const result = await echoRoundTrip('127.0.0.1', port);
    expect(result.received).toBe(result.sent);
  });

  it('refreshes expired credentials and retries', async () => {
    await setup({ startExpired: true });
    const port = await freePort();
    await manager.applyProfiles([profile({ name: 'expired', localPort: port, autoStart: true })]);

    const result = await echoRoundTrip('127.0.0.1', port);

    expect(result.received).toBe(result.sent);
    expect(refreshes).toBe(1);
    const starts = emulator.calls.filter((call) => call.operation.endsWith('StartSession'));
    expect(starts.map((call) => call.error ?? 'ok')).toEqual(['ExpiredTokenException', 'ok']);
  });
});
