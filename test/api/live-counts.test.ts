// Tunnel status seen through the real daemon's API, with the SSM emulator as AWS and real TCP
// clients on 127.0.0.1. GET /v1/tunnels/:name and the /v1/events websocket must both return to
// 0 active connections once the local socket closes. The events must also announce removals.

import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Profile, TunnelStatus } from '../../daemon/config/types.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import {
  createTestHome,
  emulatorProfile,
  startTestDaemon,
  waitForTunnel,
  type TestDaemon,
  type TestHome,
} from '../integration/helpers.js';
import { freePort } from '../tunnel/helpers.js';

const savedEnv = {
  AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY,
  AWS_REGION: process.env.AWS_REGION,
};

let emulator: Emulator;
let home: TestHome;
let daemon: TestDaemon | undefined;

/** State events of one tunnel, as the dashboard receives them. */
interface EventLog {
  states: TunnelStatus[];
  /** Names of `removed` events, of any tunnel. */
  removed: string[];
  close(): void;
}

/** Starts the daemon with one profile that forwards to a port on 127.0.0.1. */
async function startWithProfile(overrides: Partial<Profile>): Promise<TestDaemon> {
  const profile = emulatorProfile(emulator, {
    remoteHost: '127.0.0.1',
    localPort: 0,
    ...overrides,
  });
  daemon = await startTestDaemon(home.dir, [profile]);
  return daemon;
}

async function subscribe(name: string): Promise<EventLog> {
  const url = `${daemon!.daemon.url.replace('http:', 'ws:')}/v1/events`;
  const socket = new WebSocket(url, [`bearer.${daemon!.daemon.token}`]);
  const states: TunnelStatus[] = [];
  const removed: string[] = [];
  socket.on('message', (data: Buffer) => {
    const message = JSON.parse(data.toString('utf8')) as {
      type: string;
      tunnel?: TunnelStatus;
      name?: string;
    };
    if (message.type === 'state' && message.tunnel?.name === name) states.push(message.tunnel);
    if (message.type === 'removed' && message.name) removed.push(message.name);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return { states, removed, close: () => socket.close() };
}

/** Resolves once either side has closed the socket, and rejects after `timeoutMs`. */
function closed(socket: Socket, timeoutMs = 15_000): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`socket still open after ${timeoutMs} ms: expected a close`)),
      timeoutMs,
    );
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function waitForEvent(
  log: EventLog,
  accept: (status: TunnelStatus) => boolean,
  timeoutMs = 5_000,
): Promise<TunnelStatus> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = log.states.find(accept);
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const last = log.states.at(-1);
  throw new Error(`no matching state event within ${timeoutMs} ms, last: ${JSON.stringify(last)}`);
}

beforeAll(async () => {
  home = await createTestHome();
  process.env.AWS_ACCESS_KEY_ID = 'AKIAEMULATOREXAMPLE';
  process.env.AWS_SECRET_ACCESS_KEY = 'emulator-secret';
  process.env.AWS_REGION = 'us-east-1';
  emulator = await startEmulator({ pacing: false });
});

afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  emulator.setDefaultFaults({});
});

afterAll(async () => {
  await emulator?.close();
  await home?.cleanup();
  for (const [key, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

describe('active connection count', () => {
  it('returns to 0 after a refused dial', async () => {
    const closedPort = await freePort();
    daemon = await startWithProfile({ name: 'refused', remotePort: closedPort });
    await waitForTunnel(daemon, 'refused', (status) => status.state === 'open');
    const events = await subscribe('refused');
    try {
      const client = connect(await daemon.localPort('refused'), '127.0.0.1');
      const errors: string[] = [];
      client.on('error', (error: NodeJS.ErrnoException) => errors.push(error.code ?? ''));
      await closed(client);
      // The daemon resets the local socket, as a refused connect would.
      expect(errors).toEqual(['ECONNRESET']);

      const failed = await waitForEvent(events, (status) => status.dialFailures === 1);
      expect(failed.lastError?.code).toBe('ERR_REMOTE_REFUSED');
      // The first event that reports the failure already leaves out the reset socket.
      expect(failed.activeConnections).toBe(0);
      const settled = await waitForEvent(
        events,
        (status) => status.dialFailures === 1 && status.activeConnections === 0,
      );
      expect(settled.totalConnections).toBe(1);
      expect(events.states.at(-1)?.activeConnections).toBe(0);

      const status = await daemon.tunnel('refused');
      expect(status.activeConnections).toBe(0);
      expect(status.totalConnections).toBe(1);
      expect(status.dialFailures).toBe(1);
      expect(status.state).toBe('open');
    } finally {
      events.close();
    }
  });

  it('returns to 0 when a waiting client leaves', async () => {
    // The session start waits for the handshake, so the first connection of an on-demand
    // tunnel stays queued long enough for the client to give up, even on a loaded machine.
    emulator.setDefaultFaults({ handshakeDelayMs: 20_000 });
    daemon = await startWithProfile({
      name: 'slow',
      mode: 'on-demand',
      remotePort: await freePort(),
    });
    await waitForTunnel(daemon, 'slow', (status) => status.state === 'listening');
    const events = await subscribe('slow');
    try {
      const client = connect(await daemon.localPort('slow'), '127.0.0.1');
      client.on('error', () => undefined);
      await waitForEvent(events, (status) => status.activeConnections === 1);
      expect((await daemon.tunnel('slow')).activeConnections).toBe(1);

      client.destroy();
      await closed(client);
      const left = await waitForEvent(
        events,
        (status) => status.totalConnections === 1 && status.activeConnections === 0,
        10_000,
      );
      expect(left.state).toBe('connecting');
      expect((await daemon.tunnel('slow')).activeConnections).toBe(0);
    } finally {
      events.close();
    }
  });
});

describe('removed event', () => {
  it('follows a deleted profile', async () => {
    daemon = await startWithProfile({ name: 'doomed', remotePort: await freePort() });
    await waitForTunnel(daemon, 'doomed', (status) => status.state === 'open');
    const events = await subscribe('doomed');
    try {
      // The shared api() helper parses a JSON body, which a 204 response lacks.
      const deleted = await fetch(`${daemon.daemon.url}/v1/profiles/doomed`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${daemon.daemon.token}` },
        signal: AbortSignal.timeout(10_000),
      });
      expect(deleted.status).toBe(204);
      const deadline = Date.now() + 5_000;
      while (events.removed.length === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(events.removed).toEqual(['doomed']);
      expect(events.states.at(-1)?.state).toBe('stopped');
      const listed = await daemon.api<TunnelStatus[]>('GET', '/v1/tunnels');
      expect(listed.body.map((status) => status.name)).toEqual([]);
    } finally {
      events.close();
    }
  });
});
