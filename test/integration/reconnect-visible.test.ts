// A real daemon whose SSM endpoint (the emulator) stops while a tunnel is open. The status
// names the refused connection as the current cause, a new client is closed at once while the
// open one keeps waiting, and failed attempts are logged with a rate limit. Once the emulator
// is back on the same port, the tunnel opens a new session and carries bytes intact.

import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RESUME_FAST_CLOSE_NOTICE } from '../../daemon/tunnel/reconnect-failure.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { echoRoundTrip, expectClosed, startEchoServer } from '../tunnel/helpers.js';
import {
  cleanupAfterEach,
  createTestHome,
  emulatorProfile,
  startTestDaemon,
  waitForTunnel,
  STATIC_PROFILE,
} from './helpers.js';

/** A new connection to a tunnel whose resume fails for a lasting reason must close within this. */
const FAST_CLOSE_MS = 1500;
/** The status must name the refused connection within this time after the endpoint stops. */
const CAUSE_SHOWN_MS = 5000;

const addCleanup = cleanupAfterEach();

interface LogLine {
  msg: string;
  [field: string]: unknown;
}

async function readLogLines(stateDir: string): Promise<LogLine[]> {
  const text = await readFile(join(stateDir, 'daemon.log'), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as LogLine);
}

function attemptOf(reason: string | null): number {
  return Number(/attempt (\d+) failed/.exec(reason ?? '')?.[1] ?? 0);
}

describe('reconnect while the endpoint is down', () => {
  it('shows the cause, fails fast and recovers', { timeout: 60_000 }, async () => {
    const home = await createTestHome();
    addCleanup(() => home.cleanup());
    await home.writeAwsConfig(STATIC_PROFILE);
    const echo = await startEchoServer();
    addCleanup(() => echo.close());
    let emulator: Emulator = await startEmulator({ pacing: false });
    addCleanup(() => emulator.close());
    const emulatorPort = Number(new URL(emulator.url).port);
    const profile = emulatorProfile(emulator, {
      name: 'pg',
      awsProfile: 'static',
      remotePort: echo.port,
    });
    const daemon = await startTestDaemon(home.dir, [profile]);
    addCleanup(() => daemon.stop());
    const port = await daemon.localPort('pg');
    const first = await waitForTunnel(daemon, 'pg', (s) => s.state === 'open');
    const firstSessionId = first.sessionIds[0]!;
    const firstToken = emulator.session(firstSessionId)!.token;
    const before = await echoRoundTrip('127.0.0.1', port);
    expect(before.received).toBe(before.sent);

    // A client connected before the loss, whose connection must wait for the resume.
    const openClient: Socket = connect({ host: '127.0.0.1', port });
    openClient.on('error', () => {});
    addCleanup(async () => {
      openClient.destroy();
    });
    await new Promise<void>((resolve) => openClient.once('connect', () => resolve()));
    await waitForTunnel(daemon, 'pg', (s) => s.activeConnections === 1);

    const stoppedAt = Date.now();
    await emulator.close();
    const failing = await waitForTunnel(
      daemon,
      'pg',
      (s) => s.state === 'reconnecting' && s.lastError?.code === 'ERR_ENDPOINT_UNREACHABLE',
      CAUSE_SHOWN_MS,
    );

    expect(Date.now() - stoppedAt).toBeLessThan(CAUSE_SHOWN_MS);
    expect(failing.lastError!.message).toContain('ECONNREFUSED');
    expect(failing.lastError!.message).toContain(emulator.url);
    expect(failing.reason).toMatch(/^Resume attempt \d+ failed at ResumeSession: /);
    expect(failing.nextAttemptAt).not.toBeNull();

    // From the second refused attempt in a row the cause counts as lasting.
    const stalled = await waitForTunnel(daemon, 'pg', (s) =>
      (s.reason ?? '').includes(RESUME_FAST_CLOSE_NOTICE),
    );
    const connectedAt = Date.now();
    await expectClosed('127.0.0.1', port, 10_000);
    const closedAfterMs = Date.now() - connectedAt;

    expect(stalled.state).toBe('reconnecting');
    expect(closedAfterMs).toBeLessThan(FAST_CLOSE_MS);
    expect(openClient.destroyed).toBe(false);

    // Let several more attempts fail, all within one 30 s log interval.
    const later = await waitForTunnel(daemon, 'pg', (s) => attemptOf(s.reason) >= 4, 15_000);
    const logLines = await readLogLines(daemon.stateDir);
    const attemptLines = logLines.filter((line) => line.msg === 'reconnect attempt failed');
    const logText = await readFile(join(daemon.stateDir, 'daemon.log'), 'utf8');

    expect(attemptOf(later.reason)).toBeGreaterThanOrEqual(4);
    expect(attemptLines).toHaveLength(1);
    expect(attemptLines[0]!.failedAttemptsSinceLastLine).toBe(1);
    expect(attemptLines[0]!.code).toBe('ERR_ENDPOINT_UNREACHABLE');
    expect(logText).not.toContain(firstToken);

    // The new emulator does not know the old session, so the tunnel needs a new one.
    emulator = await startEmulator({ port: emulatorPort, pacing: false });
    const reopened = await waitForTunnel(
      daemon,
      'pg',
      (s) => s.state === 'open' && s.sessionIds.length === 1 && s.sessionIds[0] !== firstSessionId,
      30_000,
    );
    const after = await echoRoundTrip('127.0.0.1', port, 256 * 1024);

    expect(reopened.reason).toBeNull();
    expect(after.received).toBe(after.sent);
  });
});
