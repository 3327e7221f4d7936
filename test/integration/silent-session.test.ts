// A real daemon against the SSM emulator, with a session whose websocket goes half-open (no
// reads, no sends, no pongs) and stays so after every resume. The daemon replaces the
// session, closes its connections instead of leaving them hanging, and names the cause.

import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Profile, TunnelStatus } from '../../daemon/config/types.js';
import { startDaemon } from '../../daemon/daemon.js';
import { resolvePaths } from '../../daemon/paths.js';
import { startPortForwardSession } from '../../daemon/portforward/index.js';
import { cliEnv, runCli } from '../cli/helpers.js';
import { echoRoundTrip, freePort } from '../tunnel/helpers.js';
import {
  cleanupAfterEach,
  emulatorProfile,
  startEmulatorRig,
  TEST_TIMINGS,
  waitUntil,
} from './helpers.js';

const addCleanup = cleanupAfterEach();

/** Websocket keepalive of the test daemon: ping every 300 ms, a pong due within 700 ms. */
const PING_INTERVAL_MS = 300;
const PONG_TIMEOUT_MS = 700;

/**
 * Starts the daemon as startTestDaemon does, but with short websocket keepalive timings, so
 * a silent websocket is noticed within about a second instead of a minute.
 */
async function startDaemonWithShortKeepalive(home: string, profile: Profile) {
  const paths = resolvePaths({ env: { BASTIONLESS_HOME: join(home, 'bastionless') } });
  await rm(paths.configFile, { force: true });
  await mkdir(join(home, 'bastionless'), { recursive: true });
  const profiles = [{ ...profile, localPort: await freePort() }];
  await writeFile(paths.configFile, `${JSON.stringify({ profiles }, null, 2)}\n`);
  const daemon = await startDaemon({
    paths,
    logLevel: 'debug',
    managerOverrides: {
      timings: TEST_TIMINGS,
      startSession: (options) =>
        startPortForwardSession({
          ...options,
          dataChannel: { pingIntervalMs: PING_INTERVAL_MS, pongTimeoutMs: PONG_TIMEOUT_MS },
        }),
    },
  });
  addCleanup(() => daemon.stop('test finished'));
  const tunnel = async (name: string): Promise<TunnelStatus> => {
    const response = await fetch(`${daemon.url}/v1/tunnels/${name}`, {
      headers: { authorization: `Bearer ${daemon.token}` },
      signal: AbortSignal.timeout(10_000),
    });
    return (await response.json()) as TunnelStatus;
  };
  const cliEnvironment = { ...cliEnv(home), BASTIONLESS_HOME: join(home, 'bastionless') };
  return { tunnel, localPort: profiles[0]!.localPort, cliEnvironment };
}

/**
 * Resolves once the socket closes, with the number of bytes it received, or rejects when it
 * is still open after `timeoutMs`.
 */
function closedSocket(socket: Socket, timeoutMs: number): Promise<{ received: number }> {
  return new Promise((resolve, reject) => {
    let received = 0;
    const timer = setTimeout(
      () => reject(new Error(`held connection still open after ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ received });
    });
  });
}

describe('session with a silent websocket', () => {
  it('is replaced by a new session', { timeout: 60_000 }, async () => {
    const { home, emulator, echo } = await startEmulatorRig(addCleanup);
    const profile = emulatorProfile(emulator, {
      name: 'pg',
      awsProfile: 'static',
      remotePort: echo.port,
    });
    const { tunnel, localPort, cliEnvironment } = await startDaemonWithShortKeepalive(
      home.dir,
      profile,
    );
    await waitUntil('tunnel open', async () => (await tunnel('pg')).state === 'open');
    const before = await tunnel('pg');
    const silentSessionId = before.sessionIds[0]!;
    const heldSocket = connect({ host: '127.0.0.1', port: localPort });
    heldSocket.on('error', () => {});
    const first = await echoRoundTrip('127.0.0.1', localPort);
    expect(first.received).toBe(first.sent);

    emulator.setFaults(silentSessionId, { silent: true });
    const silentAt = Date.now();
    heldSocket.write(randomBytes(1024));

    const closed = await closedSocket(heldSocket, 15_000);
    // The held connection's bytes never came back, and the socket closed instead of hanging.
    expect(closed.received).toBe(0);
    await waitUntil(
      'a new session',
      async () => {
        const status = await tunnel('pg');
        return status.state === 'open' && !status.sessionIds.includes(silentSessionId);
      },
      20_000,
    );
    const after = await echoRoundTrip('127.0.0.1', localPort, 256 * 1024);
    const recoveredMs = Date.now() - silentAt;
    const status = await tunnel('pg');
    const table = await runCli(['status'], cliEnvironment);
    const row = table.stdout.split('\n').find((line) => line.startsWith('pg '));

    expect(after.received).toBe(after.sent);
    // The first loss takes at most 300 + 700 ms and the resumed websocket's check 700 ms, and
    // a resume and a session start come on top.
    expect(recoveredMs).toBeLessThan(15_000);
    expect(status.lastError?.code).toBe('ERR_PEER_SILENT');
    expect(status.lastError?.message).toContain(silentSessionId);
    // The error came before the new session's open period, but it is recent, so the table
    // still shows why the connections dropped.
    expect(row).toMatch(/^pg\s+open\s/);
    expect(row).toContain('ERR_PEER_SILENT');
    const silentRecord = emulator.sessions.find((s) => s.sessionId === silentSessionId);
    expect(silentRecord?.state).toBe('terminated');
    expect(silentRecord?.websocketOpens).toBe(2);
  });
});
