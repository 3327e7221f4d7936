// Shared pieces of the tunnel tests: an echo server, a checksummed round trip, profiles
// and a logger that captures every line.

import { createHash, randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import pino from 'pino';
import type { Profile } from '../../daemon/config/types.js';

export interface EchoServer {
  server: Server;
  port: number;
  connections: number;
  close(): Promise<void>;
}

export async function startEchoServer(port = 0): Promise<EchoServer> {
  const sockets = new Set<Socket>();
  const echo: EchoServer = {
    server: createServer((socket) => {
      echo.connections += 1;
      sockets.add(socket);
      socket.on('error', () => {});
      socket.once('close', () => sockets.delete(socket));
      socket.pipe(socket);
    }),
    port: 0,
    connections: 0,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) {
          socket.destroy();
        }
        echo.server.close(() => resolve());
      }),
  };
  await new Promise<void>((resolve) => echo.server.listen({ host: '127.0.0.1', port }, resolve));
  echo.port = (echo.server.address() as AddressInfo).port;
  return echo;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Sends `size` random bytes through host:port to an echo server and returns the SHA-256 of
 * what was sent and what came back.
 */
export function echoRoundTrip(
  host: string,
  port: number,
  size = 64 * 1024,
  timeoutMs = 10_000,
): Promise<{ sent: string; received: string }> {
  const payload = randomBytes(size);
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const chunks: Buffer[] = [];
    let length = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`echo through ${host}:${port} timed out with ${length} of ${size} bytes`));
    }, timeoutMs);
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= size) {
        clearTimeout(timer);
        socket.end();
        resolve({ sent: sha256(payload), received: sha256(Buffer.concat(chunks)) });
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (length < size) {
        reject(new Error(`connection closed after ${length} of ${size} bytes`));
      }
    });
    socket.write(payload);
  });
}

/** Opens a connection and resolves once it is closed by the other side, or rejects on timeout. */
export function expectClosed(host: string, port: number, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.on('error', () => {});
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connection to ${host}:${port} still open after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.resume();
  });
}

export { freePort } from '../helpers/ports.js';

/** Resolves when a new listener can bind host:port, which proves the port is free. */
export async function canBind(host: string, port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export function makeProfile(overrides: Partial<Profile> = {}): Profile {
  return {
    name: 'db',
    groups: ['dev'],
    region: 'us-east-1',
    target: 'i-0123456789abcdef0',
    remotePort: 5432,
    localPort: 0,
    bindAddress: '127.0.0.1',
    allowNonLoopback: false,
    autoStart: false,
    mode: 'on-demand',
    sessionPool: 1,
    endpoints: {},
    keepAlive: false,
    ...overrides,
  };
}

export interface CapturedLog {
  logger: pino.Logger;
  lines: string[];
}

export function captureLogger(level: pino.Level = 'trace'): CapturedLog {
  const lines: string[] = [];
  const logger = pino({ level }, { write: (line: string) => lines.push(line) });
  return { logger, lines };
}

export async function waitFor(
  condition: () => boolean,
  timeoutMs = 5000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
