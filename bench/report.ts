// Renders docs/benchmarks.md and the SVG chart from one run's results.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './child.js';
import type { BenchResults, EmulatorCeiling, TargetResult } from './results.js';
import { round3 } from './stats.js';
import type { SuiteResult, Throughput } from './suite.js';

const BULK_KEYS = ['download1', 'upload1', 'download8', 'upload8'] as const;
type BulkKey = (typeof BULK_KEYS)[number];

const BULK_LABELS: Record<BulkKey, string> = {
  download1: 'download, 1 connection',
  upload1: 'upload, 1 connection',
  download8: 'download, 8 connections',
  upload8: 'upload, 8 connections',
};

function ratio(a: number, b: number): string {
  return Number.isFinite(a / b) ? `${round3(a / b)}x` : 'n/a';
}

function throughputCell(entry: Throughput | undefined): string {
  if (!entry) {
    return 'n/a';
  }
  const size = `${round3(entry.bytesPerConnection / 1e6)} MB`;
  return `${entry.mbPerSecond} MB/s (${size}${entry.exact ? '' : `, ${entry.failed} FAILED`})`;
}

function ceilingEntry(ceiling: EmulatorCeiling, key: BulkKey): Throughput | undefined {
  return key === 'upload8' ? undefined : ceiling[key];
}

function pacingOffTable(results: BenchResults): string[] {
  const { direct, ssh, bastionlessPacingOff: ours } = results.paths;
  const rows = [
    '| metric | direct TCP | ssh -L | emulator alone | bastionless | vs ssh -L | vs direct |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const key of BULK_KEYS) {
    rows.push(
      `| ${BULK_LABELS[key]} | ${throughputCell(direct[key])} | ${throughputCell(ssh[key])} | ` +
        `${throughputCell(ceilingEntry(results.emulator.pacingOff, key))} | ` +
        `${throughputCell(ours[key])} | ${ratio(ours[key].mbPerSecond, ssh[key].mbPerSecond)} | ` +
        `${ratio(ours[key].mbPerSecond, direct[key].mbPerSecond)} |`,
    );
  }
  rows.push(...latencyRows(direct, ssh, ours));
  return rows;
}

function latencyRows(direct: SuiteResult, ssh: SuiteResult, ours: SuiteResult): string[] {
  const rows: string[] = [];
  for (const [label, key] of [
    ['1-byte echo', 'echo'],
    ['connect to first echoed byte', 'connect'],
  ] as const) {
    for (const quantile of ['p50Ms', 'p99Ms'] as const) {
      rows.push(
        `| ${label} ${quantile.slice(0, 3)} (ms, ${ours[key].samples} samples) | ` +
          `${direct[key][quantile]} | ${ssh[key][quantile]} | n/a | ${ours[key][quantile]} | ` +
          `${ratio(ours[key][quantile], ssh[key][quantile])} | ` +
          `${ratio(ours[key][quantile], direct[key][quantile])} |`,
      );
    }
  }
  const concurrent = (suite: SuiteResult) =>
    `${suite.concurrent.totalMs} ms, ${suite.concurrent.failed} failed`;
  rows.push(
    `| ${ours.concurrent.connections} connections × ${ours.concurrent.bytesEachWay / 1e6} MB ` +
      `each way | ${concurrent(direct)} | ${concurrent(ssh)} | n/a | ${concurrent(ours)} | ` +
      `${ratio(ours.concurrent.totalMs, ssh.concurrent.totalMs)} | ` +
      `${ratio(ours.concurrent.totalMs, direct.concurrent.totalMs)} |`,
  );
  return rows;
}

function pacingOnTable(results: BenchResults): string[] {
  const ours = results.paths.bastionlessPacingOn;
  const ceiling = results.emulator.pacingOn;
  const rows = [
    '| metric | emulator alone | bastionless | bastionless / emulator alone |',
    '| --- | --- | --- | --- |',
  ];
  for (const key of BULK_KEYS) {
    const alone = ceilingEntry(ceiling, key);
    rows.push(
      `| ${BULK_LABELS[key]} | ${throughputCell(alone)} | ${throughputCell(ours[key])} | ` +
        `${alone ? ratio(ours[key].mbPerSecond, alone.mbPerSecond) : 'n/a'} |`,
    );
  }
  rows.push(
    `| 1-byte echo p50 / p99 (ms) | n/a | ${ours.echo.p50Ms} / ${ours.echo.p99Ms} | n/a |`,
    `| connect to first echoed byte p50 / p99 (ms) | n/a | ${ours.connect.p50Ms} / ` +
      `${ours.connect.p99Ms} | n/a |`,
    `| ${ours.concurrent.connections} connections × ${ours.concurrent.bytesEachWay} bytes each ` +
      `way | n/a | ${ours.concurrent.totalMs} ms, ${ours.concurrent.failed} failed | n/a |`,
  );
  return rows;
}

function targetRows(targets: TargetResult[]): string[] {
  return [
    '| target | measured | required | status | how measured |',
    '| --- | --- | --- | --- | --- |',
    ...targets.map(
      (entry) =>
        `| ${entry.name} | ${entry.value} | ${entry.comparison} ${entry.threshold} | ` +
        `${entry.met ? 'met' : '**missed**'} | ${entry.detail} |`,
    ),
  ];
}

