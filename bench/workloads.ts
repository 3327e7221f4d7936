// Client side of each measurement. Every function takes the port of one path (direct,
// `ssh -L`, emulator client, bastionless tunnel) on 127.0.0.1, so all paths run the same
// code, and every transfer checks the SHA-256 of every byte.

import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { patternChunk, patternDigest } from './pattern.js';
import {
  DIGEST_BYTES,
  encodeRequestHeader,
  TargetMode,
  type TargetModeValue,
} from './target-server.js';

const WRITE_CHUNK_BYTES = 64 * 1024;

export class WorkloadError extends Error {
  override readonly name = 'WorkloadError';
  constructor(
    readonly code: 'ERR_BENCH_TIMEOUT' | 'ERR_BENCH_CLOSED',
    message: string,
  ) {
    super(message);
  }
}

export interface TransferResult {
  bytes: number;
  ms: number;
  /** True when every byte in each direction matched its SHA-256. */
  exact: boolean;
}

export interface ParallelResult {
  connections: number;
  bytesPerConnection: number;
  ms: number;
  /** Aggregate payload throughput over all connections, in MB/s (10^6 bytes). */
  mbPerSecond: number;
  exact: number;
  failed: number;
  errors: string[];
}

function elapsedMs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Runs `work` on a fresh socket, destroying the socket when it settles or times out. */
async function withSocket<T>(
  port: number,
  timeoutMs: number,
  work: (socket: Socket) => Promise<T>,
): Promise<T> {
  const socket = connect({ port, host: '127.0.0.1', noDelay: true });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new WorkloadError('ERR_BENCH_TIMEOUT', `no result from port ${port} in ${timeoutMs} ms`),
      );
    }, timeoutMs);
  });
  try {
    await Promise.race([once(socket, 'connect'), deadline]);
    return await Promise.race([work(socket), deadline]);
  } finally {
    clearTimeout(timer);
    socket.destroy();
  }
}

/** Resolves with the first `length` bytes the socket receives, hashed, and what follows. */
function collect(socket: Socket, length: number, trailerBytes: number) {
  const hash = createHash('sha256');
  let received = 0;
  const trailer: Buffer[] = [];
  let trailerReceived = 0;
  return new Promise<{ digest: string; trailer: Buffer }>((resolve, reject) => {
    const finish = (): void => {
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve({ digest: hash.digest('hex'), trailer: Buffer.concat(trailer) });
    };
    const onData = (chunk: Buffer): void => {
      const remaining = length - received;
      const body = chunk.length > remaining ? chunk.subarray(0, remaining) : chunk;
      if (body.length > 0) {
        hash.update(body);
        received += body.length;
      }
      const extra = chunk.subarray(body.length);
      if (extra.length > 0) {
        trailer.push(extra);
        trailerReceived += extra.length;
      }
      if (received === length && trailerReceived >= trailerBytes) {
        finish();
      }
    };
    const onClose = (): void => {
      socket.off('data', onData);
      reject(
        new WorkloadError(
          'ERR_BENCH_CLOSED',
          `connection closed after ${received} of ${length} bytes and ${trailerReceived} of ` +
            `${trailerBytes} trailer bytes`,
        ),
      );
    };
    socket.on('data', onData);
    socket.on('close', onClose);
    if (length === 0 && trailerBytes === 0) {
      finish();
    }
  });
}

async function writePattern(socket: Socket, seed: number, length: number): Promise<void> {
  let offset = 0;
  while (offset < length) {
    const chunk = patternChunk(seed, offset, Math.min(WRITE_CHUNK_BYTES, length - offset));
    offset += chunk.length;
    if (socket.destroyed) {
      return;
    }
    if (!socket.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          socket.off('drain', done);
          socket.off('close', done);
          resolve();
        };
        socket.on('drain', done);
        socket.on('close', done);
      });
    }
  }
}

async function transfer(
  port: number,
  mode: TargetModeValue,
  bytes: number,
  seed: number,
  timeoutMs: number,
): Promise<TransferResult> {
  return withSocket(port, timeoutMs, async (socket) => {
    const start = process.hrtime.bigint();
    const downBytes = mode === TargetMode.Sink ? 0 : bytes;
    const digestBytes = mode === TargetMode.Source ? 0 : DIGEST_BYTES;
    const received = collect(socket, downBytes, digestBytes);
    // The tunnel may close the connection while the upload is still being written; the
    // rejection is read below, and must not count as unhandled meanwhile.
    received.catch(() => undefined);
    socket.write(encodeRequestHeader(mode, seed, bytes));
    if (mode === TargetMode.Sink || mode === TargetMode.Exchange) {
      await writePattern(socket, seed ^ 0x5a5a5a5a, bytes);
    }
    const { digest, trailer } = await received;
    const ms = elapsedMs(start);
    let exact = downBytes === 0 || digest === patternDigest(seed, bytes);
    if (digestBytes > 0) {
      const expected = patternDigest(seed ^ 0x5a5a5a5a, bytes);
      exact = exact && trailer.subarray(0, DIGEST_BYTES).toString('hex') === expected;
    }
    return { bytes, ms, exact };
  });
}

