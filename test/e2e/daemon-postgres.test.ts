// The daemon's promises with real clients: an on-demand tunnel to real PostgreSQL that
// outlives the service's idle timeout, and a 100 MB transfer that survives the websocket
// being closed every 2 seconds without changing session.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../emulator/index.js';
import {
  createTestHome,
  emulatorProfile,
  startTestDaemon,
  waitForTunnel,
  waitUntil,
  type TestDaemon,
  type TestHome,
} from '../integration/helpers.js';

const execFileAsync = promisify(execFile);
const pgUrl = process.env.BASTIONLESS_TEST_PG;
const runPostgres = pgUrl !== undefined || process.env.CI === 'true';
const TRANSFER_BYTES = 100 * 1024 * 1024;

/** Deterministic bytes: the SHA-256 counter stream of a seed, so both ends can check them. */
function chunkFor(seed: string, index: number): Buffer {
  const blocks: Buffer[] = [];
  for (let i = 0; i < 2048; i += 1) {
    blocks.push(createHash('sha256').update(`${seed}:${index}:${i}`).digest());
  }
  return Buffer.concat(blocks);
}

/** A server that sends `bytes` deterministic bytes to each connection, then closes it. */
async function startSource(
  bytes: number,
): Promise<{ server: Server; port: number; sha256: string }> {
  const digest = createHash('sha256');
  for (let sent = 0, index = 0; sent < bytes; index += 1) {
    const chunk = chunkFor('source', index).subarray(0, bytes - sent);
    digest.update(chunk);
    sent += chunk.length;
  }
  const server = createServer((socket: Socket) => {
    let sent = 0;
    let index = 0;
    const pump = () => {
      while (sent < bytes) {
        const chunk = chunkFor('source', index).subarray(0, bytes - sent);
        index += 1;
        sent += chunk.length;
        if (!socket.write(chunk)) {
          socket.once('drain', pump);
          return;
        }
      }
      socket.end();
    };
    socket.on('error', () => socket.destroy());
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { server, port, sha256: digest.digest('hex') };
}

async function download(port: number): Promise<{ bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const digest = createHash('sha256');
    let bytes = 0;
    const socket = connect(port, '127.0.0.1');
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      digest.update(chunk);
    });
    socket.on('end', () => resolve({ bytes, sha256: digest.digest('hex') }));
    socket.on('error', reject);
  });
}

async function psql(url: string, query: string): Promise<string> {
  const { stdout } = await execFileAsync('psql', [url, '-At', '-c', query], { timeout: 30_000 });
  return stdout.trim();
}

describe('daemon tunnels with real clients', () => {
  let home: TestHome;
  let emulator: Emulator;
  let daemon: TestDaemon | undefined;

  beforeAll(async () => {
    home = await createTestHome();
    process.env.AWS_ACCESS_KEY_ID = 'AKIAEMULATOR0000001';
    process.env.AWS_SECRET_ACCESS_KEY = 'emulator-secret';
  });

  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
    await emulator?.close();
  });

  afterAll(async () => {
    await home.cleanup();
  });

  it.runIf(runPostgres)(
    'on-demand psql survives idle timeout',
    async () => {
      if (!pgUrl) {
        throw new Error(
          'BASTIONLESS_TEST_PG is not set; start PostgreSQL with scripts/start-postgres.sh',
        );
      }
      emulator = await startEmulator({ pacing: false, idleTimeoutMs: 2000 });
      const pg = new URL(pgUrl);
      daemon = await startTestDaemon(home.dir, [
        emulatorProfile(emulator, {
          name: 'pg',
          mode: 'on-demand',
          remoteHost: pg.hostname,
          remotePort: Number(pg.port),
        }),
      ]);
      await waitForTunnel(daemon, 'pg', (status) => status.state === 'listening');
      const viaTunnel = new URL(pgUrl);
      viaTunnel.hostname = '127.0.0.1';
      viaTunnel.port = String(await daemon.localPort('pg'));

      expect(await psql(viaTunnel.toString(), 'SELECT 6 * 7')).toBe('42');
      const firstSessions = emulator.sessions.length;
      expect(firstSessions).toBe(1);

      // Idle for longer than the service's 2 s idle timeout: the service ends the session. The
      // wait is for the end itself, because a loaded machine can run the idle timer late.
      const ended = emulator.sessions[0]!;
      await waitUntil('the idle session to end', () => ended.state === 'terminated');
      expect(ended.state).toBe('terminated');
      // The next psql must find the daemon back to listening, as after a long idle time.
      await waitForTunnel(daemon, 'pg', (status) => status.state === 'listening');

      expect(await psql(viaTunnel.toString(), "SELECT 'still here'")).toBe('still here');
      expect(emulator.sessions.length).toBe(2);
      const status = await daemon.tunnel('pg');
      expect(status.lastError).toBeNull();
    },
    60_000,
  );

  it('100 MB survives websocket closed every 2 s', async () => {
    emulator = await startEmulator({ pacing: false });
    emulator.setDefaultFaults({ closeEveryMs: 2000 });
    const source = await startSource(TRANSFER_BYTES);
    try {
      daemon = await startTestDaemon(home.dir, [
        emulatorProfile(emulator, {
          name: 'bulk',
          remoteHost: '127.0.0.1',
          remotePort: source.port,
        }),
      ]);
      await waitForTunnel(daemon, 'bulk', (status) => status.state === 'open');
      const received = await download(await daemon.localPort('bulk'));
      expect(received.bytes).toBe(TRANSFER_BYTES);
      expect(received.sha256).toBe(source.sha256);

      const status = await daemon.tunnel('bulk');
      expect(status.sessionIds.length).toBe(1);
      expect(emulator.sessions.length).toBe(1);
      expect(emulator.sessions[0]!.websocketOpens).toBeGreaterThan(1);
      expect(status.reconnects).toBeGreaterThan(0);
    } finally {
      source.server.close();
    }
  }, 240_000);
});
