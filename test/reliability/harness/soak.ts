// Fault-injection soak: 20 connections of echo round trips and bulk transfers through one
// daemon tunnel (daemon in a child process) while the emulator closes websockets, rejects
// resumes, drops, duplicates and reorders frames and acks, and pauses publication.
// Shared by test/reliability/soak.test.ts (2 minutes) and scripts/soak.ts (30 minutes).

import type { TunnelStatus } from '../../../daemon/config/types.js';
import { startEmulator, type Emulator, type Faults } from '../../emulator/index.js';
import { createRandom } from '../../emulator/faults.js';
import {
  createTestHome,
  readRssBytes,
  reliabilityScenario,
  startDaemonProcess,
  waitFor,
  writeConfig,
  type DaemonProcess,
} from './daemon-process.js';
import { runBulk, runEcho, type ConnectionResult } from './workload.js';
import { WorkloadServer } from './workload-server.js';
import { freePort } from '../../cli/helpers.js';

export interface SoakOptions {
  durationMs: number;
  /** Parallel connection slots; half run echo round trips, half bulk transfers. */
  connections?: number;
  /** RSS samples before this point are warm-up and do not count for growth. */
  warmupMs?: number;
  /** Each open websocket is closed after a delay drawn from this range, in milliseconds. */
  closeEveryMs?: [number, number];
  /** Share of websocket closes followed by ResumeSession rejections for `resumeRejectionMs`. */
  resumeRejectionShare?: number;
  resumeRejectionMs?: number;
  /** A pause_publication burst starts after a delay drawn from this range, in milliseconds. */
  pauseEveryMs?: [number, number];
  bulkBytes?: [number, number];
  seed?: number;
  /** Per-frame faults; default FRAME_FAULTS. */
  frameFaults?: Faults;
  progressEveryMs?: number;
  /** Called with progress lines; the vitest version passes nothing. */
  log?: (line: string) => void;
}

export interface RssFigures {
  samples: number;
  warmupBytes: number;
  baselineBytes: number;
  finalBytes: number;
  maxBytes: number;
  /** (final - baseline) / baseline, where both are means over 10 s windows. */
  growth: number;
}

export interface SoakFigures {
  durationMs: number;
  connections: { total: number; ok: number; failed: number; mismatched: number };
  failures: string[];
  bytesUp: number;
  bytesDown: number;
  echoRoundTrips: number;
  bulkTransfers: number;
  faults: {
    websocketCloses: number;
    resumeRejectionWindows: number;
    resumeCallsRejected: number;
    pauseBursts: number;
    frameFaults: Faults;
  };
  sessionsStarted: number;
  websocketOpens: number;
  tunnelReconnects: number;
  tunnelState: string;
  rss: RssFigures;
}

/**
 * Per-frame faults applied to every session during the whole soak. The agent retransmits
 * only its oldest unacknowledged message, one per 100 ms tick, so every agent frame lost on
 * the way to the client and every ack lost on the way to the agent costs it at least one
 * tick. Above roughly 10 such losses per second its backlog grows without bound and every
 * stream stalls. Drops and acks lost toward the agent stay rare for that reason; the
 * client resends every expired message, so acks lost toward it may be frequent.
 */
export const FRAME_FAULTS: Readonly<Faults> = Object.freeze({
  dropProbability: 0.0005,
  duplicateProbability: 0.01,
  reorderProbability: 0.02,
  reorderWindow: 4,
  dropAcksToClientProbability: 0.02,
  dropAcksToAgentProbability: 0.0005,
});

const RSS_WINDOW_MS = 10_000;

/** Drives the timed faults: websocket closes, ResumeSession rejections and pause bursts. */
class FaultDriver {
  readonly counts = { websocketCloses: 0, resumeRejectionWindows: 0, pauseBursts: 0 };
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly rejectResumeUntil = new Map<string, number>();
  private readonly random: () => number;
  private seed: number;
  private stopped = false;
  private closeRounds = 0;

  constructor(
    private readonly emulator: Emulator,
    private readonly options: Required<Omit<SoakOptions, 'log'>> & Pick<SoakOptions, 'log'>,
  ) {
    this.random = createRandom(options.seed);
    this.seed = options.seed;
  }

