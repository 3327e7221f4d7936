// Performance targets and whether a run meets each of them.

import type { BenchResults, TargetResult } from './results.js';
import { round3 } from './stats.js';

/** The official client's upload pace: 1024 bytes per message and a 1 ms sleep, in MB/s. */
export const OFFICIAL_UPLOAD_MB_PER_SECOND = 1.024;

function target(
  name: string,
  value: number,
  comparison: TargetResult['comparison'],
  threshold: number,
  detail: string,
): TargetResult {
  const met =
    Number.isFinite(value) &&
    (comparison === '>='
      ? value >= threshold
      : comparison === '<='
        ? value <= threshold
        : comparison === '<'
          ? value < threshold
          : value === threshold);
  return { name, value: round3(value), comparison, threshold, met, detail };
}

type TargetInput = Omit<BenchResults, 'targets'>;

function pacingOnTargets(results: TargetInput): TargetResult[] {
  const paced = results.paths.bastionlessPacingOn;
  const cap = results.emulator.pacingOn.download1.mbPerSecond;
  const pool1 = results.sessionPool.find((entry) => entry.sessionPool === 1);
  const pool4 = results.sessionPool.find((entry) => entry.sessionPool === 4);
  return [
    target(
      'pacing on: download vs agent per-session cap',
      paced.download1.mbPerSecond / cap,
      '>=',
      0.95,
      `ratio of one-connection download (${paced.download1.mbPerSecond} MB/s) to the raw ` +
        `client's download from the paced emulator (${cap} MB/s)`,
    ),
    target(
      'pacing on: upload vs official client pace',
      paced.upload1.mbPerSecond / OFFICIAL_UPLOAD_MB_PER_SECOND,
      '>=',
      10,
      `one-connection upload (${paced.upload1.mbPerSecond} MB/s) over 1 KiB/ms ` +
        `(${OFFICIAL_UPLOAD_MB_PER_SECOND} MB/s)`,
    ),
    target(
      'pacing on: sessionPool 4 vs 1, eight downloads',
      (pool4?.download8.mbPerSecond ?? Number.NaN) / (pool1?.download8.mbPerSecond ?? Number.NaN),
      '>=',
      3.5,
      `aggregate download of eight connections, pool 4 (${pool4?.download8.mbPerSecond} MB/s) ` +
        `over pool 1 (${pool1?.download8.mbPerSecond} MB/s)`,
    ),
  ];
}

function pacingOffTargets(results: TargetInput): TargetResult[] {
  const { direct, ssh, bastionlessPacingOff: ours } = results.paths;
  const throughput = (['download1', 'upload1', 'download8', 'upload8'] as const).map((key) =>
    target(
      `pacing off: ${key} vs ssh -L`,
      ours[key].mbPerSecond / ssh[key].mbPerSecond,
      '>=',
      0.5,
      `${ours[key].mbPerSecond} MB/s against ${ssh[key].mbPerSecond} MB/s`,
    ),
  );
  const ourAdded = ours.echo.p50Ms - direct.echo.p50Ms;
  const sshAdded = ssh.echo.p50Ms - direct.echo.p50Ms;
  return [
    ...throughput,
    target(
      'pacing off: added p50 latency vs ssh -L',
      ourAdded / sshAdded,
      '<=',
      2,
      `bastionless adds ${round3(ourAdded)} ms to the direct p50 of ${direct.echo.p50Ms} ms; ` +
        `ssh -L adds ${round3(sshAdded)} ms`,
    ),
  ];
}

function generalTargets(results: TargetInput): TargetResult[] {
  const { bastionlessPacingOff: off, bastionlessPacingOn: on } = results.paths;
  return [
    target(
      'warm connection setup p50, pacing off (ms)',
      off.connect.p50Ms,
      '<',
      5,
      `connect to first echoed byte over ${off.connect.samples} connections`,
    ),
    target(
      'warm connection setup p50, pacing on (ms)',
      on.connect.p50Ms,
      '<',
      5,
      `connect to first echoed byte over ${on.connect.samples} connections`,
    ),
    target(
      `${off.concurrent.connections} concurrent connections: failures`,
      off.concurrent.failed,
      '==',
      0,
      `${off.concurrent.bytesEachWay} bytes each way, pacing off, ` +
        `${off.concurrent.exact} byte-exact in ${off.concurrent.totalMs} ms`,
    ),
    target(
      `idle with ${results.resources.idle.tunnels} tunnels: RSS (MB)`,
      results.resources.idle.rssMb,
      '<',
      80,
      `one open session per tunnel; an idle Node process started the same way uses ` +
        `${results.resources.idle.bareNodeRssMb} MB`,
    ),
  ];
}

export function evaluateTargets(results: TargetInput): TargetResult[] {
  return [...pacingOnTargets(results), ...pacingOffTargets(results), ...generalTargets(results)];
}
