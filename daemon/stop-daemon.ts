// Stops a running daemon: first through `POST /v1/shutdown`, which terminates every SSM session
// on every platform, then with SIGTERM when the request fails or the daemon does not exit.
// `bastionless stop` and the tray both use it. It has no Electron or CLI imports.

import type { ShutdownReply } from './api/lifecycle-routes.js';

/** Time the daemon has to exit after a shutdown request or SIGTERM, in milliseconds. */
export const DEFAULT_STOP_TIMEOUT_MS = 5000;
const DEFAULT_REQUEST_TIMEOUT_MS = 5000;

/** A daemon whose control API reported this pid, so signalling the pid reaches it. */
export interface StoppableDaemon {
  pid: number;
  /** Base URL of the control API, e.g. http://127.0.0.1:41234 */
  url: string;
  token: string;
}

export interface StopDaemonOptions {
  /** Resolves true once the daemon's process has exited, false when `timeoutMs` passed first. */
  waitForExit: (timeoutMs: number) => Promise<boolean>;
  /** Sends `signal` to the daemon's process. */
  kill: (signal: NodeJS.Signals) => void;
  /** Time the daemon has to exit after the request, and again after SIGTERM. */
  stopTimeoutMs?: number;
  /** Time the shutdown request has to get its reply. */
  requestTimeoutMs?: number;
}

export type StopOutcome =
  /** The daemon exited after `POST /v1/shutdown`. */
  | { via: 'api'; reply: ShutdownReply }
  /**
   * The daemon got SIGTERM, because of `reason`. `exited` is false when it was still running
   * stopTimeoutMs later, and the caller decides whether to send SIGKILL.
   */
  | { via: 'signal'; reason: string; exited: boolean };

/** Sends `POST /v1/shutdown`; returns the reply, or the reason the request failed. */
async function requestShutdown(
  daemon: StoppableDaemon,
  timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
): Promise<ShutdownReply | string> {
  try {
    const response = await fetch(`${daemon.url}/v1/shutdown`, {
      method: 'POST',
      headers: { authorization: `Bearer ${daemon.token}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    if (response.status !== 202) {
      return `POST /v1/shutdown returned HTTP ${response.status}`;
    }
    return JSON.parse(text) as ShutdownReply;
  } catch (error) {
    return `POST /v1/shutdown failed: ${(error as Error).message}`;
  }
}

/**
 * Asks the daemon to shut down and waits for it to exit. When the request fails, or the daemon
 * is still running stopTimeoutMs after it, sends SIGTERM and waits stopTimeoutMs again. On
 * Windows, Node.js ends a process at once on SIGTERM, so the daemon's sessions then stay open
 * until the service's idle timeout or the next daemon start terminates them.
 */
export async function stopDaemon(
  daemon: StoppableDaemon,
  options: StopDaemonOptions,
): Promise<StopOutcome> {
  const stopTimeoutMs = options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
  const reply = await requestShutdown(daemon, options.requestTimeoutMs);
  let reason: string;
  if (typeof reply === 'string') {
    reason = reply;
  } else if (await options.waitForExit(stopTimeoutMs)) {
    return { via: 'api', reply };
  } else {
    reason = `it did not exit within ${stopTimeoutMs / 1000} s of the shutdown request`;
  }
  options.kill('SIGTERM');
  return { via: 'signal', reason, exited: await options.waitForExit(stopTimeoutMs) };
}

/** Time a process has to disappear after SIGKILL, which it cannot catch, in milliseconds. */
const DEFAULT_KILL_TIMEOUT_MS = 2000;

export interface EndProcessOptions {
  /** Resolves true once the daemon's process has exited, false when `timeoutMs` passed first. */
  waitForExit: (timeoutMs: number) => Promise<boolean>;
  /** Sends `signal` to the daemon's process. */
  kill: (signal: NodeJS.Signals) => void;
  /** Whether to send SIGCONT; false on Windows, which has no SIGCONT. */
  canContinue: boolean;
  /** Time the daemon has to exit after SIGTERM before it gets SIGKILL. */
  stopTimeoutMs?: number;
  /** Time the process has to disappear after SIGKILL. */
  killTimeoutMs?: number;
}

/** Last signal sent to a daemon whose API did not respond, and whether its process is gone. */
export interface EndOutcome {
  signal: 'SIGTERM' | 'SIGKILL';
  exited: boolean;
}

/**
 * Ends a daemon whose control API does not respond, so no shutdown request can reach it. A
 * stopped process keeps SIGTERM pending, so SIGCONT follows it and the resumed daemon runs its
 * orderly shutdown. A daemon whose event loop is blocked never runs its SIGTERM handler, so
 * SIGKILL follows after stopTimeoutMs. SIGKILL also ends a process that a debugger holds.
 */
export async function endUnresponsiveDaemon(options: EndProcessOptions): Promise<EndOutcome> {
  options.kill('SIGTERM');
  if (options.canContinue) {
    options.kill('SIGCONT');
  }
  if (await options.waitForExit(options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS)) {
    return { signal: 'SIGTERM', exited: true };
  }
  options.kill('SIGKILL');
  const exited = await options.waitForExit(options.killTimeoutMs ?? DEFAULT_KILL_TIMEOUT_MS);
  return { signal: 'SIGKILL', exited };
}
