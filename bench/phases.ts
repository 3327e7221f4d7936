// Bench phases that need helper processes: the emulator ceiling, bastionless through the
// tunnel host, the session-pool comparison and the resource readings.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  compileScript,
  readJsonLine,
  REPO_ROOT,
  spawnNode,
  spawnTsx,
  type Child,
} from './child.js';
import { emulatorDownload, emulatorUpload, type RawTransfer } from './emulator-client.js';
import { sampleProcess } from './proc-stats.js';
import { findProfile, summarizeProfile } from './profile.js';
import type {
  EmulatorCeiling,
  IdleResources,
  LoadResources,
  PoolResult,
  ProfileResult,
} from './results.js';
import { round3 } from './stats.js';
import { bulkBytesMoved, runBulk, runSuite, type SuiteResult, type SuiteSizes } from './suite.js';
import type { TunnelHostConfig } from './tunnel-host.js';
import { startDaemonHost } from './daemon-host.js';
import type { SpawnOptions } from 'node:child_process';
import { download, parallel } from './workloads.js';

/** Instance id the emulator accepts in its default scenario, where any id is online. */
const TARGET = 'i-0123456789abcdef0';
const START_TIMEOUT_MS = 30_000;

export interface EmulatorProcess {
  child: Child;
  url: string;
}

