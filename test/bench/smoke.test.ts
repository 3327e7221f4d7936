// Runs `npm run bench:smoke` as CI would and checks that the JSON it writes has every
// metric, byte-exact transfers and the three generated files.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BenchResults } from '../../bench/results.js';
import type { SuiteResult, Throughput } from '../../bench/suite.js';

const BULK_KEYS = ['download1', 'upload1', 'download8', 'upload8'] as const;
const PATHS = ['direct', 'ssh', 'bastionlessPacingOff', 'bastionlessPacingOn'] as const;

function expectThroughput(entry: Throughput, label: string): void {
  expect(entry.mbPerSecond, `${label} MB/s`).toBeGreaterThan(0);
  expect(entry.bytesPerConnection, `${label} bytes`).toBeGreaterThan(0);
  expect(entry.errors, `${label} errors`).toEqual([]);
  expect(entry.exact, `${label} SHA-256`).toBe(true);
}

function expectSuite(suite: SuiteResult, label: string): void {
  for (const key of BULK_KEYS) {
    expectThroughput(suite[key], `${label} ${key}`);
  }
  for (const key of ['echo', 'connect'] as const) {
    expect(suite[key].samples, `${label} ${key} samples`).toBeGreaterThan(0);
    expect(suite[key].p50Ms, `${label} ${key} p50`).toBeGreaterThan(0);
    expect(suite[key].p99Ms, `${label} ${key} p99`).toBeGreaterThanOrEqual(suite[key].p50Ms);
  }
  expect(suite.concurrent.connections, `${label} concurrent`).toBe(200);
  expect(suite.concurrent.errors, `${label} concurrent errors`).toEqual([]);
  expect(suite.concurrent.exact, `${label} concurrent SHA-256`).toBe(200);
}

describe('npm run bench:smoke', () => {
  let outDir: string;
  let results: BenchResults;
  let stderr: string;

  beforeAll(() => {
    outDir = mkdtempSync(join(tmpdir(), 'bastionless-bench-test-'));
    const run = spawnSync('npm', ['run', '-s', 'bench:smoke', '--', '--out', outDir], {
      encoding: 'utf8',
      timeout: 110_000,
    });
    stderr = run.stderr;
    expect(run.status, `bench:smoke failed:\n${run.stderr}`).toBe(0);
    results = JSON.parse(readFileSync(join(outDir, 'benchmarks.json'), 'utf8')) as BenchResults;
  }, 120_000);

  afterAll(() => {
    rmSync(outDir, { recursive: true, force: true });
  });

  it('finishes within a minute', () => {
    expect(results.smoke).toBe(true);
    expect(results.durationSeconds, stderr).toBeLessThan(60);
  });

  it('writes the page and the chart', () => {
    const page = readFileSync(join(outDir, 'benchmarks.md'), 'utf8');
    expect(page).toContain('## Targets');
    expect(page).toContain(results.machine.cpuModel);
    expect(existsSync(join(outDir, 'benchmarks.svg'))).toBe(true);
    expect(readFileSync(join(outDir, 'benchmarks.svg'), 'utf8')).toMatch(/^<svg [^]*<\/svg>\n$/);
  });

  it('describes the machine', () => {
    expect(results.machine.cores).toBeGreaterThan(0);
    expect(results.machine.memoryGiB).toBeGreaterThan(0);
    expect(results.machine.node).toBe(process.version);
    expect(results.openssh.version).toMatch(/OpenSSH/);
  });

  it.each(PATHS)('has every byte-exact metric for %s', (path) => {
    expectSuite(results.paths[path], path);
  });

  it('has the emulator ceiling with and without pacing', () => {
    for (const ceiling of [results.emulator.pacingOff, results.emulator.pacingOn]) {
      for (const key of ['download1', 'download8', 'upload1'] as const) {
        expectThroughput(ceiling[key], `emulator pacing=${ceiling.pacing} ${key}`);
      }
    }
    expect(results.emulator.pacingOn.pacing).toBe(true);
    expect(results.emulator.pacingOff.pacing).toBe(false);
  });

  it('has session pools 1, 2 and 4', () => {
    expect(results.sessionPool.map((entry) => entry.sessionPool)).toEqual([1, 2, 4]);
    for (const entry of results.sessionPool) {
      expectThroughput(entry.download8, `sessionPool ${entry.sessionPool}`);
    }
  });

  it('has idle and load resource readings', () => {
    expect(results.resources.idle.tunnels).toBeGreaterThan(0);
    expect(results.resources.idle.rssMb).toBeGreaterThan(0);
    expect(results.resources.idle.cpuSecondsPerMinute).toBeGreaterThanOrEqual(0);
    expect(results.resources.load.bytesMoved).toBeGreaterThan(0);
    expect(results.resources.load.cpuSecondsPerGb).toBeGreaterThan(0);
    expect(results.resources.load.peakRssMb).toBeGreaterThan(0);
  });

  it('evaluates every target', () => {
    expect(results.targets.length).toBe(12);
    for (const entry of results.targets) {
      expect(typeof entry.met, entry.name).toBe('boolean');
      expect(entry.detail, entry.name).not.toBe('');
    }
  });
});
