// A real daemon against the SSM emulator: a tunnel that failed for good starts again once its
// profile is fixed, and a tunnel whose session the service forgot during an outage looks
// healthy again once it listens for the next connection.

import { describe, expect, it } from 'vitest';
import type { Profile } from '../../daemon/config/types.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { echoRoundTrip, startEchoServer } from '../tunnel/helpers.js';
import {
  cleanupAfterEach,
  createTestHome,
  emulatorProfile,
  startTestDaemon,
  waitForTunnel,
  STATIC_PROFILE,
} from './helpers.js';

/** Online instance of the emulator's default scenario. */
const ONLINE_INSTANCE = 'i-0123456789abcdef0';

const addCleanup = cleanupAfterEach();

async function setup() {
  const home = await createTestHome();
  addCleanup(() => home.cleanup());
  await home.writeAwsConfig(STATIC_PROFILE);
  const echo = await startEchoServer();
  addCleanup(() => echo.close());
  const emulator = await startEmulator({ pacing: false });
  addCleanup(() => emulator.close());
  return { home, echo, emulator };
}

/** Starts a daemon whose always-on tunnel `web` failed with ERR_INVALID_TARGET. */
async function startFailedTunnel() {
  const { home, echo, emulator } = await setup();
  // An empty tag value matches only instances whose tag is empty, and the emulator has none.
  const broken = emulatorProfile(emulator, {
    name: 'web',
    awsProfile: 'static',
    remotePort: echo.port,
    target: { tags: { Name: '' } },
  });
  const daemon = await startTestDaemon(home.dir, [broken]);
  addCleanup(() => daemon.stop());
  const failed = await waitForTunnel(daemon, 'web', (s) => s.state === 'failed');
  return { daemon, failed };
}

describe('failed tunnel after a profile fix', () => {
  it('starts again and carries data', { timeout: 60_000 }, async () => {
    const { daemon, failed } = await startFailedTunnel();

    expect(failed.lastError?.code).toBe('ERR_INVALID_TARGET');

    const current = await daemon.api<Profile>('GET', '/v1/profiles/web');
    const edit = await daemon.api('PUT', '/v1/profiles/web', {
      ...current.body,
      target: ONLINE_INSTANCE,
    });

    expect(edit.status).toBe(200);
    const reopened = await waitForTunnel(daemon, 'web', (s) => s.state === 'open');
    const port = await daemon.localPort('web');
    const roundTrip = await echoRoundTrip('127.0.0.1', port, 256 * 1024);

    expect(reopened.target).toBe(ONLINE_INSTANCE);
    expect(reopened.lastError).toBeNull();
    expect(roundTrip.received).toBe(roundTrip.sent);
  });

  it('stays stopped after a stop and an edit', { timeout: 60_000 }, async () => {
    const { daemon } = await startFailedTunnel();
    const stop = await daemon.api('POST', '/v1/tunnels/web/stop');

    expect(stop.status).toBe(200);
    const current = await daemon.api<Profile>('GET', '/v1/profiles/web');
    await daemon.api('PUT', '/v1/profiles/web', { ...current.body, target: ONLINE_INSTANCE });
    const edited = await waitForTunnel(daemon, 'web', (s) => s.target === ONLINE_INSTANCE);

    expect(edited.state).toBe('stopped');
  });
});

describe('session forgotten during an outage', () => {
  it('shows a reason, no last error', { timeout: 90_000 }, async () => {
    const { home, echo } = await setup();
    let emulator: Emulator = await startEmulator({ pacing: false });
    addCleanup(() => emulator.close());
    const emulatorPort = Number(new URL(emulator.url).port);
    const profile = emulatorProfile(emulator, {
      name: 'web',
      awsProfile: 'static',
      remotePort: echo.port,
      mode: 'on-demand',
    });
    const daemon = await startTestDaemon(home.dir, [profile]);
    addCleanup(() => daemon.stop());
    const port = await daemon.localPort('web');
    const before = await echoRoundTrip('127.0.0.1', port);

    expect(before.received).toBe(before.sent);
    const open = await waitForTunnel(daemon, 'web', (s) => s.state === 'open');
    const firstSessionId = open.sessionIds[0]!;

    await emulator.close();
    await waitForTunnel(
      daemon,
      'web',
      (s) => s.state === 'reconnecting' && s.lastError?.code === 'ERR_ENDPOINT_UNREACHABLE',
    );
    // The new emulator does not know the old session, so its resume ends the session.
    emulator = await startEmulator({ port: emulatorPort, pacing: false });
    const listening = await waitForTunnel(
      daemon,
      'web',
      (s) => s.state === 'listening' && s.sessionIds.length === 0,
      45_000,
    );

    expect(listening.lastError).toBeNull();
    expect(listening.reason).toContain('session ended by the service');
    expect(listening.reason).toContain(firstSessionId);
    expect(listening.reason).not.toContain('Reconnecting');

    const after = await echoRoundTrip('127.0.0.1', port, 256 * 1024);
    const reopened = await daemon.tunnel('web');

    expect(after.received).toBe(after.sent);
    expect(reopened.state).toBe('open');
    expect(reopened.reason).toBeNull();
  });
});