function profileSection(results: BenchResults): string[] {
  if (!results.profile) {
    return ['No CPU profile was taken in this run (the smoke run skips it).'];
  }
  return [
    `Workload: ${results.profile.workload}; ${results.profile.sampledSeconds} s sampled by ` +
      '`node --cpu-prof` in the tunnel process. Self time per function:',
    '',
    '| function | location | self time |',
    '| --- | --- | --- |',
    ...results.profile.hotSpots.map(
      (spot) => `| \`${spot.functionName}\` | ${spot.location} | ${spot.selfPercent}% |`,
    ),
  ];
}

function sizesSection(results: BenchResults): string[] {
  const { pacingOff, pacingOn } = results.sizes;
  return [
    `- Pacing off: bulk transfers of up to ${pacingOff.bulkBytes / 1e6} MB per connection, ` +
      `cut to what the path moves in ${pacingOff.bulkBudgetSeconds} s (a ` +
      `${pacingOff.probeBytes / 1e6} MB probe sets the size; the tables give the size used), ` +
      `median of ${pacingOff.repeats} runs; ${pacingOff.echoRounds} echoes; ` +
      `${pacingOff.connectCount} connections for setup time.`,
    `- Pacing on: bulk transfers of up to ${pacingOn.bulkBytes / 1e6} MB per connection ` +
      `(${pacingOn.bulkBudgetSeconds} s budget), ${pacingOn.repeats} run; ` +
      `${pacingOn.echoRounds} echoes; ${pacingOn.connectCount} connections; ` +
      `${pacingOn.concurrentConnections} concurrent connections of ${pacingOn.concurrentBytes} ` +
      'bytes each way, because one paced session carries about 1 MB/s.',
    `- Session pools: eight connections of ${results.sizes.poolBytesPerConnection / 1e6} MB ` +
      'each, pacing on.',
    '- Throughput is payload bytes per second (MB = 10^6 bytes); every transfer is checked ' +
      'with SHA-256 and a mismatch counts as a failure.',
  ];
}

export function renderMarkdown(results: BenchResults): string {
  const { machine, resources } = results;
  const analysisPath = join(REPO_ROOT, 'bench', 'analysis.md');
  const analysis = existsSync(analysisPath) ? readFileSync(analysisPath, 'utf8').trim() : '';
  const lines = [
    '# Benchmarks',
    '',
    'Generated by `npm run bench` (bench/run.ts); do not edit by hand. Raw numbers: ' +
      '[benchmarks.json](benchmarks.json).',
    '',
    `Run on ${results.date}${results.smoke ? ' (smoke sizes)' : ''}, ` +
      `${results.durationSeconds} s in total.`,
    '',
    '## Machine',
    '',
    `- CPU: ${machine.cpuModel}, ${machine.cores} logical cores (shared with other work)`,
    `- Memory: ${machine.memoryGiB} GiB`,
    `- Node ${machine.node} on ${machine.os}`,
    `- Load average at the end of the run (1, 5, 15 min): ` +
      `${machine.loadAverage?.join(', ') ?? 'not recorded'}; with ${machine.cores} cores, a ` +
      'higher load means other programs shared the CPU',
    `- ${results.openssh.version}, cipher ${results.openssh.cipher}`,
    '',
    '## Method',
    '',
    'Every path ends at the same target server (bench/target-server.ts) on 127.0.0.1:',
    '',
    '- direct TCP: the physical limit of this machine;',
    '- `ssh -L` through a private sshd on 127.0.0.1 with throwaway keys;',
    '- emulator alone: a minimal data-channel client (bench/emulator-client.ts) that acks at ' +
      'once and sends 32 KiB upload messages, which shows what the emulator itself can carry;',
    `- bastionless: ${results.tunnelHost}.`,
    '',
    'The emulator runs in its own process, with the agent pacing of 1 ms after each 1 KiB ' +
      'message on (as the real agent does) or off (to find the client ceiling).',
    '',
    ...sizesSection(results),
    '',
    '![Throughput with pacing off, log scale](benchmarks.svg)',
    '',
    '## Pacing off',
    '',
    ...pacingOffTable(results),
    '',
    '## Pacing on',
    '',
    ...pacingOnTable(results),
    '',
    '## Session pool (pacing on, eight downloads)',
    '',
    '| sessionPool | aggregate download | vs pool 1 |',
    '| --- | --- | --- |',
    ...results.sessionPool.map(
      (entry) =>
        `| ${entry.sessionPool} | ${throughputCell(entry.download8)} | ` +
        `${ratio(entry.download8.mbPerSecond, results.sessionPool[0]!.download8.mbPerSecond)} |`,
    ),
    '',
    '## Resources of the tunnel process',
    '',
    '| reading | value |',
    '| --- | --- |',
    `| idle with ${resources.idle.tunnels} tunnels, one open session each: RSS | ` +
      `${resources.idle.rssMb} MB |`,
    `| idle: CPU | ${resources.idle.cpuSecondsPerMinute} s per minute |`,
    `| idle Node process started the same way, for comparison: RSS | ${resources.idle.bareNodeRssMb} MB |`,
    `| pacing-off bulk transfers: CPU per GB moved | ${resources.load.cpuSecondsPerGb} s ` +
      `(${resources.load.cpuSeconds} s for ${round3(resources.load.bytesMoved / 1e9)} GB) |`,
    `| peak RSS after pacing-off bulk transfers | ${resources.load.peakRssMb} MB |`,
    '',
    'CPU and memory come from /proc/PID/stat and /proc/PID/status (VmRSS, VmHWM) of the ' +
      'tunnel process.',
    '',
    '## Targets',
    '',
    ...targetRows(results.targets),
    '',
    '## CPU profile',
    '',
    ...profileSection(results),
    '',
  ];
  if (analysis) {
    lines.push(analysis, '');
  }
  return lines.join('\n');
}
