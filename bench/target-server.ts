// TCP server that every bench path ends at: direct, `ssh -L`, the raw emulator client and
// bastionless tunnels all reach this same server, so their numbers compare.
//
// A connection starts with a 16-byte request header: mode u8, three zero bytes, seed u32
// BE, length u64 BE. Modes:
// - echo: returns every following byte until the client closes.
// - source: sends `length` bytes of pattern stream `seed`, then ends.
// - sink: reads `length` bytes, then sends their 32-byte SHA-256 and ends.
// - exchange: source and sink at the same time; the digest follows the source bytes.
// Every length is explicit because smux has no half-close: a tunnel that closes one
// direction closes both, so end-of-stream cannot mark the end of an upload.

import { createHash, type Hash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { patternChunk } from './pattern.js';

export const REQUEST_HEADER_BYTES = 16;
export const DIGEST_BYTES = 32;

export const TargetMode = {
  Echo: 0x45,
  Source: 0x53,
  Sink: 0x4b,
  Exchange: 0x58,
} as const;

export type TargetModeValue = (typeof TargetMode)[keyof typeof TargetMode];

const WRITE_CHUNK_BYTES = 64 * 1024;

export function encodeRequestHeader(mode: TargetModeValue, seed: number, length: number): Buffer {
  const header = Buffer.alloc(REQUEST_HEADER_BYTES);
  header.writeUInt8(mode, 0);
  header.writeUInt32BE(seed >>> 0, 4);
  header.writeBigUInt64BE(BigInt(length), 8);
  return header;
}

export interface TargetServer {
  port: number;
  /** Connections whose request header was invalid; a correct run leaves it at 0. */
  readonly protocolErrors: number;
  close(): Promise<void>;
}

function drainOrClose(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

/** Writes `length` pattern bytes, waiting for `drain` so memory stays bounded. */
async function writePattern(socket: Socket, seed: number, length: number): Promise<void> {
  let offset = 0;
  while (offset < length && !socket.destroyed) {
    const chunk = patternChunk(seed, offset, Math.min(WRITE_CHUNK_BYTES, length - offset));
    offset += chunk.length;
    if (!socket.write(chunk)) {
      await drainOrClose(socket);
    }
  }
}

class SinkCounter {
  private readonly hash: Hash = createHash('sha256');
  private received = 0;
  readonly done: Promise<Buffer>;
  private resolveDone!: (digest: Buffer) => void;

  constructor(private readonly expected: number) {
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
    if (expected === 0) {
      this.resolveDone(this.hash.digest());
    }
  }

  /** Feeds bytes; anything past the expected length is ignored. */
  push(chunk: Buffer): void {
    const remaining = this.expected - this.received;
    if (remaining <= 0) {
      return;
    }
    const used = chunk.length > remaining ? chunk.subarray(0, remaining) : chunk;
    this.hash.update(used);
    this.received += used.length;
    if (this.received === this.expected) {
      this.resolveDone(this.hash.digest());
    }
  }
}

function serveRequest(socket: Socket, header: Buffer, rest: Buffer): boolean {
  const mode = header.readUInt8(0);
  const seed = header.readUInt32BE(4);
  const length = Number(header.readBigUInt64BE(8));
  if (mode === TargetMode.Echo) {
    if (rest.length > 0) {
      socket.write(rest);
    }
    socket.on('data', (chunk: Buffer) => socket.write(chunk));
    return true;
  }
  if (mode === TargetMode.Source) {
    void writePattern(socket, seed, length).then(() => socket.end());
    return true;
  }
  if (mode === TargetMode.Sink || mode === TargetMode.Exchange) {
    const sink = new SinkCounter(length);
    sink.push(rest);
    socket.on('data', (chunk: Buffer) => sink.push(chunk));
    const sent = mode === TargetMode.Exchange ? writePattern(socket, seed, length) : undefined;
    void Promise.all([sink.done, sent]).then(([digest]) => socket.end(digest));
    return true;
  }
  return false;
}

/** Starts the bench target server on 127.0.0.1 and an ephemeral port. */
export async function startTargetServer(): Promise<TargetServer> {
  const sockets = new Set<Socket>();
  let protocolErrors = 0;
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    // A reset from a client that gave up is expected during teardown.
    socket.on('error', () => socket.destroy());
    let pending = Buffer.alloc(0);
    const onHeader = (chunk: Buffer): void => {
      pending = Buffer.concat([pending, chunk]);
      if (pending.length < REQUEST_HEADER_BYTES) {
        return;
      }
      socket.off('data', onHeader);
      const header = pending.subarray(0, REQUEST_HEADER_BYTES);
      const rest = pending.subarray(REQUEST_HEADER_BYTES);
      if (!serveRequest(socket, header, rest)) {
        protocolErrors += 1;
        socket.destroy();
      }
    };
    socket.on('data', onHeader);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') {
    throw new Error('bench target server has no TCP address after listening');
  }
  return {
    port: address.port,
    get protocolErrors() {
      return protocolErrors;
    },
    async close() {
      for (const socket of sockets) {
        socket.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
