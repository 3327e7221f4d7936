// A real daemon against the SSM emulator, with a connection open while the session's websocket
// is lost. When ResumeSession keeps failing with AccessDeniedException, the connection is reset
// at once, and the status and log report the reset. When the SSM endpoint only refuses
// connections for a few seconds, the connection waits for the resume and every byte arrives
// intact.

import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RESUME_FAST_CLOSE_NOTICE } from '../../daemon/tunnel/reconnect-failure.js';
import { freePort, sha256 } from '../tunnel/helpers.js';
import { RefusingProxy } from '../tunnel/refusing-proxy.js';
import {
  cleanupAfterEach,
  emulatorProfile,
  startEmulatorRig,
  startTestDaemon,
  waitForTunnel,
  waitUntil,
  type TestDaemon,
} from './helpers.js';

const addCleanup = cleanupAfterEach();

/** A held connection must be reset within this time after the websocket is lost. */
const RESET_WITHIN_MS = 8000;

/** How long the SSM endpoint refuses connections in the outage test, in ms. */
const OUTAGE_MS = 3000;

/** A client connection that records every byte it receives and how it closed. */
interface HeldClient {
  socket: Socket;
  received: Buffer[];
  receivedBytes(): number;
  /** Resolves with the socket error code (ECONNRESET after a reset), or null on a clean close. */
  closed: Promise<string | null>;
}

async function openHeldClient(port: number): Promise<HeldClient> {
  const socket = connect({ host: '127.0.0.1', port });
  addCleanup(async () => {
    socket.destroy();
  });
  const received: Buffer[] = [];
  let errorCode: string | null = null;
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  socket.on('error', (error: NodeJS.ErrnoException) => {
    errorCode = error.code ?? error.message;
  });
  const closed = new Promise<string | null>((resolve) => {
    socket.once('close', () => resolve(errorCode));
  });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return {
    socket,
    received,
    receivedBytes: () => received.reduce((total, chunk) => total + chunk.length, 0),
    closed,
  };
}

/** Writes `payload` and waits until the echo server has sent back `expectedTotal` bytes. */
async function echoThrough(client: HeldClient, payload: Buffer, expectedTotal: number) {
  client.socket.write(payload);
  await waitUntil(`echo of ${expectedTotal} bytes`, () => client.receivedBytes() >= expectedTotal);
}

async function sessionIdOf(daemon: TestDaemon, name: string): Promise<string> {
  const open = await waitForTunnel(daemon, name, (s) => s.state === 'open');
  return open.sessionIds[0]!;
}

describe('held connection during a resume', () => {
  it('is reset after access denied', { timeout: 60_000 }, async () => {
    const { home, emulator, echo } = await startEmulatorRig(addCleanup);
    const profile = emulatorProfile(emulator, {
      name: 'pg',
      awsProfile: 'static',
      remotePort: echo.port,
    });
    const daemon = await startTestDaemon(home.dir, [profile]);
    addCleanup(() => daemon.stop());
    const sessionId = await sessionIdOf(daemon, 'pg');
    const client = await openHeldClient(await daemon.localPort('pg'));
    await echoThrough(client, randomBytes(64 * 1024), 64 * 1024);

    emulator.setFaults(sessionId, {
      rejectResume: { errorType: 'AccessDeniedException', forMs: 600_000 },
    });
    const lostAt = Date.now();
    expect(emulator.closeWebsocket(sessionId)).toBe(true);
    const closedWith = await Promise.race([
      client.closed,
      new Promise<string>((resolve) => setTimeout(() => resolve('still open'), RESET_WITHIN_MS)),
    ]);
    const closedAfterMs = Date.now() - lostAt;

    expect(closedWith).toBe('ECONNRESET');
    expect(closedAfterMs).toBeLessThan(RESET_WITHIN_MS);

    const status = await waitForTunnel(daemon, 'pg', (s) => s.lastError !== null);
    expect(status.state).toBe('reconnecting');
    expect(status.lastError!.code).toBe('ERR_ACCESS_DENIED');
    expect(status.reason).toContain(RESUME_FAST_CLOSE_NOTICE);
    expect(status.reason).toContain('1 open connection was reset');
    expect(status.activeConnections).toBe(0);

    const logText = await readFile(join(daemon.stateDir, 'daemon.log'), 'utf8');
    const resetLines = logText
      .split('\n')
      .filter((line) => line.includes('that is not about the network, reset the open connections'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(resetLines).toHaveLength(1);
    expect(resetLines[0]!.code).toBe('ERR_ACCESS_DENIED');
    expect(resetLines[0]!.resetConnections).toBe(1);
    expect(resetLines[0]!.sessionId).toBe(sessionId);
  });

  it('keeps its bytes across an outage', { timeout: 60_000 }, async () => {
    const { home, emulator, echo } = await startEmulatorRig(addCleanup);
    const proxy = new RefusingProxy(await freePort(), Number(new URL(emulator.url).port));
    await proxy.start();
    addCleanup(() => proxy.stop());
    const base = emulatorProfile(emulator, {
      name: 'pg',
      awsProfile: 'static',
      remotePort: echo.port,
    });
    const profile = { ...base, endpoints: { ...base.endpoints, ssm: proxy.url } };
    const daemon = await startTestDaemon(home.dir, [profile]);
    addCleanup(() => daemon.stop());
    const sessionId = await sessionIdOf(daemon, 'pg');
    const client = await openHeldClient(await daemon.localPort('pg'));
    const before = randomBytes(256 * 1024);
    await echoThrough(client, before, before.length);

    await proxy.stop();
    expect(emulator.closeWebsocket(sessionId)).toBe(true);
    // From the second refused ResumeSession in a row the error counts as lasting, which must
    // not reset the held connection, because the endpoint is only unreachable.
    const stalled = await waitForTunnel(daemon, 'pg', (s) =>
      (s.reason ?? '').includes(RESUME_FAST_CLOSE_NOTICE),
    );
    const during = randomBytes(256 * 1024);
    client.socket.write(during);
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));

    expect(stalled.lastError!.code).toBe('ERR_ENDPOINT_UNREACHABLE');
    expect(stalled.reason).not.toContain('reset');
    expect(client.socket.destroyed).toBe(false);

    await proxy.start();
    const after = randomBytes(256 * 1024);
    const total = before.length + during.length + after.length;
    await waitForTunnel(daemon, 'pg', (s) => s.state === 'open', 30_000);
    await echoThrough(client, after, total);
    const resumed = await daemon.tunnel('pg');

    expect(resumed.sessionIds).toEqual([sessionId]);
    expect(client.receivedBytes()).toBe(total);
    expect(sha256(Buffer.concat(client.received))).toBe(
      sha256(Buffer.concat([before, during, after])),
    );
  });
});
