// ConnectionQueue with real TCP sockets on 127.0.0.1: accepted sockets wait for a session,
// go to one once it is ready, and are closed after the wait limit. Sessions are FakeSessions
// that carry each connection to a real echo server.

import { randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BastionlessError } from '../../daemon/errors.js';
import { ConnectionQueue, MAX_WAITING_BYTES } from '../../daemon/tunnel/connection-queue.js';
import { SessionSlot } from '../../daemon/tunnel/session-slot.js';
import { FakeSession } from './fake-session.js';
import { captureLogger, sha256, startEchoServer, waitFor, type CapturedLog } from './helpers.js';

const cleanups: (() => Promise<unknown> | void)[] = [];

afterEach(async () => {
  while (cleanups.length > 0) {
    await cleanups.pop()?.();
  }
});

interface QueueRig {
  queue: ConnectionQueue;
  log: CapturedLog;
  slots: SessionSlot[];
  starting: number;
  poolSize: number;
  running: boolean;
  sessionRequests: number;
  fastCloses: number;
  changes: number;
  port: number;
  echoPort: number;
}

const NO_EVENTS = {
  reconnecting: () => {},
  reconnected: () => {},
  dialFailed: () => {},
  ended: () => {},
};

async function startQueue(connectionWaitMs = 5_000): Promise<QueueRig> {
  const echo = await startEchoServer();
  cleanups.push(() => echo.close());
  const rig = {
    log: captureLogger(),
    slots: [],
    starting: 0,
    poolSize: 1,
    running: true,
    sessionRequests: 0,
    fastCloses: 0,
    changes: 0,
    echoPort: echo.port,
  } as unknown as QueueRig;
  rig.queue = new ConnectionQueue({
    log: rig.log.logger,
    connectionWaitMs,
    poolSize: () => rig.poolSize,
    isRunning: () => rig.running,
    slots: () => rig.slots,
    startingCount: () => rig.starting,
    requestSessions: () => {
      rig.sessionRequests += 1;
    },
    onFastClose: () => {
      rig.fastCloses += 1;
    },
    onChange: () => {
      rig.changes += 1;
    },
  });
  const server: Server = createServer((socket) => rig.queue.accept(socket));
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  cleanups.push(() => rig.queue.dropAll());
  rig.port = (server.address() as AddressInfo).port;
  return rig;
}

/** Adds a ready session that forwards to the rig's echo server. */
function addSession(rig: QueueRig): SessionSlot {
  const session = new FakeSession(`session-${rig.slots.length + 1}`, rig.echoPort);
  cleanups.push(() => session.close('test ended'));
  const slot = new SessionSlot(
    session,
    { target: 'i-0123456789abcdef0', remoteHost: null, remotePort: rig.echoPort },
    Date.now(),
    NO_EVENTS,
  );
  rig.slots.push(slot);
  return slot;
}

interface Client {
  socket: Socket;
  received: Buffer[];
  closed: boolean;
}

/** Connects to the rig's listener and resolves once the queue accepted the socket. */
async function connectClient(rig: QueueRig): Promise<Client> {
  const accepted = rig.queue.acceptedConnections;
  const socket = connect({ host: '127.0.0.1', port: rig.port });
  const client: Client = { socket, received: [], closed: false };
  socket.on('error', () => {});
  socket.on('data', (chunk: Buffer) => client.received.push(chunk));
  socket.once('close', () => {
    client.closed = true;
  });
  cleanups.push(() => {
    socket.destroy();
  });
  await waitFor(() => rig.queue.acceptedConnections === accepted + 1, 5_000, 'accept');
  return client;
}

