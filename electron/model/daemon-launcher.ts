// Attaches the tray to a running daemon or starts one, and remembers which, so quitting the
// tray stops only a daemon the tray itself started.

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
  /** Time the daemon has to exit after SIGTERM before it gets SIGKILL. */
  stopTimeoutMs?: number;
  pollIntervalMs?: number;
}

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
   * Stops the daemon if this launcher started it (SIGTERM, then SIGKILL after stopTimeoutMs);
   * a daemon started by someone else keeps running.
   */
  async shutdown(): Promise<'stopped' | 'left-running'> {
    const child = this.child;
    if (!child) return 'left-running';
    this.child = null;
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.deps.stopTimeoutMs);
    });
    const outcome = await Promise.race([child.exited.then(() => 'exited' as const), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      child.kill('SIGKILL');
      await child.exited;
    }
    return 'stopped';
  }

  private async reachableEndpoint(): Promise<DaemonEndpoint | null> {
    const endpoint = await this.deps.discover();
    if (!endpoint) return null;
    return (await this.deps.probe(endpoint)) ? endpoint : null;
  }
}