  start(): void {
    this.scheduleClose();
    this.schedulePause();
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) {
      clearTimeout(timer);
    }
    this.timers.clear();
    for (const session of this.openSessions()) {
      this.emulator.setFaults(session, {});
    }
  }

  private between([low, high]: [number, number]): number {
    return low + this.random() * (high - low);
  }

  private after(delayMs: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopped) {
        run();
      }
    }, delayMs);
    this.timers.add(timer);
  }

  private openSessions(): string[] {
    return this.emulator.sessions
      .filter((session) => session.state === 'connected')
      .map((session) => session.sessionId);
  }

  /** Faults for one session: the frame faults plus what is left of a ResumeSession rejection. */
  private faultsFor(sessionId: string, extra: Faults = {}): Faults {
    this.seed += 1;
    const faults: Faults = { ...this.options.frameFaults, seed: this.seed, ...extra };
    const until = this.rejectResumeUntil.get(sessionId) ?? 0;
    if (until > Date.now()) {
      faults.rejectResume = { errorType: 'ThrottlingException', forMs: until - Date.now() };
    }
    return faults;
  }

  private scheduleClose(): void {
    this.after(this.between(this.options.closeEveryMs), () => {
      const closeIndex = this.closeRounds++;
      for (const sessionId of this.openSessions()) {
        // The first close always rejects ResumeSession, so even a short run covers the rejection.
        if (closeIndex === 0 || this.random() < this.options.resumeRejectionShare) {
          this.rejectResumeUntil.set(sessionId, Date.now() + this.options.resumeRejectionMs);
          this.counts.resumeRejectionWindows += 1;
        }
        this.emulator.setFaults(sessionId, this.faultsFor(sessionId));
        if (this.emulator.closeWebsocket(sessionId)) {
          this.counts.websocketCloses += 1;
          this.options.log?.(`closed the websocket of ${sessionId}`);
        }
      }
      this.scheduleClose();
    });
  }

  /** A burst is three pause_publication messages one second apart, each paused 300-1500 ms. */
  private schedulePause(): void {
    this.after(this.between(this.options.pauseEveryMs), () => {
      this.counts.pauseBursts += 1;
      for (let i = 0; i < 3; i++) {
        this.after(i * 1000, () => {
          for (const sessionId of this.openSessions()) {
            const durationMs = Math.round(this.between([300, 1500]));
            this.emulator.setFaults(
              sessionId,
              this.faultsFor(sessionId, { pausePublication: { afterMs: 0, durationMs } }),
            );
          }
        });
      }
      this.schedulePause();
    });
  }
}

function summarizeRss(
  samples: Array<{ atMs: number; bytes: number }>,
  warmupMs: number,
): RssFigures {
  const mean = (values: number[]) =>
    values.length === 0 ? 0 : values.reduce((sum, value) => sum + value, 0) / values.length;
  const end = samples.at(-1)?.atMs ?? 0;
  const warm = samples.filter((sample) => sample.atMs < warmupMs).map((sample) => sample.bytes);
  const baseline = samples
    .filter((sample) => sample.atMs >= warmupMs && sample.atMs < warmupMs + RSS_WINDOW_MS)
    .map((sample) => sample.bytes);
  const final = samples.filter((sample) => sample.atMs > end - RSS_WINDOW_MS).map((s) => s.bytes);
  const baselineBytes = mean(baseline);
  const finalBytes = mean(final);
  return {
    samples: samples.length,
    warmupBytes: Math.max(0, ...warm),
    baselineBytes,
    finalBytes,
    maxBytes: Math.max(0, ...samples.map((sample) => sample.bytes)),
    growth: baselineBytes > 0 ? (finalBytes - baselineBytes) / baselineBytes : Number.NaN,
  };
}

async function tunnelStatus(daemon: DaemonProcess): Promise<TunnelStatus | undefined> {
  const { status, body } = await daemon.request<TunnelStatus[]>('/v1/tunnels');
  return status === 200 ? body[0] : undefined;
}