function receivedBytes(client: Client): number {
  return client.received.reduce((total, chunk) => total + chunk.length, 0);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('ConnectionQueue waiting', () => {
  it('keeps a socket waiting without a session', async () => {
    const rig = await startQueue();

    const client = await connectClient(rig);
    await sleep(100);

    expect(rig.queue.waitingCount).toBe(1);
    expect(rig.sessionRequests).toBe(1);
    expect(client.closed).toBe(false);
  });

  it('places a waiting socket once a session is ready', async () => {
    const rig = await startQueue();
    const payload = randomBytes(256 * 1024);
    const client = await connectClient(rig);
    // Written while no session exists, so these bytes must wait in the socket.
    client.socket.write(payload);
    await sleep(50);

    const slot = addSession(rig);
    rig.queue.flush();

    expect(rig.queue.waitingCount).toBe(0);
    expect(slot.load).toBe(1);

    await waitFor(() => receivedBytes(client) >= payload.length, 10_000, 'the echo');

    expect(sha256(Buffer.concat(client.received))).toBe(sha256(payload));
  });

  it('closes a socket after the wait limit', async () => {
    const rig = await startQueue(200);
    const began = Date.now();

    const client = await connectClient(rig);
    await waitFor(() => client.closed, 5_000, 'the close');
    const waited = Date.now() - began;

    expect(waited).toBeGreaterThanOrEqual(150);
    expect(rig.queue.waitingCount).toBe(0);
    const line = rig.log.lines.find((entry) => entry.includes('no session became ready in time'));
    expect(line).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({
      level: 40,
      waitedMs: 200,
      msg: 'connection closed: no session became ready in time',
    });
  });

  it('forgets a client that gave up', async () => {
    const rig = await startQueue();
    const client = await connectClient(rig);
    const changes = rig.changes;

    client.socket.destroy();
    await waitFor(() => rig.queue.waitingCount === 0, 5_000, 'the queue to empty');

    expect(rig.changes).toBeGreaterThan(changes);
  });

  it('forgets a client that sent data and closed', async () => {
    const rig = await startQueue();
    const client = await connectClient(rig);
    // Unread bytes before the FIN kept Node.js from reporting the end, which left the
    // daemon's socket in CLOSE-WAIT for the whole wait.
    client.socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await sleep(50);
    const changes = rig.changes;

    client.socket.end();
    await waitFor(() => rig.queue.waitingCount === 0, 1_000, 'the queue to empty');
    // The client sees the close only after the daemon closed its side as well.
    await waitFor(() => client.closed, 1_000, 'the close');

    expect(rig.changes).toBeGreaterThan(changes);
  });

  it('carries bytes read while waiting', async () => {
    const rig = await startQueue();
    const client = await connectClient(rig);
    const payload = randomBytes(MAX_WAITING_BYTES / 2);
    client.socket.write(payload);
    await sleep(50);

    addSession(rig);
    rig.queue.flush();
    await waitFor(() => receivedBytes(client) >= payload.length, 10_000, 'the echo');

    expect(sha256(Buffer.concat(client.received))).toBe(sha256(payload));
  });

  it('drops every waiting socket on dropAll', async () => {
    const rig = await startQueue();
    const first = await connectClient(rig);
    const second = await connectClient(rig);

    expect(rig.queue.waitingCount).toBe(2);

    rig.queue.dropAll();
    await waitFor(() => first.closed && second.closed, 5_000, 'both closes');

    expect(rig.queue.waitingCount).toBe(0);
  });

  it('closes a socket while stopped', async () => {
    const rig = await startQueue();
    rig.running = false;

    const socket = connect({ host: '127.0.0.1', port: rig.port });
    socket.on('error', () => {});
    cleanups.push(() => {
      socket.destroy();
    });
    await new Promise((resolve) => socket.once('close', resolve));

    expect(rig.queue.acceptedConnections).toBe(0);
    expect(rig.queue.waitingCount).toBe(0);
  });
});

describe('ConnectionQueue placement', () => {
  it('hands a socket to an idle session at once', async () => {
    const rig = await startQueue();
    const slot = addSession(rig);
    const payload = randomBytes(64 * 1024);

    const client = await connectClient(rig);
    client.socket.write(payload);
    await waitFor(() => receivedBytes(client) >= payload.length, 10_000, 'the echo');

    expect(rig.queue.waitingCount).toBe(0);
    expect(rig.sessionRequests).toBe(0);
    expect(slot.load).toBe(1);
    expect(sha256(Buffer.concat(client.received))).toBe(sha256(payload));
  });

  it('lowers the load when the socket closes', async () => {
    const rig = await startQueue();
    const slot = addSession(rig);
    const client = await connectClient(rig);

    expect(slot.load).toBe(1);

    client.socket.destroy();
    await waitFor(() => slot.load === 0, 5_000, 'the load to drop');
  });

  it('waits for a new session while the pool can grow', async () => {
    const rig = await startQueue();
    rig.poolSize = 2;
    const slot = addSession(rig);
    await connectClient(rig);

    await connectClient(rig);

    expect(slot.load).toBe(1);
    expect(rig.queue.waitingCount).toBe(1);
    expect(rig.sessionRequests).toBe(1);
  });

  it('shares the least-loaded session in a full pool', async () => {
    const rig = await startQueue();
    rig.poolSize = 2;
    const first = addSession(rig);
    const second = addSession(rig);
    await connectClient(rig);
    await connectClient(rig);

    await connectClient(rig);

    expect(first.load + second.load).toBe(3);
    expect(Math.abs(first.load - second.load)).toBe(1);
    expect(rig.queue.waitingCount).toBe(0);
  });

  it('leaves a socket for a starting session', async () => {
    const rig = await startQueue();
    const slot = addSession(rig);
    await connectClient(rig);
    rig.poolSize = 2;
    rig.starting = 1;

    await connectClient(rig);

    expect(slot.load).toBe(1);
    expect(rig.queue.waitingCount).toBe(1);
  });

  it('flushes only what the sessions can take', async () => {
    const rig = await startQueue();
    rig.poolSize = 2;
    await connectClient(rig);
    await connectClient(rig);
    const requests = rig.sessionRequests;

    const slot = addSession(rig);
    rig.starting = 1;
    rig.queue.flush();

    // One socket goes to the idle session, and the other waits for the starting one.
    expect(slot.load).toBe(1);
    expect(rig.queue.waitingCount).toBe(1);
    expect(rig.sessionRequests).toBe(requests + 1);
  });
});

const notConnected = () =>
  new BastionlessError('ERR_TARGET_NOT_CONNECTED', 'Target i-00000000000000bad is not connected', {
    retryable: true,
  });

function logLines(rig: QueueRig, message: string): Record<string, unknown>[] {
  return rig.log.lines
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry.msg === message);
}

