// Edits a profile through the control API while its tunnel runs. The next session must use the
// edited tag target or RDS name, not the resolver the daemon built for the old value.

import { describe, expect, it } from 'vitest';
import type { Profile } from '../../daemon/config/types.js';
import { echoRoundTrip, startEchoServer } from '../tunnel/helpers.js';
import {
  cleanupAfterEach,
  emulatorProfile,
  startEmulatorRig,
  startTestDaemon,
  waitForTunnel,
  type TestDaemon,
} from './helpers.js';

// Online instances of the emulator's default scenario, with Name tags app-server and
// jump-free-bastion.
const APP_SERVER = 'i-0123456789abcdef0';
const BASTION = 'i-0fedcba9876543210';

const addCleanup = cleanupAfterEach();

async function startDaemonWith(homeDir: string, profile: Profile): Promise<TestDaemon> {
  const daemon = await startTestDaemon(homeDir, [profile]);
  addCleanup(() => daemon.stop());
  return daemon;
}

/** Sends data through the tunnel and back and compares the SHA-256 of every byte. */
async function expectRoundTrip(daemon: TestDaemon, name: string): Promise<void> {
  const port = await daemon.localPort(name);
  const { sent, received } = await echoRoundTrip('127.0.0.1', port);
  expect(received).toBe(sent);
}

/** Reads the stored profile, which has the port startTestDaemon chose, and replaces it. */
async function editProfile(
  daemon: TestDaemon,
  name: string,
  changes: Partial<Profile>,
): Promise<void> {
  const stored = await daemon.api<Profile>('GET', `/v1/profiles/${name}`);
  expect(stored.status).toBe(200);
  const response = await daemon.api('PUT', `/v1/profiles/${name}`, { ...stored.body, ...changes });
  expect(response.body).toMatchObject({ name });
  expect(response.status).toBe(200);
}

/** Starts a daemon whose tunnel `db` targets tags Name=app-server and checks its first session. */
async function openAppServerTunnel() {
  const env = await startEmulatorRig(addCleanup);
  const profile = emulatorProfile(env.emulator, {
    awsProfile: 'static',
    target: { tags: { Name: 'app-server' } },
    remotePort: env.echo.port,
  });
  const daemon = await startDaemonWith(env.home.dir, profile);
  const first = await waitForTunnel(daemon, 'db', (status) => status.state === 'open');
  expect(first.target).toBe(APP_SERVER);
  await expectRoundTrip(daemon, 'db');
  return { env, daemon, first };
}

describe('profile edited while its tunnel runs', () => {
  it('moves to the instance of edited tags', async () => {
    const { env, daemon, first } = await openAppServerTunnel();

    await editProfile(daemon, 'db', { target: { tags: { Name: 'jump-free-bastion' } } });
    const moved = await waitForTunnel(
      daemon,
      'db',
      (status) => status.state === 'open' && status.target === BASTION,
    );
    expect(moved.sessionIds).not.toEqual(first.sessionIds);
    expect(env.emulator.sessions.at(-1)!.target).toBe(BASTION);
    await expectRoundTrip(daemon, 'db');
  });

  it('fails on tags that match nothing, then recovers', async () => {
    const { env, daemon } = await openAppServerTunnel();
    const sessionsBefore = env.emulator.sessions.length;

    await editProfile(daemon, 'db', { target: { tags: { Name: 'nonexistent' } } });
    const failed = await waitForTunnel(daemon, 'db', (status) => status.state === 'failed');
    expect(failed.lastError?.message).toContain('tags Name=nonexistent');
    expect(env.emulator.sessions).toHaveLength(sessionsBefore);

    await editProfile(daemon, 'db', { target: { tags: { Name: 'jump-free-bastion' } } });
    const open = await waitForTunnel(
      daemon,
      'db',
      (status) => status.state === 'open' && status.target === BASTION,
    );
    expect(open.lastError).toBeNull();
    expect(env.emulator.sessions.at(-1)!.target).toBe(BASTION);
    await expectRoundTrip(daemon, 'db');
  });

  it('looks up an edited RDS name', async () => {
    const env = await startEmulatorRig(addCleanup);
    const other = await startEchoServer();
    addCleanup(() => other.close());
    const scenario = env.emulator.state.scenario;
    const databases = [
      {
        id: 'orders-db',
        address: 'orders-db.abcdefghij.us-east-1.rds.amazonaws.com',
        echo: env.echo,
      },
      {
        id: 'billing-db',
        address: 'billing-db.abcdefghij.us-east-1.rds.amazonaws.com',
        echo: other,
      },
    ];
    scenario.dialOverrides = {};
    for (const database of databases) {
      scenario.dbInstances.push({
        id: database.id,
        endpoint: { address: database.address, port: 5432 },
        engine: 'postgres',
      });
      scenario.dialOverrides[`${database.address}:5432`] = `127.0.0.1:${database.echo.port}`;
    }
    const profile = emulatorProfile(env.emulator, {
      awsProfile: 'static',
      target: APP_SERVER,
      remoteHost: 'rds:orders-db',
      remotePort: 5432,
    });
    const daemon = await startDaemonWith(env.home.dir, profile);
    const first = await waitForTunnel(daemon, 'db', (status) => status.state === 'open');
    await expectRoundTrip(daemon, 'db');
    expect(env.emulator.sessions.at(-1)!.host).toBe(databases[0]!.address);

    await editProfile(daemon, 'db', { remoteHost: 'rds:billing-db' });
    await waitForTunnel(
      daemon,
      'db',
      (status) => status.state === 'open' && status.sessionIds.join() !== first.sessionIds.join(),
    );
    expect(env.emulator.sessions.at(-1)!.host).toBe(databases[1]!.address);
    await expectRoundTrip(daemon, 'db');
  });
});
