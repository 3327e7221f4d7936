// The countdown the tray shows while the daemon waits to retry a failed session start.

import type { TunnelStatus } from '../../ui/src/lib/types.js';

type RetryFields = Pick<TunnelStatus, 'state' | 'lastError' | 'nextAttemptAt'>;

/**
 * Returns the milliseconds left until the daemon's next session start attempt, or null when no
 * countdown applies. A countdown applies to a `connecting` or `listening` tunnel whose start
 * failed (`lastError` set) and whose `nextAttemptAt` lies after `nowMs`. The daemon clears
 * `nextAttemptAt` as the attempt begins, so a time in the past means an attempt runs already.
 */
export function retryDelayMs(status: RetryFields, nowMs: number): number | null {
  if (status.state !== 'connecting' && status.state !== 'listening') return null;
  if (!status.lastError || typeof status.nextAttemptAt !== 'string') return null;
  const attemptAtMs = Date.parse(status.nextAttemptAt);
  if (Number.isNaN(attemptAtMs) || attemptAtMs <= nowMs) return null;
  return attemptAtMs - nowMs;
}

/**
 * Returns "retrying in N s", with N the whole seconds left rounded up, so the label never reads
 * "retrying in 0 s". Returns null when `retryDelayMs` finds no countdown.
 */
export function retryLabel(status: RetryFields, nowMs: number): string | null {
  const delayMs = retryDelayMs(status, nowMs);
  if (delayMs === null) return null;
  return `retrying in ${Math.ceil(delayMs / 1000)} s`;
}

/**
 * Returns the milliseconds until the earliest countdown among `tunnels` shows a new number, or
 * null when none runs. A label for `delayMs` changes when the delay drops to the next lower
 * whole second, which is `delayMs % 1000` from now, or a full second when the delay is whole.
 */
export function msUntilLabelChange(tunnels: readonly RetryFields[], nowMs: number): number | null {
  let soonestMs: number | null = null;
  for (const tunnel of tunnels) {
    const delayMs = retryDelayMs(tunnel, nowMs);
    if (delayMs === null) continue;
    const untilChangeMs = delayMs % 1000 || 1000;
    if (soonestMs === null || untilChangeMs < soonestMs) soonestMs = untilChangeMs;
  }
  return soonestMs;
}