const BEGIN_MESSAGE =
  'session start failed with a lasting error, closing connections at once until a session opens';
const END_MESSAGE = 'connections wait for sessions again';

describe('ConnectionQueue failure streak', () => {
  it('closes waiting sockets at once', async () => {
    const rig = await startQueue();
    const first = await connectClient(rig);
    const second = await connectClient(rig);

    rig.queue.beginFailure(notConnected());

    expect(rig.queue.waitingCount).toBe(0);
    await waitFor(() => first.closed && second.closed, 1_000, 'both closes');
    const lines = logLines(rig, BEGIN_MESSAGE);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, code: 'ERR_TARGET_NOT_CONNECTED' });
    expect(lines[0]!.reason).toBe('Target i-00000000000000bad is not connected');
    expect(lines[0]!.closedConnections).toBe(2);
  });

  it('closes new sockets at once', async () => {
    const rig = await startQueue();
    rig.queue.beginFailure(notConnected());
    const began = Date.now();

    const client = await connectClient(rig);
    await waitFor(() => client.closed, 1_000, 'the close');

    expect(Date.now() - began).toBeLessThan(1_000);
    expect(rig.queue.waitingCount).toBe(0);
    expect(rig.fastCloses).toBe(1);
    expect(rig.sessionRequests).toBe(0);
    expect(receivedBytes(client)).toBe(0);
  });

  it('logs a streak once with its count', async () => {
    const rig = await startQueue();
    rig.queue.beginFailure(notConnected());
    for (let index = 0; index < 3; index += 1) {
      const client = await connectClient(rig);
      await waitFor(() => client.closed, 1_000, 'the close');
    }
    rig.queue.beginFailure(notConnected());

    rig.queue.endFailure('session open');

    expect(logLines(rig, BEGIN_MESSAGE)).toHaveLength(1);
    const ends = logLines(rig, END_MESSAGE);
    expect(ends).toHaveLength(1);
    expect(ends[0]).toMatchObject({ closedConnections: 3, reason: 'session open' });
  });

  it('lets sockets wait after the streak', async () => {
    const rig = await startQueue();
    rig.queue.beginFailure(notConnected());
    rig.queue.endFailure('transient start error');

    const client = await connectClient(rig);
    await sleep(100);

    expect(rig.queue.failingFast).toBe(false);
    expect(rig.queue.waitingCount).toBe(1);
    expect(client.closed).toBe(false);
    expect(rig.sessionRequests).toBe(1);
  });

  it('gives sockets to an open session', async () => {
    const rig = await startQueue();
    rig.poolSize = 2;
    const slot = addSession(rig);
    await connectClient(rig);
    const waiting = await connectClient(rig);
    const payload = randomBytes(32 * 1024);
    waiting.socket.write(payload);
    await sleep(50);

    expect(rig.queue.waitingCount).toBe(1);

    // The second session cannot start, so the waiting socket shares the open one.
    rig.queue.beginFailure(notConnected());
    await waitFor(() => receivedBytes(waiting) >= payload.length, 10_000, 'the echo');

    expect(slot.load).toBe(2);
    expect(rig.queue.waitingCount).toBe(0);
    expect(sha256(Buffer.concat(waiting.received))).toBe(sha256(payload));
    expect(logLines(rig, BEGIN_MESSAGE)[0]!.closedConnections).toBe(0);
  });
});

describe('ConnectionQueue with a resuming session', () => {
  it('keeps a socket waiting during a resume', async () => {
    const rig = await startQueue();
    const resuming = addSession(rig);
    resuming.reconnecting = true;

    const client = await connectClient(rig);
    await sleep(100);

    expect(resuming.load).toBe(0);
    expect(rig.queue.waitingCount).toBe(1);
    expect(client.closed).toBe(false);
  });

  it('moves a waiting socket to the next session', async () => {
    const rig = await startQueue();
    const ended = addSession(rig);
    ended.reconnecting = true;
    const client = await connectClient(rig);
    const payload = randomBytes(64 * 1024);
    client.socket.write(payload);
    await sleep(50);

    // The service ended the resuming session, and the pool replaced it.
    rig.slots = [];
    const next = addSession(rig);
    rig.queue.flush();
    await waitFor(() => receivedBytes(client) >= payload.length, 10_000, 'the echo');

    expect(ended.load).toBe(0);
    expect(next.load).toBe(1);
    expect(sha256(Buffer.concat(client.received))).toBe(sha256(payload));
  });

  it('keeps sockets waiting in a streak while resuming', async () => {
    const rig = await startQueue();
    addSession(rig).reconnecting = true;
    const waiting = await connectClient(rig);

    rig.queue.beginFailure(notConnected());
    const later = await connectClient(rig);
    await sleep(100);

    expect(rig.queue.waitingCount).toBe(2);
    expect(waiting.closed).toBe(false);
    expect(later.closed).toBe(false);
    expect(rig.fastCloses).toBe(0);
  });
});
