// A real daemon against the SSM emulator: the next retry time of a tunnel whose target is
// offline, in GET /v1/tunnels and the events, and the traffic history of a tunnel that moved
// bytes before anyone asked for it.

import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { TunnelStatus } from '../../daemon/config/types.js';
import type { TrafficHistorySnapshot } from '../../daemon/tunnel/traffic-history.js';
import type { Emulator } from '../emulator/index.js';
import {
  cleanupAfterEach,
  emulatorProfile,
  startEmulatorRig,
  startTestDaemon,
  waitForTunnel,
  waitUntil,
  type TestDaemon,
} from '../integration/helpers.js';
import { echoRoundTrip, type EchoServer } from '../tunnel/helpers.js';

const OFFLINE_INSTANCE = 'i-00000000000000bad';
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

const addCleanup = cleanupAfterEach();

interface Rig {
  emulator: Emulator;
  echo: EchoServer;
  daemon: TestDaemon;
}

async function setup(overrides: Parameters<typeof emulatorProfile>[1]): Promise<Rig> {
  const { home, emulator, echo } = await startEmulatorRig(addCleanup);
  const profile = emulatorProfile(emulator, {
    awsProfile: 'static',
    remotePort: echo.port,
    ...overrides,
  });
  const daemon = await startTestDaemon(home.dir, [profile]);
  addCleanup(() => daemon.stop());
  return { emulator, echo, daemon };
}

/** Opens /v1/events and collects every `state` message of tunnel `name`. */
async function collectStates(daemon: TestDaemon, name: string): Promise<TunnelStatus[]> {
  const url = `${daemon.daemon.url.replace(/^http/, 'ws')}/v1/events`;
  const socket = new WebSocket(url, [`bearer.${daemon.daemon.token}`]);
  addCleanup(async () => socket.close());
  const states: TunnelStatus[] = [];
  socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as { type: string; tunnel?: TunnelStatus };
    if (message.type === 'state' && message.tunnel?.name === name) {
      states.push(message.tunnel);
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return states;
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

describe('daemon tunnel status', () => {
  it('sends the next attempt time while retrying', async () => {
    const { daemon } = await setup({ name: 'off', target: OFFLINE_INSTANCE });
    const states = await collectStates(daemon, 'off');
    const scheduled = await waitForTunnel(daemon, 'off', (s) => s.nextAttemptAt !== null);
    const list = await daemon.api<TunnelStatus[]>('GET', '/v1/tunnels');
    const listed = list.body.find((status) => status.name === 'off');

    expect(scheduled.state).toBe('connecting');
    expect(scheduled.lastError?.code).toBe('ERR_TARGET_NOT_CONNECTED');
    expect(scheduled.nextAttemptAt).toMatch(ISO_TIME);
    expect(listed).toHaveProperty('nextAttemptAt');
    expect(listed?.state).toBe('connecting');
    await waitUntil('a state event with a next attempt time', () =>
      states.some((status) => status.nextAttemptAt !== null),
    );
    const evented = states.find((status) => status.nextAttemptAt !== null)!;

    expect(evented.nextAttemptAt).toMatch(ISO_TIME);
    expect(evented.reason).toContain(`Next attempt at ${evented.nextAttemptAt}`);

    const stopped = await daemon.api<TunnelStatus>('POST', '/v1/tunnels/off/stop');

    expect(stopped.body.state).toBe('stopped');
    expect(stopped.body.nextAttemptAt).toBeNull();
    await waitUntil('a stopped state event', () => states.at(-1)?.state === 'stopped');
    expect(states.at(-1)?.nextAttemptAt).toBeNull();
  });

  it('keeps the traffic of the last minutes', async () => {
    const { daemon } = await setup({ name: 'echo' });
    await waitForTunnel(daemon, 'echo', (s) => s.state === 'open');
    const port = await daemon.localPort('echo');
    const size = 2 * 1024 * 1024;
    const { sent, received } = await echoRoundTrip('127.0.0.1', port, size, 30_000);

    expect(received).toBe(sent);
    // The history is read only now, after the transfer, as a page opened late would read it.
    const response = await daemon.api<TrafficHistorySnapshot>('GET', '/v1/tunnels/echo/traffic');
    const history = response.body;
    const status = await daemon.tunnel('echo');

    expect(response.status).toBe(200);
    expect(history.name).toBe('echo');
    expect(history.bucketMs).toBe(5_000);
    expect(history.buckets).toHaveLength(60);
    // The echo sends every byte back, so each direction carried the 2 MiB.
    expect(sum(history.buckets.map((bucket) => bucket.bytesIn))).toBeGreaterThanOrEqual(size);
    expect(sum(history.buckets.map((bucket) => bucket.bytesOut))).toBeGreaterThanOrEqual(size);
    expect(sum(history.buckets.map((bucket) => bucket.bytesIn))).toBe(history.bytesIn);
    expect(history.bytesIn).toBeLessThanOrEqual(status.bytesIn);
  });

  it('rejects traffic requests without the token', async () => {
    const { daemon } = await setup({ name: 'echo', autoStart: false });
    const anonymous = await fetch(`${daemon.daemon.url}/v1/tunnels/echo/traffic`);
    const unknown = await daemon.api<{ error: { code: string } }>(
      'GET',
      '/v1/tunnels/nope/traffic',
    );

    expect(anonymous.status).toBe(401);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('ERR_UNKNOWN_TUNNEL');
  });
});
