// A real daemon against the SSM emulator and the real `bastionless status`: an RDS remote
// host whose port comes from the lookup shows no port before the first session and the
// looked-up port after it.

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

const ORDERS_ADDRESS = 'orders.abcdefghij.us-east-1.rds.amazonaws.com';

/** Returns the `status` table row of tunnel `name`. */
async function statusRow(env: NodeJS.ProcessEnv, name: string): Promise<string | undefined> {
  const result = await runCli(['status'], env);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout.split('\n').find((line) => line.startsWith(`${name} `));
}

describe('status of an RDS host', () => {
  it('shows the looked-up port only', { timeout: 60_000 }, async () => {
    const { home, emulator, echo } = await startEmulatorRig(addCleanup);
    const scenario = emulator.state.scenario;
    scenario.dbInstances.push({
      id: 'orders',
      endpoint: { address: ORDERS_ADDRESS, port: 5432 },
      engine: 'postgres',
    });
    scenario.dialOverrides = { [`${ORDERS_ADDRESS}:5432`]: `127.0.0.1:${echo.port}` };
    const profile = emulatorProfile(emulator, {
      name: 'orders',
      awsProfile: 'static',
      mode: 'on-demand',
      remoteHost: 'rds:orders',
      remotePort: 0,
    });
    const daemon = await startTestDaemon(home.dir, [profile]);
    addCleanup(() => daemon.stop());
    await waitForTunnel(daemon, 'orders', (s) => s.state === 'listening');
    const env = { ...cliEnv(home.dir), BASTIONLESS_HOME: join(home.dir, 'bastionless') };

    const before = await statusRow(env, 'orders');

    expect(before).toMatch(/→ rds:orders\s/);
    expect(before).not.toContain('rds:orders:0');
    const roundTrip = await echoRoundTrip('127.0.0.1', await daemon.localPort('orders'));
    expect(roundTrip.received).toBe(roundTrip.sent);
    await waitForTunnel(daemon, 'orders', (s) => s.remotePort === 5432);
    const after = await statusRow(env, 'orders');
    expect(after).toContain('→ rds:orders:5432');
  });
});
