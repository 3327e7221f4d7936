// The measurement suite that every path runs: bulk transfers, round-trip latency,
// connection setup and many concurrent connections, all against the bench target server.

import { median, round3, summarizeLatency, type LatencySummary } from './stats.js';
import {
  connectLatency,
  download,
  echoLatency,
  exchange,
  parallel,
  upload,
  type ParallelResult,
  type TransferResult,
} from './workloads.js';

export interface SuiteSizes {
  /** Bytes per connection for bulk transfers, unless the time budget cuts them. */
  bulkBytes: number;
  /**
   * Time one bulk run may take, in seconds: a probe transfer estimates the rate and the
   * run moves at most rate × budget bytes per connection, never less than `probeBytes`.
   */
  bulkBudgetSeconds: number;
  probeBytes: number;
  /** Runs of each bulk transfer; the median is reported. */
  repeats: number;
  echoRounds: number;
  connectCount: number;
  concurrentConnections: number;
  /** Bytes each way per concurrent connection. */
  concurrentBytes: number;
  /** Time limit of one transfer or one latency series, in milliseconds. */
  timeoutMs: number;
}

export interface Throughput {
  connections: number;
  /** Bytes per connection of the last run; earlier runs may have been larger. */
  bytesPerConnection: number;
  runs: number;
  /** Median aggregate payload throughput in MB/s (10^6 bytes per second). */
  mbPerSecond: number;
  /** Payload bytes moved over all runs. */
  bytesMoved: number;
  /** Every run of every connection matched its SHA-256. */
  exact: boolean;
  failed: number;
  errors: string[];
}

export interface ConcurrentResult {
  connections: number;
  bytesEachWay: number;
  totalMs: number;
  exact: number;
  failed: number;
  errors: string[];
}

export interface SuiteResult {
  download1: Throughput;
  upload1: Throughput;
  download8: Throughput;
  upload8: Throughput;
  echo: LatencySummary;
  connect: LatencySummary;
  concurrent: ConcurrentResult;
}

/** Total payload bytes the bulk part of a suite moves, for CPU-per-GB figures. */
export function bulkBytesMoved(result: SuiteResult): number {
  return [result.download1, result.upload1, result.download8, result.upload8].reduce(
    (sum, entry) => sum + entry.bytesMoved,
    0,
  );
}

/**
 * Returns the bytes per connection that fit the time budget, from one probe transfer.
 * A failed probe keeps the probe size, so the real run fails and reports the error.
 */
async function fitToBudget(
  connections: number,
  sizes: SuiteSizes,
  run: (bytes: number, seed: number) => Promise<TransferResult>,
): Promise<number> {
  let mbPerSecond: number;
  try {
    const probe = await run(sizes.probeBytes, 99);
    mbPerSecond = sizes.probeBytes / 1e6 / (probe.ms / 1000);
  } catch {
    return sizes.probeBytes;
  }
  const fitting = Math.floor((mbPerSecond * 1e6 * sizes.bulkBudgetSeconds) / connections);
  return Math.max(sizes.probeBytes, Math.min(sizes.bulkBytes, fitting));
}

async function repeatParallel(
  connections: number,
  sizes: SuiteSizes,
  transfer: (bytes: number, seed: number) => Promise<TransferResult>,
): Promise<Throughput> {
  let bytes = await fitToBudget(connections, sizes, transfer);
  const results: ParallelResult[] = [];
  for (let index = 0; index < sizes.repeats; index++) {
    const result = await parallel(connections, bytes, (seed) => transfer(bytes, seed));
    results.push(result);
    // Buffers in a tunnel can absorb a whole probe, so the probe may overstate the rate.
    // A run far over budget resizes the following runs from its own measured rate.
    if (result.failed === 0 && result.ms > sizes.bulkBudgetSeconds * 1500) {
      const fitting = (result.mbPerSecond * 1e6 * sizes.bulkBudgetSeconds) / connections;
      bytes = Math.max(sizes.probeBytes, Math.floor(fitting));
    }
  }
  const failed = results.reduce((sum, result) => sum + result.failed, 0);
  return {
    connections,
    bytesPerConnection: bytes,
    runs: sizes.repeats,
    bytesMoved: results.reduce(
      (sum, result) => sum + result.connections * result.bytesPerConnection,
      0,
    ),
    mbPerSecond: round3(median(results.map((result) => result.mbPerSecond))),
    exact: failed === 0,
    failed,
    errors: [...new Set(results.flatMap((result) => result.errors))],
  };
}

export type BulkResult = Pick<SuiteResult, 'download1' | 'upload1' | 'download8' | 'upload8'>;

/** Measures the bulk transfers only: one and eight connections, each direction. */
export async function runBulk(port: number, sizes: SuiteSizes): Promise<BulkResult> {
  const { timeoutMs } = sizes;
  const down = (bytes: number, seed: number) => download(port, bytes, seed, timeoutMs);
  const up = (bytes: number, seed: number) => upload(port, bytes, seed, timeoutMs);
  return {
    download1: await repeatParallel(1, sizes, down),
    upload1: await repeatParallel(1, sizes, up),
    download8: await repeatParallel(8, sizes, down),
    upload8: await repeatParallel(8, sizes, up),
  };
}

/** Measures latency, connection setup and concurrent connections. */
export async function runInteractive(port: number, sizes: SuiteSizes) {
  const echo = summarizeLatency(await echoLatency(port, sizes.echoRounds, sizes.timeoutMs));
  const connect = summarizeLatency(await connectLatency(port, sizes.connectCount, sizes.timeoutMs));
  const many = await parallel(sizes.concurrentConnections, sizes.concurrentBytes, (seed) =>
    exchange(port, sizes.concurrentBytes, seed, sizes.timeoutMs),
  );
  const concurrent: ConcurrentResult = {
    connections: many.connections,
    bytesEachWay: sizes.concurrentBytes,
    totalMs: round3(many.ms),
    exact: many.exact,
    failed: many.failed,
    errors: many.errors,
  };
  return {
    echo: { ...echo, p50Ms: round3(echo.p50Ms), p99Ms: round3(echo.p99Ms) },
    connect: { ...connect, p50Ms: round3(connect.p50Ms), p99Ms: round3(connect.p99Ms) },
    concurrent,
  };
}

export async function runSuite(port: number, sizes: SuiteSizes): Promise<SuiteResult> {
  const bulk = await runBulk(port, sizes);
  const interactive = await runInteractive(port, sizes);
  return { ...bulk, ...interactive };
}
