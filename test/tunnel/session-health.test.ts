// SessionHealth with FakeSessions that carry connections to a real echo server: health
// pings, refused remote connections, the tag-target check and keep-alive probes.

import { SSMClient } from '@aws-sdk/client-ssm';
import { afterEach, describe, expect, it } from 'vitest';
import type { Profile } from '../../daemon/config/types.js';
import type { BastionlessError } from '../../daemon/errors.js';
import { DEFAULT_TIMINGS, type TunnelDeps } from '../../daemon/tunnel/options.js';
import { SessionHealth } from '../../daemon/tunnel/session-health.js';
import { SessionLauncher } from '../../daemon/tunnel/session-launcher.js';
import { SessionSlot } from '../../daemon/tunnel/session-slot.js';
import { FakeSession } from './fake-session.js';
import {
  captureLogger,
  makeProfile,
  startEchoServer,
  waitFor,
  type CapturedLog,
  type EchoServer,
} from './helpers.js';

const cleanups: (() => Promise<unknown> | void)[] = [];

afterEach(async () => {
  while (cleanups.length > 0) {
    await cleanups.pop()?.();
  }
});

/** A FakeSession that replies to health pings, or fails them while `dead` is set. */
class PingableFakeSession extends FakeSession {
  dead = false;
  pings = 0;

  async ping(timeoutMs: number): Promise<number> {
    this.pings += 1;
    if (this.dead) {
      throw new Error(`no pong within ${timeoutMs} ms`);
    }
    return 1;
  }
}

interface HealthRig {
  health: SessionHealth;
  log: CapturedLog;
  slots: SessionSlot[];
  lastErrors: BastionlessError[];
  changes: number;
  echo: EchoServer;
}

async function startHealth(
  profile: Partial<Profile> = {},
  deps: Partial<TunnelDeps> = {},
): Promise<HealthRig> {
  const echo = await startEchoServer();
  cleanups.push(() => echo.close());
  const log = captureLogger();
  const fullProfile = makeProfile(profile);
  const fullDeps: TunnelDeps = {
    logger: log.logger,
    startSession: () => Promise.reject(new Error('no session starts in health tests')),
    ssmClientFor: () => new SSMClient({ region: 'us-east-1' }),
    ...deps,
  };
  const timings = {
    ...DEFAULT_TIMINGS,
    keepAliveIntervalMs: 50,
    targetCheckIntervalMs: 50,
    healthCheckTimeoutMs: 500,
  };
  const rig = { log, slots: [], lastErrors: [], changes: 0, echo } as unknown as HealthRig;
  rig.health = new SessionHealth({
    profile: fullProfile,
    deps: fullDeps,
    timings,
    log: log.logger,
    launcher: new SessionLauncher(fullProfile, fullDeps, timings, log.logger),
    slots: () => rig.slots,
    handOver: (slot, socket) => {
      slot.load += 1;
      slot.session.handleConnection(socket);
    },
    setLastError: (error) => rig.lastErrors.push(error),
    onChange: () => {
      rig.changes += 1;
    },
  });
  cleanups.push(() => {
    rig.health.stopTimers();
    rig.health.closeProber();
  });
  return rig;
}

function addSlot(
  rig: HealthRig,
  session: FakeSession,
  route: { target?: string; remoteHost?: string | null; remotePort?: number } = {},
): SessionSlot {
  cleanups.push(() => session.close('test ended'));
  const slot = new SessionSlot(
    session,
    {
      target: route.target ?? 'i-0123456789abcdef0',
      remoteHost: route.remoteHost ?? null,
      remotePort: route.remotePort ?? rig.echo.port,
    },
    Date.now(),
    {
      reconnecting: () => {},
      reconnected: () => {},
      dialFailed: (failed) => rig.health.onDialFailed(failed),
      ended: (ended) => {
        rig.slots = rig.slots.filter((other) => other !== ended);
      },
    },
  );
  rig.slots.push(slot);
  return slot;
}

