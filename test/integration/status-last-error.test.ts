// A real daemon against the SSM emulator and the real `bastionless status`: the LAST ERROR
// column of an open tunnel shows the error of a websocket loss that its session resumed from.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliEnv, runCli } from '../cli/helpers.js';
import { echoRoundTrip } from '../tunnel/helpers.js';
import {
  cleanupAfterEach,
  emulatorProfile,
  startEmulatorRig,
  startTestDaemon,
  waitForTunnel,
} from './helpers.js';

const addCleanup = cleanupAfterEach();

describe('status after a resume', () => {
  it('shows the error of the loss', { timeout: 60_000 }, async () => {
    const { home, emulator, echo } = await startEmulatorRig(addCleanup);
    const profile = emulatorProfile(emulator, {
      name: 'pg',
      awsProfile: 'static',
      remotePort: echo.port,
    });
    const daemon = await startTestDaemon(home.dir, [profile]);
    addCleanup(() => daemon.stop());
    const opened = await waitForTunnel(daemon, 'pg', (s) => s.state === 'open');
    const sessionId = opened.sessionIds[0]!;

    expect(emulator.closeWebsocket(sessionId)).toBe(true);
    const resumed = await waitForTunnel(
      daemon,
      'pg',
      (s) => s.state === 'open' && s.reconnects === 1 && s.lastError !== null,
    );
    const port = await daemon.localPort('pg');
    const roundTrip = await echoRoundTrip('127.0.0.1', port);
    const env = { ...cliEnv(home.dir), BASTIONLESS_HOME: join(home.dir, 'bastionless') };
    const result = await runCli(['status'], env);
    const row = result.stdout.split('\n').find((line) => line.startsWith('pg '));

    expect(roundTrip.received).toBe(roundTrip.sent);
    expect(resumed.sessionIds).toEqual([sessionId]);
    // The resume kept the session and its connections, so the open period goes on.
    expect(resumed.openSince).toBe(opened.openSince);
    expect(result.code).toBe(0);
    expect(row).toMatch(/^pg\s+open\s/);
    expect(row).toContain(`${resumed.lastError!.code}: ${resumed.lastError!.message}`);
  });
});
