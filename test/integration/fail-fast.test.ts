// A real daemon against the SSM emulator, with clients on real TCP sockets: a tunnel that
// cannot start a session closes connections at once, forgets clients that give up, reports
// the failure in its status, and carries connections again once the target is back.

import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { echoRoundTrip, startEchoServer, type EchoServer } from '../tunnel/helpers.js';
import {
  cleanupAfterEach,
  createTestHome,
  emulatorProfile,
  startTestDaemon,
  waitForTunnel,
  type TestDaemon,
  type TestHome,
} from './helpers.js';

const OFFLINE_INSTANCE = 'i-00000000000000bad';
const STATIC_PROFILE =
  '[profile static]\naws_access_key_id = AKIASTATIC00000001\naws_secret_access_key = s3cret\n';
/** A connection to a tunnel that cannot start a session must close within this limit. */
const FAST_CLOSE_MS = 1500;
const REQUEST = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';

const addCleanup = cleanupAfterEach();

interface Rig {
  home: TestHome;
  emulator: Emulator;
  echo: EchoServer;
}

async function setup(): Promise<Rig> {
  const home = await createTestHome();
  addCleanup(() => home.cleanup());
  await home.writeAwsConfig(STATIC_PROFILE);
  const emulator = await startEmulator({ pacing: false });
  addCleanup(() => emulator.close());
  const echo = await startEchoServer();
  addCleanup(() => echo.close());
  return { home, emulator, echo };
}

async function daemonWith(rig: Rig, ...profiles: Parameters<typeof startTestDaemon>[1]) {
  const daemon = await startTestDaemon(rig.home.dir, profiles);
  addCleanup(() => daemon.stop());
  return daemon;
}

interface ClientResult {
  closedAfterMs: number;
  received: number;
}

/** Connects, sends an HTTP request as curl would, and resolves once the daemon closes it. */
function requestUntilClosed(port: number, timeoutMs = 10_000): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const began = Date.now();
    let received = 0;
    const socket = connect({ host: '127.0.0.1', port }, () => socket.write(REQUEST));
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connection to port ${port} still open after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ closedAfterMs: Date.now() - began, received });
    });
  });
}

describe('fail-fast tunnel', () => {
  it('closes connections to an offline target', async () => {
    const rig = await setup();
    const profile = emulatorProfile(rig.emulator, {
      name: 'off',
      target: OFFLINE_INSTANCE,
      awsProfile: 'static',
      mode: 'on-demand',
      remotePort: rig.echo.port,
    });
    const daemon = await daemonWith(rig, profile);
    const port = await daemon.localPort('off');

    // The first connection waits for the start that fails, and the next ones do not wait.
    const results: ClientResult[] = [];
    for (let index = 0; index < 3; index += 1) {
      results.push(await requestUntilClosed(port));
    }
    const status = await daemon.tunnel('off');

    for (const result of results) {
      expect(result.closedAfterMs).toBeLessThan(FAST_CLOSE_MS);
      expect(result.received).toBe(0);
    }
    expect(status.lastError?.code).toBe('ERR_TARGET_NOT_CONNECTED');
    expect(status.state).not.toBe('open');
    expect(status.reason).toContain('connections are closed at once until a session opens');
    expect(status.activeConnections).toBe(0);
    expect(status.totalConnections).toBe(3);
  });

  it('carries connections once the target is back', async () => {
    const rig = await setup();
    const profile = emulatorProfile(rig.emulator, {
      name: 'off',
      target: OFFLINE_INSTANCE,
      awsProfile: 'static',
      remotePort: rig.echo.port,
    });
    const daemon = await daemonWith(rig, profile);
    const port = await daemon.localPort('off');
    const failing = await waitForTunnel(daemon, 'off', (s) =>
      /Next attempt at/.test(s.reason ?? ''),
    );

    expect(failing.state).toBe('connecting');
    expect(failing.lastError?.code).toBe('ERR_TARGET_NOT_CONNECTED');
    expect((await requestUntilClosed(port)).closedAfterMs).toBeLessThan(FAST_CLOSE_MS);

    const instance = rig.emulator.state.scenario.instances.find(
      (candidate) => candidate.instanceId === OFFLINE_INSTANCE,
    )!;
    instance.pingStatus = 'Online';
    await waitForTunnel(daemon, 'off', (s) => s.state === 'open');
    const { sent, received } = await echoRoundTrip('127.0.0.1', port);

    expect(received).toBe(sent);
  });

  it('closes connections without an AWS profile', async () => {
    const rig = await setup();
    const profile = emulatorProfile(rig.emulator, {
      name: 'noprofile',
      awsProfile: 'missing',
      mode: 'on-demand',
      remotePort: rig.echo.port,
    });
    const daemon = await daemonWith(rig, profile);
    const port = await daemon.localPort('noprofile');

    const first = await requestUntilClosed(port);
    const second = await requestUntilClosed(port);
    const status = await daemon.tunnel('noprofile');

    expect(first.closedAfterMs).toBeLessThan(FAST_CLOSE_MS);
    expect(second.closedAfterMs).toBeLessThan(FAST_CLOSE_MS);
    expect(status.state).toBe('needs-login');
    expect(status.lastError?.code).toBe('ERR_AWS_PROFILE_NOT_FOUND');
    expect(status.activeConnections).toBe(0);
  });

  it('forgets a waiting client that gives up', async () => {
    const rig = await setup();
    // The handshake takes longer than the test, so the client waits for a session.
    rig.emulator.setDefaultFaults({ handshakeDelayMs: 20_000 });
    const profile = emulatorProfile(rig.emulator, {
      name: 'slow',
      awsProfile: 'static',
      mode: 'on-demand',
      remotePort: rig.echo.port,
    });
    const daemon: TestDaemon = await daemonWith(rig, profile);
    const port = await daemon.localPort('slow');
    const socket: Socket = connect({ host: '127.0.0.1', port }, () => socket.write(REQUEST));
    socket.on('error', () => {});
    addCleanup(async () => {
      socket.destroy();
    });
    const waiting = await waitForTunnel(daemon, 'slow', (s) => s.activeConnections === 1);

    expect(waiting.state).toBe('connecting');

    const closed = new Promise<number>((resolve) => {
      const began = Date.now();
      socket.once('close', () => resolve(Date.now() - began));
    });
    socket.end();
    // The client sees the close only once the daemon closed its side, so no CLOSE-WAIT is left.
    expect(await closed).toBeLessThan(FAST_CLOSE_MS);
    const after = await waitForTunnel(daemon, 'slow', (s) => s.activeConnections === 0, 1000);

    expect(after.totalConnections).toBe(1);
  });
});
