// A real daemon with its default data-channel options against the SSM emulator, whose agent
// drops 1% of its frames toward the client during a 100 MB download. The emulated agent,
// like the real one, resends only its oldest unacknowledged message, one per 100 ms, so gaps
// pile up faster than they are repaired and fill the daemon's 64 MiB reorder buffer. (0.1%
// was enough in some runs, depending on the load of the machine.) The daemon ends the
// stalled session, starts a new one and names the cause.

import { createHash, randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  cleanupAfterEach,
  emulatorProfile,
  startEmulatorRig,
  startTestDaemon,
  waitUntil,
} from './helpers.js';

const addCleanup = cleanupAfterEach();

const DOWNLOAD_BYTES = 100 * 1024 * 1024;
/** Size of the download through the new session. */
const AFTER_BYTES = 4 * 1024 * 1024;
/** A download that receives nothing for this long counts as stalled. */
const DOWNLOAD_IDLE_MS = 5_000;
/** A download still open after this long counts as stalled, even if bytes trickle in. */
const DOWNLOAD_MAX_MS = 60_000;

/**
 * Starts a TCP server that reads a decimal byte count and a newline from each connection,
 * then sends that many bytes of `block` repeated and ends.
 */
async function startSourceServer(block: Buffer): Promise<{ port: number }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
    let request = '';
    socket.on('data', (chunk: Buffer) => {
      request += chunk.toString('latin1');
      if (request.includes('\n')) {
        socket.removeAllListeners('data');
        sendBytes(socket, block, Number(request.split('\n')[0]));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  addCleanup(
    () =>
      new Promise((resolve) => {
        for (const socket of sockets) {
          socket.destroy();
        }
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as AddressInfo).port };
}

/** Writes the first `total` bytes of `block` repeated, honouring back-pressure, then ends. */
function sendBytes(socket: Socket, block: Buffer, total: number): void {
  let sent = 0;
  const writeMore = (): void => {
    while (sent < total) {
      const part = block.subarray(0, Math.min(block.length, total - sent));
      sent += part.length;
      if (!socket.write(part)) {
        socket.once('drain', writeMore);
        return;
      }
    }
    socket.end();
  };
  writeMore();
}

/**
 * Requests `size` bytes through the tunnel's port and reads until the socket closes,
 * receives nothing for `DOWNLOAD_IDLE_MS`, or `DOWNLOAD_MAX_MS` pass. Returns the bytes
 * received and their SHA-256.
 */
function download(port: number, size: number): Promise<{ received: number; digest: string }> {
  return new Promise((resolve) => {
    const hash = createHash('sha256');
    let received = 0;
    const socket = connect({ host: '127.0.0.1', port });
    const finish = (): void => {
      clearTimeout(idleTimer);
      clearTimeout(maxTimer);
      socket.destroy();
      resolve({ received, digest: hash.digest('hex') });
    };
    let idleTimer = setTimeout(finish, DOWNLOAD_IDLE_MS);
    const maxTimer = setTimeout(finish, DOWNLOAD_MAX_MS);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      hash.update(chunk);
      clearTimeout(idleTimer);
      idleTimer = setTimeout(finish, DOWNLOAD_IDLE_MS);
    });
    socket.on('error', () => {});
    socket.once('close', finish);
    socket.write(`${size}\n`);
  });
}

/** Returns the SHA-256 of the first `length` bytes of `block` repeated. */
function prefixDigest(block: Buffer, length: number): string {
  const hash = createHash('sha256');
  for (let offset = 0; offset < length; offset += block.length) {
    hash.update(block.subarray(0, Math.min(block.length, length - offset)));
  }
  return hash.digest('hex');
}

describe('session with a gap the agent never fills', () => {
  it('is replaced by a new session', { timeout: 150_000 }, async () => {
    const { home, emulator } = await startEmulatorRig(addCleanup);
    const block = randomBytes(1024 * 1024);
    const source = await startSourceServer(block);
    const downloadProfile = emulatorProfile(emulator, {
      name: 'dl',
      awsProfile: 'static',
      remotePort: source.port,
    });
    const daemon = await startTestDaemon(home.dir, [downloadProfile]);
    addCleanup(() => daemon.stop());
    const tunnel = (name: string) => daemon.tunnel(name);
    const localPort = await daemon.localPort('dl');
    await waitUntil('tunnel open', async () => (await tunnel('dl')).state === 'open');
    const stalledSessionId = (await tunnel('dl')).sessionIds[0]!;

    emulator.setFaults(stalledSessionId, {
      seed: 5,
      dropProbability: 0.01,
      dropDirection: 'to-client',
    });
    const result = await download(localPort, DOWNLOAD_BYTES);
    emulator.setFaults(stalledSessionId, {});
    const clearedAt = Date.now();

    // Whatever arrived is an unbroken prefix of what the server sent.
    expect(result.digest).toBe(prefixDigest(block, result.received));
    await waitUntil(
      'a new session',
      async () => {
        const status = await tunnel('dl');
        return status.state === 'open' && !status.sessionIds.includes(stalledSessionId);
      },
      30_000,
    );
    const after = await download(localPort, AFTER_BYTES);
    const recoveredMs = Date.now() - clearedAt;
    const status = await tunnel('dl');

    expect(result.received).toBeLessThan(DOWNLOAD_BYTES);
    expect(after.received).toBe(AFTER_BYTES);
    expect(after.digest).toBe(prefixDigest(block, AFTER_BYTES));
    expect(recoveredMs).toBeLessThan(30_000);
    expect(status.lastError?.code).toBe('ERR_STREAM_STALLED');
    expect(status.lastError?.message).toContain(stalledSessionId);
    expect(status.lastError?.message).toMatch(/sequence number \d+/);
  });
});
