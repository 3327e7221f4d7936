// Attaches the tray to a running daemon or starts one, and remembers which, so quitting the
// tray stops only a daemon the tray itself started.

import { stopDaemon, type StoppableDaemon } from '../../daemon/stop-daemon.js';
import type { DaemonEndpoint } from './daemon-client.js';

/** The part of a child process the launcher uses. */
export interface DaemonProcess {
  pid?: number;
  kill(signal?: NodeJS.Signals): boolean;
  /** Resolves when the process has exited. */
  exited: Promise<unknown>;
}

export interface DaemonLauncherDeps {
  discover: () => Promise<DaemonEndpoint | null>;
  /** Returns true when the daemon at `endpoint` answers an authenticated request. */
  probe: (endpoint: DaemonEndpoint) => Promise<boolean>;
  /** Starts the daemon in the background, e.g. `bastionless daemon`. */
  spawnDaemon: () => DaemonProcess;
  /** Time the started daemon has to write its port and answer. */
  readyTimeoutMs?: number;
  /**
   * Time the daemon has to exit after the shutdown request, and then after SIGTERM before it
   * gets SIGKILL.
   */
  stopTimeoutMs?: number;
  pollIntervalMs?: number;
}

/** Result of shutdown(): the daemon was not ours, or the means that stopped ours. */
export type LauncherShutdown =
  | { stopped: false }
  | { stopped: true; via: 'api' }
  /** `reason` states why the shutdown request was not used or did not stop the daemon. */
  | { stopped: true; via: 'SIGTERM' | 'SIGKILL'; reason: string };

export class DaemonLaunchError extends Error {
  readonly code = 'ERR_DAEMON_START_FAILED';
}

export class DaemonLauncher {
  private readonly deps: Required<DaemonLauncherDeps>;
  private child: DaemonProcess | null = null;

  constructor(deps: DaemonLauncherDeps) {
    this.deps = { readyTimeoutMs: 15_000, stopTimeoutMs: 5_000, pollIntervalMs: 100, ...deps };
  }

  /** True when this launcher started the daemon that is running now. */
  get startedByUs(): boolean {
    return this.child !== null;
  }

  /** Returns a reachable daemon, starting one if none answers; waits at most readyTimeoutMs. */
  async ensureRunning(): Promise<{ endpoint: DaemonEndpoint; started: boolean }> {
    const existing = await this.reachableEndpoint();
    if (existing) return { endpoint: existing, started: false };
    const child = this.deps.spawnDaemon();
    this.child = child;
    let exited = false;
    void child.exited.then(() => {
      exited = true;
      if (this.child === child) this.child = null;
    });
    const deadline = Date.now() + this.deps.readyTimeoutMs;
    while (Date.now() < deadline) {
      const endpoint = await this.reachableEndpoint();
      if (endpoint) return { endpoint, started: true };
      if (exited) {
        throw new DaemonLaunchError(
          'The daemon exited during startup; run `bastionless daemon` in a terminal to see why.',
        );
      }
      await new Promise((resolve) => setTimeout(resolve, this.deps.pollIntervalMs));
    }
    await this.shutdown();
    throw new DaemonLaunchError(
      `The daemon did not answer within ${this.deps.readyTimeoutMs} ms; ` +
        'run `bastionless daemon` in a terminal to see why.',
    );
  }

  /**
   * Stops the daemon if this launcher started it, the way `bastionless stop` does: through
   * `POST /v1/shutdown`, then SIGTERM, and here also SIGKILL, each after stopTimeoutMs. A
   * daemon started by someone else keeps running.
   */
  async shutdown(): Promise<LauncherShutdown> {
    const child = this.child;
    if (!child) return { stopped: false };
    this.child = null;
    const waitForExit = (timeoutMs: number) => exitsWithin(child, timeoutMs);
    const found = await this.endpointOf(child);
    let reason: string;
    let exited: boolean;
    if (typeof found === 'string') {
      reason = found;
      child.kill('SIGTERM');
      exited = await waitForExit(this.deps.stopTimeoutMs);
    } else {
      const outcome = await stopDaemon(found, {
        waitForExit,
        kill: (signal) => void child.kill(signal),
        stopTimeoutMs: this.deps.stopTimeoutMs,
      });
      if (outcome.via === 'api') return { stopped: true, via: 'api' };
      reason = outcome.reason;
      exited = outcome.exited;
    }
    if (exited) return { stopped: true, via: 'SIGTERM', reason };
    child.kill('SIGKILL');
    await child.exited;
    return {
      stopped: true,
      via: 'SIGKILL',
      reason: `${reason}, and it did not exit within ${this.deps.stopTimeoutMs} ms of SIGTERM`,
    };
  }

  /**
   * Returns the control API of `child`, or why it has none. The API file must name the child's
   * pid, so the request cannot stop a daemon that someone else started meanwhile.
   */
  private async endpointOf(child: DaemonProcess): Promise<StoppableDaemon | string> {
    let endpoint: DaemonEndpoint | null;
    try {
      endpoint = await this.deps.discover();
    } catch (error) {
      return `reading the API file failed: ${(error as Error).message}`;
    }
    if (!endpoint) return 'the daemon has not written its API file';
    if (child.pid === undefined || endpoint.pid !== child.pid) {
      return `the API file names pid ${endpoint.pid}, not the started daemon's pid ${child.pid}`;
    }
    return { pid: child.pid, url: endpoint.url, token: endpoint.token };
  }

  private async reachableEndpoint(): Promise<DaemonEndpoint | null> {
    const endpoint = await this.deps.discover();
    if (!endpoint) return null;
    return (await this.deps.probe(endpoint)) ? endpoint : null;
  }
}

/** Resolves true once `child` has exited, false when `timeoutMs` passed first. */
async function exitsWithin(child: DaemonProcess, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([child.exited.then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
