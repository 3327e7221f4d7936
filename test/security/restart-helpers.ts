// Daemon starts for the tests that tamper with state files between runs: a start that hangs
// is killed and reported with the daemon's output, instead of hanging the test file.

import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  startDaemonProcess,
  type DaemonProcess,
  type TestHome,
} from '../reliability/harness/daemon-process.js';

/** A daemon that needs longer than this to answer is taken as hung, for example on a FIFO. */
export const START_TIMEOUT_MS = 15_000;

export interface StartedDaemon {
  daemon: DaemonProcess;
  port: number;
  token: string;
}

/** Starts a daemon on `home` and waits for its API, killing it when start-up hangs. */
export async function startDaemonWithin(
  home: TestHome,
  timeoutMs = START_TIMEOUT_MS,
): Promise<StartedDaemon> {
  const daemon = startDaemonProcess(home);
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`daemon did not start within ${timeoutMs} ms:\n${daemon.output()}`));
    }, timeoutMs);
  });
  try {
    const api = await Promise.race([daemon.api(), hung]);
    return { daemon, ...api };
  } catch (error) {
    await daemon.kill();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Returns the daemon log of `home`, or '' before the first daemon wrote it. */
export function readDaemonLog(home: TestHome): string {
  try {
    return readFileSync(join(home.stateDir, 'daemon.log'), 'utf8');
  } catch {
    return '';
  }
}

/**
 * Stops a daemon through `POST /v1/shutdown`, as `bastionless stop` does, and returns its exit
 * code. A SIGTERM right after api.json appears can arrive before the daemon installs its signal
 * handlers and end it with the default action, so the tests do not send one.
 */
export async function shutdownDaemon(
  started: StartedDaemon,
  timeoutMs = 10_000,
): Promise<number | null> {
  const { daemon } = started;
  if (daemon.child.exitCode !== null || daemon.child.signalCode !== null) {
    return daemon.child.exitCode;
  }
  const exited = once(daemon.child, 'exit');
  const response = await fetch(`http://127.0.0.1:${started.port}/v1/shutdown`, {
    method: 'POST',
    headers: { authorization: `Bearer ${started.token}` },
    signal: AbortSignal.timeout(timeoutMs),
  });
  await response.body?.cancel();
  const timer = setTimeout(() => daemon.child.kill('SIGKILL'), timeoutMs);
  const [code] = (await exited) as [number | null];
  clearTimeout(timer);
  return code;
}
