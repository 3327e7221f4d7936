// Shared pieces of the port-forwarding tests: target servers, a local listener that hands
// connections to a session, and byte-exact transfers.

import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

import { createSsmClient } from '../../daemon/aws/clients.js';
import type { PortForwardSession } from '../../daemon/portforward/types.js';
import type { SSMClient } from '@aws-sdk/client-ssm';

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function emulatorClient(endpoint: string): SSMClient {
  return createSsmClient({
    region: 'us-east-1',
    endpoint,
    credentials: async () => ({ accessKeyId: 'AKIATESTPORTFWD', secretAccessKey: 'test' }),
  });
}

export async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (typeof address !== 'object' || address === null) {
    throw new Error('server has no TCP address');
  }
  return address.port;
}

/**
 * Target server for transfers. The client first sends an 8-byte big-endian count of bytes
 * it wants back, then its upload. The server streams the requested bytes (random, with
 * their SHA-256 recorded), hashes the whole upload and closes when the client does.
 */
export class TransferServer {
  readonly server: Server;
  /** SHA-256 of each upload, keyed by the first 16 hex digits of the download's digest. */
  readonly uploads = new Map<string, { bytes: number; sha256: string }>();
  readonly sockets = new Set<Socket>();

  constructor() {
    this.server = createServer((socket) => this.serve(socket));
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let header = Buffer.alloc(0);
    let uploadHash: ReturnType<typeof createHash> | null = null;
    let uploadBytes = 0;
    let downloadKey = '';
    socket.on('data', (chunk: Buffer) => {
      if (uploadHash === null) {
        header = Buffer.concat([header, chunk]);
        if (header.length < 8) {
          return;
        }
        const count = Number(header.readBigUInt64BE(0));
        const download = randomBytes(count);
        downloadKey = sha256(download).slice(0, 16);
        uploadHash = createHash('sha256');
        // The download's digest goes first, so the client can check what follows.
        socket.write(Buffer.from(sha256(download), 'hex'));
        socket.write(download);
        chunk = header.subarray(8);
      }
      uploadHash.update(chunk);
      uploadBytes += chunk.length;
    });
    socket.on('end', () => {
      this.uploads.set(downloadKey, {
        bytes: uploadBytes,
        sha256: uploadHash?.digest('hex') ?? '',
      });
      socket.end();
    });
  }
}

export interface TransferResult {
  downloadBytes: number;
  downloadOk: boolean;
  downloadKey: string;
  uploadSha256: string;
}

/**
 * Connects to `port`, uploads `uploadBytes` random bytes while downloading
 * `downloadBytes`, and checks the download against the digest the server sent first.
 */
export async function transfer(
  port: number,
  uploadBytes: number,
  downloadBytes: number,
): Promise<TransferResult> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const upload = randomBytes(uploadBytes);
  const header = Buffer.alloc(8);
  header.writeBigUInt64BE(BigInt(downloadBytes));
  const chunks: Buffer[] = [];
  let received = 0;
  const done = new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      // The server closes only after our FIN, so finish the upload before ending.
      if (received === 32 + downloadBytes) {
        resolve();
      }
    });
    socket.on('error', reject);
    socket.on('close', () =>
      reject(new Error(`connection closed after ${received} of ${32 + downloadBytes} bytes`)),
    );
  });
  socket.write(header);
  for (let offset = 0; offset < upload.length; offset += 64 * 1024) {
    if (!socket.write(upload.subarray(offset, offset + 64 * 1024))) {
      await once(socket, 'drain');
    }
  }
  await done;
  const data = Buffer.concat(chunks);
  const expected = data.subarray(0, 32).toString('hex');
  const closed = once(socket, 'close');
  socket.end();
  await closed.catch(() => undefined);
  return {
    downloadBytes: data.length - 32,
    downloadOk: sha256(data.subarray(32)) === expected,
    downloadKey: expected.slice(0, 16),
    uploadSha256: sha256(upload),
  };
}

/** Listens on 127.0.0.1 and hands every accepted connection to `session`. */
export async function forwardListener(
  session: PortForwardSession,
): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => session.handleConnection(socket));
  const port = await listen(server);
  return { server, port };
}

/** Polls `condition` every 20 ms until it holds, failing after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean,
  description: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
