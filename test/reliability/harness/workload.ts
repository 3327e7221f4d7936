// Client side of the reliability workloads: echo round trips and bulk transfers in both
// directions through a local port, each byte checked with SHA-256.

import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { KIND_BULK, KIND_ECHO, encodeHeader } from './workload-server.js';

const DIGEST_BYTES = 32;

export interface ConnectionResult {
  kind: 'echo' | 'bulk';
  connectionId: number;
  ok: boolean;
  /** Payload bytes sent to the target, headers excluded. */
  bytesUp: number;
  /** Payload bytes received from the target, digests excluded. */
  bytesDown: number;
  roundTrips: number;
  /** Why the connection failed; absent when ok. */
  error?: string;
  /** Which check failed, e.g. "upload SHA-256 differs"; absent when ok. */
  mismatch?: string;
  durationMs: number;
}

function newResult(kind: ConnectionResult['kind'], connectionId: number): ConnectionResult {
  return { kind, connectionId, ok: false, bytesUp: 0, bytesDown: 0, roundTrips: 0, durationMs: 0 };
}

/** Reads exact byte counts from a socket, with a deadline for every read. */
class SocketReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private waiter: (() => void) | null = null;
  private failure: Error | null = null;

  constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      this.waiter?.();
    });
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('connection closed by the tunnel')));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.waiter?.();
  }

  /** Returns the next `size` bytes, or throws when the socket fails or `timeoutMs` passes. */
  async read(size: number, timeoutMs: number): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.buffered < size) {
      if (this.failure !== null) {
        throw new Error(`${this.failure.message} after ${this.buffered} of ${size} bytes`);
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new Error(
          `read timed out after ${timeoutMs} ms with ${this.buffered} of ${size} bytes`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiter = () => {
          clearTimeout(timer);
          this.waiter = null;
          resolve();
        };
      });
    }
    const all = Buffer.concat(this.chunks);
    this.chunks = all.length > size ? [all.subarray(size)] : [];
    this.buffered = all.length - size;
    return all.subarray(0, size);
  }

  /** Hashes the next `size` bytes without keeping them. */
  async digestOf(size: number, timeoutMs: number): Promise<Buffer> {
    const hash = createHash('sha256');
    let left = size;
    while (left > 0) {
      // Take whatever is buffered (at least one byte, so the read waits for data).
      const part = await this.read(Math.min(left, Math.max(1, this.buffered), 1 << 20), timeoutMs);
      hash.update(part);
      left -= part.length;
    }
    return hash.digest();
  }
}

async function openConnection(port: number, timeoutMs: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  const timer = setTimeout(() => socket.destroy(new Error('connect timed out')), timeoutMs);
  try {
    await once(socket, 'connect');
  } finally {
    clearTimeout(timer);
  }
  return socket;
}

async function writeAll(socket: Socket, data: Buffer, chunkBytes = 64 * 1024): Promise<void> {
  for (let offset = 0; offset < data.length; offset += chunkBytes) {
    if (!socket.write(data.subarray(offset, offset + chunkBytes))) {
      // Aborting the losing wait removes its listeners, which would otherwise pile up on the
      // socket with every drain.
      const waits = new AbortController();
      try {
        await Promise.race([
          once(socket, 'drain', { signal: waits.signal }),
          once(socket, 'close', { signal: waits.signal }).then(() => {
            throw new Error('connection closed during upload');
          }),
        ]);
      } finally {
        waits.abort();
      }
    }
  }
}

export interface EchoOptions {
  port: number;
  connectionId: number;
  roundTrips: number;
  maxRequestBytes: number;
  /** Limit for each read, in milliseconds; it covers reconnects and rejected resumes. */
  readTimeoutMs: number;
}

/** Sends `roundTrips` random requests and checks that each echo has the same SHA-256. */
export async function runEcho(options: EchoOptions): Promise<ConnectionResult> {
  const started = Date.now();
  const result = newResult('echo', options.connectionId);
  let socket: Socket | undefined;
  try {
    socket = await openConnection(options.port, options.readTimeoutMs);
    const reader = new SocketReader(socket);
    socket.write(
      encodeHeader({
        kind: KIND_ECHO,
        connectionId: options.connectionId,
        downloadBytes: 0,
        uploadBytes: 0,
      }),
    );
    for (let i = 0; i < options.roundTrips; i++) {
      const size = 1 + Math.floor(Math.random() * options.maxRequestBytes);
      const request = randomBytes(size);
      await writeAll(socket, request);
      result.bytesUp += size;
      const echoed = await reader.read(size, options.readTimeoutMs);
      result.bytesDown += size;
      if (!sha256(echoed).equals(sha256(request))) {
        result.mismatch = `echo ${i} of ${size} bytes: SHA-256 differs`;
        return result;
      }
      result.roundTrips += 1;
    }
    result.ok = true;
  } catch (error) {
    result.error = (error as Error).message;
  } finally {
    socket?.destroy();
    result.durationMs = Date.now() - started;
  }
  return result;
}

export interface BulkOptions {
  port: number;
  connectionId: number;
  uploadBytes: number;
  downloadBytes: number;
  readTimeoutMs: number;
}

/** Uploads and downloads at the same time and checks both digests the target reports. */
export async function runBulk(options: BulkOptions): Promise<ConnectionResult> {
  const started = Date.now();
  const result = newResult('bulk', options.connectionId);
  let socket: Socket | undefined;
  try {
    socket = await openConnection(options.port, options.readTimeoutMs);
    const reader = new SocketReader(socket);
    const upload = randomBytes(options.uploadBytes);
    socket.write(
      encodeHeader({
        kind: KIND_BULK,
        connectionId: options.connectionId,
        downloadBytes: options.downloadBytes,
        uploadBytes: options.uploadBytes,
      }),
    );
    const uploading = writeAll(socket, upload).then(() => {
      result.bytesUp = upload.length;
    });
    // Without this, an upload failure would stay unobserved until the download ends.
    uploading.catch(() => undefined);
    const expectedDownload = await reader.read(DIGEST_BYTES, options.readTimeoutMs);
    const downloadDigest = await reader.digestOf(options.downloadBytes, options.readTimeoutMs);
    result.bytesDown = options.downloadBytes;
    await uploading;
    const uploadDigest = await reader.read(DIGEST_BYTES, options.readTimeoutMs);
    if (!downloadDigest.equals(expectedDownload)) {
      result.mismatch = `download of ${options.downloadBytes} bytes: SHA-256 differs`;
    } else if (!uploadDigest.equals(sha256(upload))) {
      result.mismatch = `upload of ${options.uploadBytes} bytes: SHA-256 differs`;
    } else {
      result.ok = true;
      result.roundTrips = 1;
    }
  } catch (error) {
    result.error = (error as Error).message;
  } finally {
    socket?.destroy();
    result.durationMs = Date.now() - started;
  }
  return result;
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}