export async function startEmulatorProcess(pacing: boolean): Promise<EmulatorProcess> {
  const child = spawnTsx('bench/emulator-host.ts', [pacing ? 'pacing' : 'no-pacing']);
  try {
    const { url } = await readJsonLine<{ url: string }>(child, START_TIMEOUT_MS);
    return { child, url };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

export interface TunnelStartOptions {
  tunnels: number;
  sessionPool: number;
  nodeArgs?: string[];
}

/** A running tunnel process with one local port per tunnel. */
export interface TunnelProcess {
  child: Child;
  ports: number[];
  stop(): Promise<void>;
}

export type TunnelStarter = (
  emulatorUrl: string,
  targetPort: number,
  options: TunnelStartOptions,
) => Promise<TunnelProcess>;

export type TunnelHostKind = 'daemon' | 'sessions';

/**
 * Returns a starter of the real daemon (`daemon`) or of bench/tunnel-host.ts, which runs
 * bare sessions without the tunnel manager (`sessions`). Compiled programs run without
 * the tsx loader, whose tens of MB would otherwise count in every memory reading.
 */
export function tunnelStarter(kind: TunnelHostKind, compiled: boolean): TunnelStarter {
  const script = kind === 'daemon' ? 'daemon/cli/main.ts' : 'bench/tunnel-host.ts';
  const entry = compiled ? compileScript(script).entry : undefined;
  const launch = (args: string[], options: SpawnOptions, nodeArgs?: string[]): Child =>
    entry ? spawnNode(entry, args, options, nodeArgs) : spawnTsx(script, args, options, nodeArgs);
  if (kind === 'daemon') {
    return (emulatorUrl, targetPort, options) =>
      startDaemonHost(
        {
          ssmEndpoint: emulatorUrl,
          target: TARGET,
          remotePort: targetPort,
          tunnels: options.tunnels,
          sessionPool: options.sessionPool,
          timeoutMs: START_TIMEOUT_MS * 2,
        },
        // The daemon logs to stdout in the foreground; nothing reads it here.
        (env, nodeArgs) =>
          launch(['daemon'], { env, stdio: ['ignore', 'ignore', 'pipe'] }, [
            ...(nodeArgs ?? []),
            ...(options.nodeArgs ?? []),
          ]),
      );
  }
  return async (emulatorUrl, targetPort, options) => {
    const config: TunnelHostConfig = {
      ssmEndpoint: emulatorUrl,
      target: TARGET,
      remotePort: targetPort,
      tunnels: options.tunnels,
      sessionPool: options.sessionPool,
    };
    const child = launch([JSON.stringify(config)], {}, options.nodeArgs);
    try {
      const { ports } = await readJsonLine<{ ports: number[] }>(child, START_TIMEOUT_MS);
      return { child, ports, stop: () => child.stop() };
    } catch (error) {
      await child.stop();
      throw error;
    }
  };
}

/** Everything a phase needs: the emulator, the target server and how to start tunnels. */
export interface PhaseContext {
  emulator: EmulatorProcess;
  targetPort: number;
  startTunnels: TunnelStarter;
  /** Whether the tunnel process runs compiled; the bare comparison process matches it. */
  compiled: boolean;
}

function startTunnelHost(
  context: PhaseContext,
  options: TunnelStartOptions,
): Promise<TunnelProcess> {
  return context.startTunnels(context.emulator.url, context.targetPort, options);
}

function ceilingEntry(connections: number, runs: RawTransfer[]) {
  const transfer = runs[0]!;
  return {
    connections,
    bytesPerConnection: transfer.bytes / connections,
    runs: runs.length,
    bytesMoved: runs.reduce((sum, run) => sum + run.bytes, 0),
    mbPerSecond: round3(transfer.bytes / 1e6 / (transfer.ms / 1000)),
    exact: runs.every((run) => run.exact && run.sequenceGaps === 0),
    failed: runs.filter((run) => !run.exact).length,
    errors: runs.some((run) => run.sequenceGaps > 0) ? ['sequence gap from the emulator'] : [],
  };
}

export interface CeilingSizes {
  downloadBytes: number;
  download8BytesPerConnection: number;
  uploadBytes: number;
  timeoutMs: number;
}

/** Measures the emulator with the raw client: what any client could get from it. */
export async function measureEmulatorCeiling(
  context: PhaseContext,
  pacing: boolean,
  sizes: CeilingSizes,
): Promise<EmulatorCeiling> {
  const { targetPort } = context;
  const endpoint = { ssmEndpoint: context.emulator.url, target: TARGET };
  const down1 = await emulatorDownload(
    endpoint,
    targetPort,
    sizes.downloadBytes,
    1,
    sizes.timeoutMs,
  );
  const down8 = await emulatorDownload(
    endpoint,
    targetPort,
    sizes.download8BytesPerConnection,
    8,
    sizes.timeoutMs,
  );
  const up1 = await emulatorUpload(endpoint, targetPort, sizes.uploadBytes, sizes.timeoutMs);
  return {
    pacing,
    download1: ceilingEntry(1, [down1]),
    download8: ceilingEntry(8, [down8]),
    upload1: ceilingEntry(1, [up1]),
    duplicates: down1.duplicates + down8.duplicates + up1.duplicates,
  };
}

export interface BastionlessRun {
  suite: SuiteResult;
  /** CPU and peak memory of the tunnel process over the bulk part of the suite. */
  load: LoadResources;
}

/** Runs the whole suite through a one-session tunnel host and samples it around bulk. */
export async function measureBastionless(
  context: PhaseContext,
  sizes: SuiteSizes,
): Promise<BastionlessRun> {
  const host = await startTunnelHost(context, { tunnels: 1, sessionPool: 1 });
  try {
    const before = sampleProcess(host.child.pid);
    const suite = await runSuite(host.ports[0]!, sizes);
    const after = sampleProcess(host.child.pid);
    const bytesMoved = bulkBytesMoved(suite);
    const cpuSeconds = after.cpuSeconds - before.cpuSeconds;
    return {
      suite,
      load: {
        bytesMoved,
        cpuSeconds: round3(cpuSeconds),
        cpuSecondsPerGb: round3(cpuSeconds / (bytesMoved / 1e9)),
        peakRssMb: round3(after.peakRssBytes / 1e6),
      },
    };
  } finally {
    await host.stop();
  }
}

/** Downloads on eight connections through tunnels with 1, 2 and 4 sessions. */
export async function measureSessionPools(
  context: PhaseContext,
  bytesPerConnection: number,
  timeoutMs: number,
): Promise<PoolResult[]> {
  const results: PoolResult[] = [];
  for (const sessionPool of [1, 2, 4]) {
    const host = await startTunnelHost(context, { tunnels: 1, sessionPool });
    try {
      const port = host.ports[0]!;
      const run = await parallel(8, bytesPerConnection, (seed) =>
        download(port, bytesPerConnection, seed, timeoutMs),
      );
      results.push({
        sessionPool,
        download8: {
          connections: 8,
          bytesPerConnection,
          runs: 1,
          bytesMoved: 8 * bytesPerConnection,
          mbPerSecond: round3(run.mbPerSecond),
          exact: run.failed === 0,
          failed: run.failed,
          errors: run.errors,
        },
      });
    } finally {
      await host.stop();
    }
  }
  return results;
}

/** Reads memory and CPU of a tunnel host with `tunnels` open, idle tunnels. */
export async function measureIdle(
  context: PhaseContext,
  tunnels: number,
  idleSeconds: number,
): Promise<IdleResources> {
  const idleLoop = ['setInterval(() => {}, 1000)'];
  const bare = context.compiled ? spawnNode('-e', idleLoop) : spawnTsx('-e', idleLoop);
  const host = await startTunnelHost(context, { tunnels, sessionPool: 1 });
  try {
    // Let start-up garbage be collected before the idle window.
    await sleep(2000);
    const before = sampleProcess(host.child.pid);
    await sleep(idleSeconds * 1000);
    const after = sampleProcess(host.child.pid);
    const bareSample = sampleProcess(bare.pid);
    return {
      tunnels,
      rssMb: round3(after.rssBytes / 1e6),
      cpuSecondsPerMinute: round3(((after.cpuSeconds - before.cpuSeconds) * 60) / idleSeconds),
      bareNodeRssMb: round3(bareSample.rssBytes / 1e6),
    };
  } finally {
    await host.stop();
    await bare.stop();
  }
}

/** Profiles the tunnel host over a pacing-off bulk run with `node --cpu-prof`. */
export async function profileBulk(
  context: PhaseContext,
  sizes: SuiteSizes,
): Promise<ProfileResult | null> {
  const dir = mkdtempSync(join(tmpdir(), 'bastionless-bench-prof-'));
  try {
    const host = await startTunnelHost(context, {
      tunnels: 1,
      sessionPool: 1,
      nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir],
    });
    try {
      await runBulk(host.ports[0]!, { ...sizes, repeats: 1 });
    } finally {
      await host.stop();
    }
    const path = findProfile(dir);
    if (path === undefined) {
      return null;
    }
    return {
      workload: 'one tunnel, pacing off: download and upload on 1 and 8 connections',
      ...summarizeProfile(path, REPO_ROOT, 15),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
