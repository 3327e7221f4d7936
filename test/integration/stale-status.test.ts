// A real daemon against the SSM emulator, with errors that stop applying. A remote server
// rejects a connection and then listens. An SSM endpoint is unreachable and then responds
// while the agent is slow to finish the handshake. The status JSON and the CLI table
// drop each error once it no longer applies.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliEnv, runCli } from '../cli/helpers.js';
import { echoRoundTrip, expectClosed, freePort, startEchoServer } from '../tunnel/helpers.js';
import { RefusingProxy } from '../tunnel/refusing-proxy.js';
import {
  cleanupAfterEach,
  emulatorProfile,
  startEmulatorRig,
  startTestDaemon,
  waitForTunnel,
} from './helpers.js';

const addCleanup = cleanupAfterEach();

/** Delay of the emulated agent's HandshakeRequest, long enough to read the status meanwhile. */
const HANDSHAKE_DELAY_MS = 6000;

/** Returns the row of tunnel `name` in the output of `bastionless status`. */
async function statusRow(home: string, name: string): Promise<string> {
  const env = { ...cliEnv(home), BASTIONLESS_HOME: join(home, 'bastionless') };
  const result = await runCli(['status'], env);
  expect(result.code).toBe(0);
  const row = result.stdout.split('\n').find((line) => line.startsWith(`${name} `));
  expect(row).toBeDefined();
  return row!;
}

describe('stale errors in the status', () => {
  it('drops a refusal once the remote responds', { timeout: 60_000 }, async () => {
    const { home, emulator } = await startEmulatorRig(addCleanup);
    const remotePort = await freePort();
    const profile = emulatorProfile(emulator, { name: 'pg', awsProfile: 'static', remotePort });
    const daemon = await startTestDaemon(home.dir, [profile]);
    addCleanup(() => daemon.stop());
    await waitForTunnel(daemon, 'pg', (s) => s.state === 'open');
    const port = await daemon.localPort('pg');

    await expectClosed('127.0.0.1', port, 10_000);
    const refused = await waitForTunnel(daemon, 'pg', (s) => s.lastError !== null);

    expect(refused.lastError!.code).toBe('ERR_REMOTE_REFUSED');
    expect(await statusRow(home.dir, 'pg')).toContain('ERR_REMOTE_REFUSED');

    const echo = await startEchoServer(remotePort);
    addCleanup(() => echo.close());
    const roundTrip = await echoRoundTrip('127.0.0.1', port);
    const recovered = await daemon.tunnel('pg');
    const row = await statusRow(home.dir, 'pg');

    expect(roundTrip.received).toBe(roundTrip.sent);
    expect(recovered.state).toBe('open');
    expect(recovered.dialFailures).toBe(1);
    expect(recovered.lastError).toBeNull();
    expect(row).toMatch(/^pg\s+open\s/);
    expect(row).not.toContain('ERR_REMOTE_REFUSED');
  });

  it('keeps a refusal without a response', { timeout: 60_000 }, async () => {
    const { home, emulator, echo } = await startEmulatorRig(addCleanup);
    const remotePort = await freePort();
    const profile = emulatorProfile(emulator, { name: 'pg', awsProfile: 'static', remotePort });
    const daemon = await startTestDaemon(home.dir, [profile]);
    addCleanup(() => daemon.stop());
    await waitForTunnel(daemon, 'pg', (s) => s.state === 'open');
    const port = await daemon.localPort('pg');

    // Two refusals in a row: the second keeps the error, because no connection received bytes.
    await expectClosed('127.0.0.1', port, 10_000);
    await waitForTunnel(daemon, 'pg', (s) => s.dialFailures === 1);
    await expectClosed('127.0.0.1', port, 10_000);
    const twice = await waitForTunnel(daemon, 'pg', (s) => s.dialFailures === 2);

    expect(twice.lastError!.code).toBe('ERR_REMOTE_REFUSED');
    expect(echo.connections).toBe(0);
  });

  it('drops an unreachable endpoint once it responds', { timeout: 60_000 }, async () => {
    const { home, emulator, echo } = await startEmulatorRig(addCleanup);
    const proxy = new RefusingProxy(await freePort(), Number(new URL(emulator.url).port));
    addCleanup(() => proxy.stop());
    const base = emulatorProfile(emulator, {
      name: 'pg',
      awsProfile: 'static',
      remotePort: echo.port,
    });
    const profile = { ...base, endpoints: { ...base.endpoints, ssm: proxy.url } };
    const daemon = await startTestDaemon(home.dir, [profile]);
    addCleanup(() => daemon.stop());
    const unreachable = await waitForTunnel(daemon, 'pg', (s) => s.lastError !== null);

    expect(unreachable.lastError!.code).toBe('ERR_ENDPOINT_UNREACHABLE');
    expect(unreachable.reason).toContain('Cannot reach');

    emulator.setDefaultFaults({ handshakeDelayMs: HANDSHAKE_DELAY_MS });
    await proxy.start();
    const handshaking = await waitForTunnel(
      daemon,
      'pg',
      (s) => s.state === 'open' || s.lastError === null,
    );
    const row = await statusRow(home.dir, 'pg');
    const stillHandshaking = await daemon.tunnel('pg');

    expect(handshaking.state).toBe('connecting');
    expect(handshaking.lastError).toBeNull();
    expect(handshaking.reason ?? '').not.toContain('Cannot reach');
    expect(emulator.sessions).toHaveLength(1);
    expect(stillHandshaking.state).toBe('connecting');
    expect(row).toMatch(/^pg\s+connecting\s/);
    expect(row).not.toContain('ERR_ENDPOINT_UNREACHABLE');

    const opened = await waitForTunnel(daemon, 'pg', (s) => s.state === 'open', 20_000);
    const roundTrip = await echoRoundTrip('127.0.0.1', await daemon.localPort('pg'));

    expect(opened.lastError).toBeNull();
    expect(roundTrip.received).toBe(roundTrip.sent);
  });
});