/** Returns the keep-alive prober's chain of queued probes, a private field read only here. */
function probeQueue(health: SessionHealth): Promise<void> {
  return (health as unknown as { prober: { chain: Promise<void> } }).prober.chain;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('SessionHealth checkHealth', () => {
  it('closes only the session that fails its ping', async () => {
    const rig = await startHealth();
    const alive = new PingableFakeSession('alive', rig.echo.port);
    const dead = new PingableFakeSession('dead', rig.echo.port);
    dead.dead = true;
    const unpingable = new FakeSession('unpingable', rig.echo.port);
    addSlot(rig, alive);
    addSlot(rig, dead);
    addSlot(rig, unpingable);

    await rig.health.checkHealth();

    expect(alive.pings).toBe(1);
    expect(alive.closed).toBe(false);
    expect(dead.pings).toBe(1);
    expect(dead.closed).toBe(true);
    expect(dead.closeReason).toBe('health check failed');
    expect(unpingable.closed).toBe(false);
  });
});

describe('SessionHealth dial failures', () => {
  it('counts a refused remote connection', async () => {
    const rig = await startHealth();
    const session = new FakeSession('session-1', rig.echo.port);
    addSlot(rig, session, { remoteHost: 'db.internal', remotePort: 5432 });

    session.emit('dial-failed');

    expect(rig.health.dialFailures).toBe(1);
    expect(rig.lastErrors).toHaveLength(1);
    expect(rig.lastErrors[0]?.code).toBe('ERR_REMOTE_REFUSED');
    expect(rig.lastErrors[0]?.message).toBe('The agent could not connect to db.internal:5432');
    expect(rig.changes).toBe(1);
    expect(session.closed).toBe(false);
  });

  it('replaces a session whose endpoint moved', async () => {
    let host = 'old.cluster.internal';
    let invalidations = 0;
    const rig = await startHealth(
      { remoteHost: 'rds:orders' },
      {
        resolveRemoteHost: async () => ({ host, port: null }),
        invalidateRemoteHost: () => {
          invalidations += 1;
        },
      },
    );
    const session = new FakeSession('session-1', rig.echo.port);
    addSlot(rig, session, { remoteHost: 'old.cluster.internal', remotePort: 5432 });

    session.emit('dial-failed');
    await sleep(50);

    expect(invalidations).toBe(1);
    expect(session.closed).toBe(false);

    host = 'new.cluster.internal';
    session.emit('dial-failed');
    await waitFor(() => session.closed, 2_000, 'the session to close');

    expect(invalidations).toBe(2);
    expect(session.closeReason).toBe('remote host endpoint moved');
  });
});

describe('SessionHealth timers', () => {
  it('replaces sessions on an unchosen target', async () => {
    let chosen = 'i-0aaaaaaaaaaaaaaaa';
    const rig = await startHealth(
      { target: { tags: { role: 'db' } } },
      { resolveTarget: async () => chosen },
    );
    const session = new FakeSession('session-1', rig.echo.port);
    addSlot(rig, session, { target: 'i-0aaaaaaaaaaaaaaaa' });

    rig.health.start();
    await sleep(150);

    expect(session.closed).toBe(false);

    chosen = 'i-0bbbbbbbbbbbbbbbb';
    await waitFor(() => session.closed, 2_000, 'the session to close');

    expect(session.closeReason).toBe('target i-0aaaaaaaaaaaaaaaa replaced by i-0bbbbbbbbbbbbbbbb');
  });

  it('probes every session with keepAlive', async () => {
    const rig = await startHealth({ keepAlive: true });
    const first = new FakeSession('session-1', rig.echo.port);
    const second = new FakeSession('session-2', rig.echo.port);
    addSlot(rig, first);
    addSlot(rig, second);

    rig.health.start();
    await waitFor(
      () => first.stats.totalConnections >= 2 && second.stats.totalConnections >= 2,
      5_000,
      'two probes through each session',
    );

    expect(rig.echo.connections).toBeGreaterThanOrEqual(4);
  });

  it('sends no probes without keepAlive', async () => {
    const rig = await startHealth({ keepAlive: false });
    const session = new FakeSession('session-1', rig.echo.port);
    addSlot(rig, session);

    rig.health.start();
    await sleep(200);

    expect(session.stats.totalConnections).toBe(0);
  });

  it('stops probing after stopTimers', async () => {
    const rig = await startHealth({ keepAlive: true });
    const session = new FakeSession('session-1', rig.echo.port);
    addSlot(rig, session);
    rig.health.start();
    await waitFor(() => session.stats.totalConnections >= 1, 5_000, 'a probe');

    rig.health.stopTimers();
    // Probes queued before the stop still run, each holding its connection for 1 s, and a
    // slow machine queues more of them, so wait for the queue rather than a fixed time.
    const queue = probeQueue(rig.health);
    let drained = false;
    void queue.then(() => (drained = true));
    await waitFor(() => drained, 30_000, 'the probes queued before the stop');
    const probes = session.stats.totalConnections;
    await sleep(200);

    expect(probeQueue(rig.health), 'a probe queued after stopTimers').toBe(queue);
    expect(session.stats.totalConnections).toBe(probes);
  });
});
