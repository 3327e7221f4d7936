// A tunnel whose session resumes its websocket, driven by a fake session's events on real
// listeners. The status shows the cause of the latest failed attempt, and no next attempt time
// while one runs. New and waiting connections are closed at once only while that cause lasts,
// and open ones stay.

import { connect, type Socket } from 'node:net';
import { SSMClient } from '@aws-sdk/client-ssm';
import { afterEach, describe, expect, it } from 'vitest';
import type { TunnelStatus } from '../../daemon/config/types.js';
import type { ReconnectAttemptFailure } from '../../daemon/datachannel/reconnect.js';
import { DataChannelError } from '../../daemon/datachannel/errors.js';
import { RECONNECTING_REASON } from '../../daemon/tunnel/reconnect-failure.js';
import { Tunnel } from '../../daemon/tunnel/tunnel.js';
import { FakeStarter, type FakeSession } from './fake-session.js';
import {
  captureLogger,
  echoRoundTrip,
  expectClosed,
  makeProfile,
  startEchoServer,
  waitFor,
} from './helpers.js';

const ENDPOINT = 'http://127.0.0.1:4566';

const cleanups: (() => Promise<unknown> | void)[] = [];

afterEach(async () => {
  while (cleanups.length > 0) {
    await cleanups.pop()?.();
  }
});

interface Rig {
  tunnel: Tunnel;
  starter: FakeStarter;
  session: FakeSession;
  port: number;
  states: TunnelStatus[];
  logLines: string[];
}

async function openTunnel(mode: 'always-on' | 'on-demand' = 'always-on'): Promise<Rig> {
  const echo = await startEchoServer();
  cleanups.push(() => echo.close());
  const starter = new FakeStarter(() => echo.port);
  const { logger, lines } = captureLogger();
  const tunnel = new Tunnel(makeProfile({ mode, endpoints: { ssm: ENDPOINT } }), {
    logger,
    startSession: starter.start,
    ssmClientFor: () => new SSMClient({ region: 'us-east-1' }),
    timings: { backoffInitialMs: 50, backoffMaxMs: 200, connectionWaitMs: 5000 },
  });
  cleanups.push(() => tunnel.stop());
  const states: TunnelStatus[] = [];
  tunnel.on('state', (status: TunnelStatus) => states.push(status));
  await tunnel.start();
  const port = Number(tunnel.status().localAddress.split(':').pop());
  if (mode === 'on-demand') {
    // An on-demand tunnel starts its session for the first client.
    await connectClient(port);
  }
  await waitFor(() => tunnel.status().state === 'open', 5000, 'the tunnel to open');
  return { tunnel, starter, session: starter.sessions[0]!, port, states, logLines: lines };
}

function connectionRefusedAttempt(attempt: number, nextDelayMs: number | null = 400) {
  const error = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4566'), {
    code: 'ECONNREFUSED',
  });
  return { attempt, stage: 'resume', error, nextDelayMs } satisfies ReconnectAttemptFailure;
}

function loseWebsocket(session: FakeSession): void {
  session.emit(
    'reconnecting',
    new DataChannelError('ERR_CONNECTION_LOST', 'websocket closed with code 1006'),
  );
}

function connectClient(port: number): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.on('error', () => {});
    cleanups.push(() => {
      socket.destroy();
    });
  });
}

