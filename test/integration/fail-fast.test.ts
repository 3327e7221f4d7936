// A real daemon against the SSM emulator, with clients on real TCP sockets: a tunnel that
// cannot start a session (offline target, unreachable endpoint) closes connections at once,
// drops clients that give up, reports the failure in its status, and carries connections
// again once the target is back. A client that waits while the emulator restarts moves to
// the new session.

import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { TunnelStatus } from '../../daemon/config/types.js';
import { statusTable } from '../../daemon/cli/tunnel-commands.js';
import {
  startEmulatorProcess,
  type EmulatorProcess,
} from '../reliability/harness/emulator-process.js';
import { HoldingProxy } from './holding-proxy.js';
import { echoRoundTrip, freePort, sha256 } from '../tunnel/helpers.js';
import {
  cleanupAfterEach,
  emulatorProfile,
  startEmulatorRig,
  startTestDaemon,
  waitForTunnel,
  type EmulatorRig,
  type TestDaemon,
} from './helpers.js';

const OFFLINE_INSTANCE = 'i-00000000000000bad';
/** A connection to a tunnel that cannot start a session must close within this limit. */
const FAST_CLOSE_MS = 1500;
const REQUEST = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
/**
 * An endpoint host that never resolves. Its first label is 64 characters, one more than DNS
 * allows (RFC 1035), so the resolver fails at once and sends no query off this machine.
 */
const UNRESOLVABLE_ENDPOINT = `https://${'s'.repeat(64)}.bastionless-test.invalid`;

const addCleanup = cleanupAfterEach();

type Rig = EmulatorRig;

function setup(): Promise<Rig> {
  return startEmulatorRig(addCleanup);
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
    const after = await waitForTunnel(daemon, 'slow', (s) => s.activeConnections === 0);

    expect(after.totalConnections).toBe(1);
  });

  it.each([
    ['a closed port', 'on-demand'],
    ['a closed port', 'always-on'],
    ['an unresolvable host', 'on-demand'],
  ] as const)('closes connections when the endpoint is %s (%s)', async (kind, mode) => {
    const rig = await setup();
    const endpoint =
      kind === 'a closed port' ? `http://127.0.0.1:${await freePort()}` : UNRESOLVABLE_ENDPOINT;
    const profile = emulatorProfile(rig.emulator, {
      name: 'down',
      awsProfile: 'static',
      mode,
      remotePort: rig.echo.port,
      endpoints: { ssm: endpoint },
    });
    const daemon = await daemonWith(rig, profile);
    const port = await daemon.localPort('down');

    // No session has opened, so already the first failed start closes connections at once.
    const results: ClientResult[] = [];
    for (let index = 0; index < 3; index += 1) {
      results.push(await requestUntilClosed(port));
    }
    const status = await daemon.tunnel('down');

    for (const result of results) {
      expect(result.closedAfterMs).toBeLessThan(FAST_CLOSE_MS);
      expect(result.received).toBe(0);
    }
    expect(status.lastError?.code).toBe('ERR_ENDPOINT_UNREACHABLE');
    expect(status.state).not.toBe('open');
    expect(status.reason).toContain('connections are closed at once until a session opens');
    expect(status.activeConnections).toBe(0);
  });

  it('moves a waiting client to the next session', { timeout: 90_000 }, async () => {
    const rig = await setup();
    // The daemon reaches the emulator through a proxy, so the restart below looks like a slow
    // endpoint rather than a refused port. Refused ports count as a lasting outage from the
    // second attempt on, which closes waiting connections by design.
    const first = await startEmulatorProcess(await freePort());
    addCleanup(() => first.kill());
    const proxy = await HoldingProxy.start(await freePort(), portOf(first));
    addCleanup(() => proxy.close());
    const profile = emulatorProfile(rig.emulator, {
      name: 'restart',
      awsProfile: 'static',
      remotePort: rig.echo.port,
      endpoints: { ssm: proxy.url, ec2: proxy.url, sts: proxy.url },
    });
    const daemon = await daemonWith(rig, profile);
    const port = await daemon.localPort('restart');
    const opened = await waitForTunnel(daemon, 'restart', (s) => s.state === 'open');
    const before = await echoRoundTrip('127.0.0.1', port);
    expect(before.received).toBe(before.sent);
    // The next emulator starts first, so the restart itself takes no time.
    const second = await startEmulatorProcess(await freePort());
    addCleanup(() => second.kill());

    const resuming = new Promise<void>((resolve) => {
      const onState = (status: TunnelStatus): void => {
        if (status.name === 'restart' && status.state === 'reconnecting') {
          daemon.daemon.manager.off('state', onState);
          resolve();
        }
      };
      daemon.daemon.manager.on('state', onState);
    });
    proxy.hold();
    await first.kill();
    await resuming;
    // The client connects while the session resumes, and its bytes wait in the daemon.
    const payload = randomBytes(256 * 1024);
    const received: Buffer[] = [];
    const client = connect({ host: '127.0.0.1', port }, () => client.write(payload));
    client.on('error', () => {});
    client.on('data', (chunk: Buffer) => received.push(chunk));
    addCleanup(async () => {
      client.destroy();
    });
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    await waitForTunnel(daemon, 'restart', (s) => s.activeConnections === 1);

    // The new emulator does not know the old session, so ResumeSession fails for good.
    proxy.forwardTo(portOf(second));
    const reopened = await waitForTunnel(
      daemon,
      'restart',
      (s) => s.state === 'open' && !s.sessionIds.includes(opened.sessionIds[0]!),
      30_000,
    );
    const echoed = await Promise.race([
      waitForBytes(received, payload.length, 20_000),
      closed.then(() => {
        throw new Error(`client closed after ${Buffer.concat(received).length} echoed bytes`);
      }),
    ]);
    const status = await daemon.tunnel('restart');
    const row = statusTable([status]).split('\n')[1]!;

    expect(sha256(echoed)).toBe(sha256(payload));
    expect(reopened.sessionIds).toHaveLength(1);
    // The service replied to the resume with "not found", so the errors of that resume no longer
    // apply and neither the JSON nor the table shows them.
    expect(status.lastError).toBeNull();
    expect(row).not.toContain('ERR_');
  });
});

/** Resolves with the bytes in `chunks` once they reach `length`, or rejects after `timeoutMs`. */
async function waitForBytes(chunks: Buffer[], length: number, timeoutMs: number): Promise<Buffer> {
  const deadline = Date.now() + timeoutMs;
  while (Buffer.concat(chunks).length < length) {
    if (Date.now() > deadline) {
      throw new Error(
        `received ${Buffer.concat(chunks).length} of ${length} bytes in ${timeoutMs} ms`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return Buffer.concat(chunks);
}

function portOf(emulator: EmulatorProcess): number {
  return Number(new URL(emulator.url).port);
}