export async function runSoak(input: SoakOptions): Promise<SoakFigures> {
  const options = {
    connections: 20,
    warmupMs: Math.min(30_000, input.durationMs / 4),
    closeEveryMs: [30_000, 60_000] as [number, number],
    resumeRejectionShare: 0.3,
    resumeRejectionMs: 20_000,
    pauseEveryMs: [15_000, 30_000] as [number, number],
    bulkBytes: [256 * 1024, 2 * 1024 * 1024] as [number, number],
    seed: 20_260_101,
    frameFaults: FRAME_FAULTS,
    progressEveryMs: 30_000,
    ...input,
  };
  const log = options.log ?? (() => undefined);
  const emulator = await startEmulator({ pacing: false, scenario: reliabilityScenario() });
  const server = new WorkloadServer();
  await server.listen();
  const home = createTestHome('soak');
  const localPort = await freePort();
  writeConfig(home, [
    { name: 'soak', localPort, remotePort: server.port, emulatorUrl: emulator.url },
  ]);
  emulator.setDefaultFaults({ ...options.frameFaults, seed: options.seed });
  const daemon = startDaemonProcess(home);
  const drivers: FaultDriver[] = [];
  const rssSamples: Array<{ atMs: number; bytes: number }> = [];
  let rssTimer: NodeJS.Timeout | undefined;
  try {
    await waitFor(
      'the soak tunnel to open',
      async () => {
        const status = await tunnelStatus(daemon);
        return status?.state === 'open' ? status : undefined;
      },
      45_000,
    );
    log(`tunnel open on 127.0.0.1:${localPort}, daemon pid ${daemon.pid}`);

    const started = Date.now();
    const deadline = started + options.durationMs;
    rssTimer = setInterval(() => {
      const bytes = readRssBytes(daemon.pid);
      if (bytes !== null) {
        rssSamples.push({ atMs: Date.now() - started, bytes });
      }
    }, 1000);
    const driver = new FaultDriver(emulator, options);
    drivers.push(driver);
    driver.start();

    const results: ConnectionResult[] = [];
    let nextId = 1;
    const slot = async (index: number): Promise<void> => {
      const random = createRandom(options.seed + index);
      while (Date.now() < deadline) {
        const connectionId = nextId++;
        const result =
          index % 2 === 0
            ? await runEcho({
                port: localPort,
                connectionId,
                roundTrips: 40,
                maxRequestBytes: 16 * 1024,
                readTimeoutMs: 90_000,
              })
            : await runBulk({
                port: localPort,
                connectionId,
                uploadBytes: Math.round(
                  options.bulkBytes[0] + random() * (options.bulkBytes[1] - options.bulkBytes[0]),
                ),
                downloadBytes: Math.round(
                  options.bulkBytes[0] + random() * (options.bulkBytes[1] - options.bulkBytes[0]),
                ),
                readTimeoutMs: 90_000,
              });
        results.push(result);
        if (!result.ok) {
          log(
            `connection ${connectionId} (${result.kind}) failed: ${result.error ?? result.mismatch}`,
          );
        }
      }
    };
    const progress = setInterval(() => {
      const moved = results.reduce((sum, r) => sum + r.bytesUp + r.bytesDown, 0);
      const rss = rssSamples.at(-1)?.bytes ?? 0;
      const agentUnacked = emulator.sessions
        .map((session) => emulator.session(session.sessionId)?.agentReliability?.unackedCount ?? 0)
        .reduce((sum, count) => sum + count, 0);
      log(
        `${Math.round((Date.now() - started) / 1000)} s: ${results.length} connections, ` +
          `${(moved / 1048576).toFixed(1)} MiB moved, daemon RSS ${(rss / 1048576).toFixed(1)} MiB, ` +
          `agent unacked messages ${agentUnacked}`,
      );
    }, options.progressEveryMs);
    await Promise.all(Array.from({ length: options.connections }, (_, index) => slot(index)));
    clearInterval(progress);
    driver.stop();
    clearInterval(rssTimer);

    const status = await tunnelStatus(daemon);
    const failed = results.filter((r) => r.error !== undefined);
    const mismatched = results.filter((r) => r.mismatch !== undefined);
    return {
      durationMs: Date.now() - started,
      connections: {
        total: results.length,
        ok: results.filter((r) => r.ok).length,
        failed: failed.length,
        mismatched: mismatched.length,
      },
      failures: [...failed, ...mismatched]
        .slice(0, 10)
        .map((r) => `${r.kind} ${r.connectionId}: ${r.error ?? r.mismatch}`),
      bytesUp: results.reduce((sum, r) => sum + r.bytesUp, 0),
      bytesDown: results.reduce((sum, r) => sum + r.bytesDown, 0),
      echoRoundTrips: results
        .filter((r) => r.kind === 'echo')
        .reduce((s, r) => s + r.roundTrips, 0),
      bulkTransfers: results.filter((r) => r.kind === 'bulk' && r.ok).length,
      faults: {
        ...driver.counts,
        resumeCallsRejected: emulator.calls.filter(
          (call) =>
            call.operation.endsWith('ResumeSession') && call.error === 'ThrottlingException',
        ).length,
        frameFaults: { ...options.frameFaults },
      },
      sessionsStarted: emulator.sessions.length,
      websocketOpens: emulator.sessions.reduce((sum, s) => sum + s.websocketOpens, 0),
      tunnelReconnects: status?.reconnects ?? -1,
      tunnelState: status?.state ?? 'unknown',
      rss: summarizeRss(rssSamples, options.warmupMs),
    };
  } catch (error) {
    throw new Error(
      `${(error as Error).message}\ndaemon output:\n${daemon.output().slice(-4000)}`,
      {
        cause: error,
      },
    );
  } finally {
    clearInterval(rssTimer);
    drivers.forEach((driver) => driver.stop());
    await daemon.stop();
    home.remove();
    await server.close();
    await emulator.close();
  }
}
