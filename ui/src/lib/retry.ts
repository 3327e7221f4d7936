import type { TunnelStatus } from './types.js';

/**
 * ISO 8601 time of the tunnel's next session start attempt, or null while none is scheduled.
 * NOTE: `TunnelStatus` has no such field yet, so the row reads it when present and otherwise
 * takes the time from the reason text (see `nextAttemptFromReason`).
 */
export type NextAttempt = { nextAttemptAt?: string | null };

/**
 * The daemon's retry reason during a streak of lasting start failures, e.g. "Target i-0abc is
 * not connected. Next attempt at 2026-01-05T10:00:55.200Z; connections are closed at once".
 */
const NEXT_ATTEMPT_IN_REASON = /\bNext attempt at (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)/;
const RETRYING_NOW_IN_REASON = /\bRetrying now\b/;

/** Returns the next attempt's ISO time that `reason` names, 'now', or null. */
export function nextAttemptFromReason(reason: string | null): string | null {
  if (!reason) return null;
  const match = NEXT_ATTEMPT_IN_REASON.exec(reason);
  if (match) return match[1];
  return RETRYING_NOW_IN_REASON.test(reason) ? 'now' : null;
}

/**
 * Returns "Retrying in N s" for a tunnel whose next attempt is scheduled, counting whole seconds
 * up from `nowMs`, "Retrying now" once that time has passed or while a start runs, or null
 * without a scheduled attempt.
 */
export function retryCountdown(
  status: Pick<TunnelStatus, 'state' | 'reason'> & NextAttempt,
  nowMs: number,
): string | null {
  if (status.state !== 'connecting' && status.state !== 'needs-login') return null;
  const next =
    typeof status.nextAttemptAt === 'string'
      ? status.nextAttemptAt
      : nextAttemptFromReason(status.reason);
  if (next === 'now') return 'Retrying now';
  if (next === null) return null;
  const at = Date.parse(next);
  if (Number.isNaN(at)) return null;
  const seconds = Math.ceil((at - nowMs) / 1000);
  return seconds > 0 ? `Retrying in ${seconds} s` : 'Retrying now';
}