describe('Tunnel while reconnecting', () => {
  it('hides an earlier session error', async () => {
    const rig = await openTunnel();
    const unavailable = Object.assign(new Error('We encountered an internal error.'), {
      name: 'InternalServerError',
    });
    rig.session.emit('ended', { by: 'error', reason: unavailable.message, error: unavailable });
    await waitFor(() => rig.starter.sessions.length === 2, 2000, 'the second session');
    await waitFor(() => rig.tunnel.status().state === 'open', 2000, 'the tunnel to reopen');
    expect(rig.tunnel.status().lastError?.code).toBe('ERR_AWS_UNAVAILABLE');

    loseWebsocket(rig.starter.sessions[1]!);
    const status = rig.tunnel.status();

    expect(status.state).toBe('reconnecting');
    expect(status.reason).toBe(RECONNECTING_REASON);
    expect(status.lastError?.code).toBe('ERR_CONNECTION_LOST');
    expect(status.lastError?.message).toContain('1006');
  });

  it('drops the resume reason when the session ends', async () => {
    const rig = await openTunnel('on-demand');
    loseWebsocket(rig.session);
    rig.session.emit('reconnect-failed', connectionRefusedAttempt(1));
    expect(rig.tunnel.status().reason).toMatch(/^Resume attempt 1 failed/);

    const unavailable = Object.assign(new Error('We encountered an internal error.'), {
      name: 'InternalServerError',
    });
    rig.session.emit('ended', { by: 'error', reason: unavailable.message, error: unavailable });
    await waitFor(() => rig.tunnel.status().state === 'listening', 2000, 'the tunnel to listen');
    const status = rig.tunnel.status();

    expect(status.reason).toMatch(/^session ended by an error: /);
    expect(status.reason).not.toContain('Resume attempt');
    expect(status.lastError?.code).toBe('ERR_AWS_UNAVAILABLE');
  });

  it('shows each failed attempt', async () => {
    const rig = await openTunnel();
    loseWebsocket(rig.session);
    const emittedBefore = rig.states.length;

    const failedAt = Date.now();
    rig.session.emit('reconnect-failed', connectionRefusedAttempt(1, 400));
    const first = rig.tunnel.status();
    rig.session.emit('reconnect-failed', connectionRefusedAttempt(2, 800));
    const second = rig.tunnel.status();

    expect(first.lastError?.code).toBe('ERR_ENDPOINT_UNREACHABLE');
    expect(first.lastError?.message).toContain(ENDPOINT);
    expect(first.reason).toMatch(/^Resume attempt 1 failed at ResumeSession: Cannot reach /);
    expect(first.reason).toContain('new connections wait for the resume');
    expect(Date.parse(first.nextAttemptAt!)).toBeGreaterThanOrEqual(failedAt + 400);
    expect(second.reason).toMatch(/attempt 2 failed/);
    expect(second.reason).toContain('new connections are closed at once');
    expect(Date.parse(second.nextAttemptAt!)).toBeGreaterThanOrEqual(failedAt + 800);
    expect(rig.states.length - emittedBefore).toBe(2);
    expect(rig.states.at(-1)!.reason).toBe(second.reason);
  });

  it('keeps a pending login request', async () => {
    const rig = await openTunnel();
    rig.tunnel.beginLoginWait('MFA code required for AWS profile "dev"', 'Run `bastionless mfa`.');
    loseWebsocket(rig.session);
    rig.session.emit('reconnect-failed', connectionRefusedAttempt(1));
    const status = rig.tunnel.status();

    expect(status.state).toBe('reconnecting');
    expect(status.reason).toMatch(/attempt 1 failed/);
    expect(status.lastError?.code).toBe('ERR_NEEDS_LOGIN');
  });

  it('logs failed attempts with a rate limit', async () => {
    const rig = await openTunnel();
    loseWebsocket(rig.session);

    for (let attempt = 1; attempt <= 5; attempt += 1) {
      rig.session.emit('reconnect-failed', connectionRefusedAttempt(attempt));
    }
    const attemptLines = rig.logLines.filter((line) => line.includes('reconnect attempt failed'));

    expect(attemptLines).toHaveLength(1);
    expect(JSON.parse(attemptLines[0]!).attempt).toBe(1);
  });

  it('lets new clients wait after a transient failure', async () => {
    const rig = await openTunnel();
    loseWebsocket(rig.session);
    rig.session.emit('reconnect-failed', connectionRefusedAttempt(1));

    await connectClient(rig.port);
    await waitFor(() => rig.tunnel.status().activeConnections === 1, 2000, 'a waiting client');

    expect(rig.tunnel.status().activeConnections).toBe(1);
  });

  it('closes new clients while the failure lasts', async () => {
    const rig = await openTunnel();
    const before = await connectClient(rig.port);
    await waitFor(() => rig.tunnel.status().activeConnections === 1, 2000, 'the open client');
    loseWebsocket(rig.session);
    rig.session.emit('reconnect-failed', connectionRefusedAttempt(1));
    rig.session.emit('reconnect-failed', connectionRefusedAttempt(2));

    const began = Date.now();
    await expectClosed('127.0.0.1', rig.port, 2000);

    expect(Date.now() - began).toBeLessThan(1000);
    expect(before.destroyed).toBe(false);
  });

  it('clears nextAttemptAt while an attempt runs', async () => {
    const rig = await openTunnel();
    loseWebsocket(rig.session);
    rig.session.emit('reconnect-failed', connectionRefusedAttempt(1, 400));
    const scheduled = rig.tunnel.status();
    const emittedBefore = rig.states.length;

    rig.session.emit('reconnect-attempt', 2);
    const running = rig.tunnel.status();
    rig.session.emit('reconnect-failed', connectionRefusedAttempt(2, 800));
    const failedAgain = rig.tunnel.status();

    expect(scheduled.nextAttemptAt).not.toBeNull();
    expect(running.state).toBe('reconnecting');
    expect(running.nextAttemptAt).toBeNull();
    expect(running.reason).toMatch(/^Resume attempt 1 failed at ResumeSession: /);
    expect(running.reason).toContain('Retrying now;');
    expect(rig.states[emittedBefore]!.nextAttemptAt).toBeNull();
    expect(failedAgain.nextAttemptAt).not.toBeNull();
    expect(failedAgain.reason).toContain('Next attempt at');
  });

  it('keeps closing new clients while an attempt runs', async () => {
    const rig = await openTunnel();
    loseWebsocket(rig.session);
    rig.session.emit('reconnect-failed', connectionRefusedAttempt(1));
    rig.session.emit('reconnect-failed', connectionRefusedAttempt(2));
    rig.session.emit('reconnect-attempt', 3);

    const began = Date.now();
    await expectClosed('127.0.0.1', rig.port, 2000);

    expect(Date.now() - began).toBeLessThan(1000);
  });

  it('closes waiting clients once the failure lasts', async () => {
    const rig = await openTunnel();
    const handedOver = await connectClient(rig.port);
    await waitFor(() => rig.tunnel.status().activeConnections === 1, 2000, 'the open client');
    loseWebsocket(rig.session);
    rig.session.emit('reconnect-failed', connectionRefusedAttempt(1));
    const waiting = await connectClient(rig.port);
    // Active connections count the waiting ones too.
    await waitFor(() => rig.tunnel.status().activeConnections === 2, 2000, 'a waiting client');
    const closed = new Promise<number>((resolve) =>
      waiting.once('close', () => resolve(Date.now())),
    );

    const lastingAt = Date.now();
    rig.session.emit('reconnect-failed', connectionRefusedAttempt(2));
    const closedAt = await Promise.race([
      closed,
      new Promise<number>((resolve) => setTimeout(() => resolve(Number.NaN), 3000)),
    ]);

    expect(closedAt - lastingAt).toBeLessThan(1000);
    expect(rig.tunnel.status().activeConnections).toBe(1);
    expect(handedOver.destroyed).toBe(false);
    expect(rig.logLines.some((line) => line.includes('closed the waiting connections'))).toBe(true);
  });

  it('keeps waiting clients after a transient failure', async () => {
    const rig = await openTunnel();
    loseWebsocket(rig.session);
    const waiting = await connectClient(rig.port);
    await waitFor(() => rig.tunnel.status().activeConnections === 1, 2000, 'a waiting client');

    rig.session.emit('reconnect-failed', connectionRefusedAttempt(1));
    await new Promise((resolve) => setTimeout(resolve, 200));

    expect(waiting.destroyed).toBe(false);
    expect(rig.tunnel.status().activeConnections).toBe(1);
  });

  it('carries new clients again after the resume', async () => {
    const rig = await openTunnel();
    loseWebsocket(rig.session);
    rig.session.emit('reconnect-failed', connectionRefusedAttempt(1));
    rig.session.emit('reconnect-failed', connectionRefusedAttempt(2));

    rig.session.emit('reconnected');
    const status = rig.tunnel.status();
    const { sent, received } = await echoRoundTrip('127.0.0.1', rig.port);

    expect(status.state).toBe('open');
    expect(status.reason).toBeNull();
    expect(status.nextAttemptAt).toBeNull();
    expect(received).toBe(sent);
  });

  it('logs unlogged attempts before a forgotten session', async () => {
    const rig = await openTunnel();
    loseWebsocket(rig.session);
    for (const attempt of [1, 2, 3]) {
      rig.session.emit('reconnect-failed', connectionRefusedAttempt(attempt));
    }
    const notFound = Object.assign(new Error('Session fake-session-1 does not exist.'), {
      name: 'DoesNotExistException',
    });

    rig.session.emit('ended', { by: 'error', reason: notFound.message, error: notFound });
    const parsed = rig.logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const messages = parsed.map((line) => line.msg);
    const endLine = parsed.find(
      (line) => line.msg === 'reconnect ended after failed attempts not logged yet',
    );

    expect(messages.filter((msg) => msg === 'reconnect attempt failed')).toHaveLength(1);
    expect(endLine?.failedAttemptsSinceLastLine).toBe(2);
    expect(endLine?.attempt).toBe(3);
    expect(endLine?.outcome).toBe('session ended');
    expect(messages.indexOf(endLine?.msg)).toBeLessThan(
      messages.indexOf('session ended, not found by the service'),
    );
  });

  it('logs unlogged attempts on resume', async () => {
    const rig = await openTunnel();
    loseWebsocket(rig.session);
    rig.session.emit('reconnect-failed', connectionRefusedAttempt(1));
    rig.session.emit('reconnect-failed', connectionRefusedAttempt(2));

    rig.session.emit('reconnected');
    const parsed = rig.logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const endLine = parsed.find(
      (line) => line.msg === 'reconnect ended after failed attempts not logged yet',
    );

    expect(endLine?.failedAttemptsSinceLastLine).toBe(1);
    expect(endLine?.outcome).toBe('resumed');
  });

  it('turns a forgotten session into a reason', async () => {
    const rig = await openTunnel();
    loseWebsocket(rig.session);
    rig.session.emit('reconnect-failed', connectionRefusedAttempt(1));
    const notFound = Object.assign(new Error('Session fake-session-1 does not exist.'), {
      name: 'DoesNotExistException',
    });

    rig.session.emit('ended', { by: 'error', reason: notFound.message, error: notFound });
    const ended = rig.tunnel.status();

    expect(ended.lastError).toBeNull();
    expect(ended.reason).toBe(
      'session ended by the service: Session fake-session-1 does not exist.',
    );
    expect(rig.logLines.join('\n')).toContain('session ended, not found by the service');
    await waitFor(() => rig.tunnel.status().state === 'open', 2000, 'the tunnel to reopen');
    const { sent, received } = await echoRoundTrip('127.0.0.1', rig.port);

    expect(rig.tunnel.status().lastError).toBeNull();
    expect(received).toBe(sent);
  });

  it('keeps a login request when a session is forgotten', async () => {
    const rig = await openTunnel();
    loseWebsocket(rig.session);
    rig.tunnel.beginLoginWait('Enter the MFA code', 'Run `bastionless login`.');
    const notFound = Object.assign(new Error('Session fake-session-1 does not exist.'), {
      name: 'DoesNotExistException',
    });

    rig.session.emit('ended', { by: 'error', reason: notFound.message, error: notFound });

    expect(rig.tunnel.status().lastError?.code).toBe('ERR_NEEDS_LOGIN');
  });
});