/** Downloads `bytes` from the target's source mode. */
export function download(port: number, bytes: number, seed: number, timeoutMs: number) {
  return transfer(port, TargetMode.Source, bytes, seed, timeoutMs);
}

/** Uploads `bytes` to the target's sink mode; the time includes the digest reply. */
export function upload(port: number, bytes: number, seed: number, timeoutMs: number) {
  return transfer(port, TargetMode.Sink, bytes, seed, timeoutMs);
}

/** Sends and receives `bytes` at once through one connection. */
export function exchange(port: number, bytes: number, seed: number, timeoutMs: number) {
  return transfer(port, TargetMode.Exchange, bytes, seed, timeoutMs);
}

/** Runs `connections` transfers at once and reports their aggregate throughput. */
export async function parallel(
  connections: number,
  bytesPerConnection: number,
  run: (seed: number) => Promise<TransferResult>,
): Promise<ParallelResult> {
  const start = process.hrtime.bigint();
  const settled = await Promise.allSettled(
    Array.from({ length: connections }, (_, index) => run(index * 7919 + 1)),
  );
  const ms = elapsedMs(start);
  let exact = 0;
  const errors: string[] = [];
  for (const outcome of settled) {
    if (outcome.status === 'fulfilled') {
      exact += outcome.value.exact ? 1 : 0;
      if (!outcome.value.exact) {
        errors.push('SHA-256 mismatch');
      }
    } else {
      errors.push(String((outcome.reason as Error).message ?? outcome.reason));
    }
  }
  const moved = settled.length * bytesPerConnection;
  return {
    connections,
    bytesPerConnection,
    ms,
    mbPerSecond: moved / 1e6 / (ms / 1000),
    exact,
    failed: connections - exact,
    errors: [...new Set(errors)].slice(0, 5),
  };
}

/** Byte sent for round trips: not 0x0A, which the official client rewrites to 0x0D. */
const ECHO_BYTE = 0x2a;

/** Measures `rounds` sequential 1-byte round trips on one connection, in milliseconds. */
export function echoLatency(port: number, rounds: number, timeoutMs: number): Promise<number[]> {
  return withSocket(port, timeoutMs, async (socket) => {
    const samples: number[] = [];
    let waiting: (() => void) | undefined;
    let bad = 0;
    socket.on('data', (chunk: Buffer) => {
      // One byte per round trip: a chunk of another size or value is a broken echo.
      if (chunk.length !== 1 || chunk[0] !== ECHO_BYTE) {
        bad += 1;
      }
      waiting?.();
    });
    socket.write(encodeRequestHeader(TargetMode.Echo, 0, 0));
    const probe = Buffer.from([ECHO_BYTE]);
    for (let round = 0; round < rounds; round++) {
      const echoed = new Promise<void>((resolve) => {
        waiting = resolve;
      });
      const start = process.hrtime.bigint();
      socket.write(probe);
      await echoed;
      samples.push(elapsedMs(start));
    }
    if (bad > 0) {
      throw new WorkloadError('ERR_BENCH_CLOSED', `${bad} of ${rounds} echo replies were wrong`);
    }
    return samples;
  });
}

/** Measures connect-to-first-echoed-byte for `count` sequential new connections, in ms. */
export async function connectLatency(
  port: number,
  count: number,
  timeoutMs: number,
): Promise<number[]> {
  const samples: number[] = [];
  const request = Buffer.concat([
    encodeRequestHeader(TargetMode.Echo, 0, 0),
    Buffer.from([ECHO_BYTE]),
  ]);
  for (let index = 0; index < count; index++) {
    const start = process.hrtime.bigint();
    const socket = connect({ port, host: '127.0.0.1', noDelay: true });
    socket.write(request);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        once(socket, 'data'),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new WorkloadError('ERR_BENCH_TIMEOUT', `connect ${index} timed out`)),
            timeoutMs,
          );
        }),
      ]);
      samples.push(elapsedMs(start));
    } finally {
      clearTimeout(timer);
      socket.destroy();
    }
  }
  return samples;
}
