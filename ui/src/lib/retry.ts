import type { TunnelStatus } from './types.js';

/** States in which `nextAttemptAt` is the time of the next session start or resume attempt. */
const RETRYING_STATES: ReadonlySet<TunnelStatus['state']> = new Set([
  'connecting',
  'needs-login',
  'reconnecting',
]);

/**
 * Returns "Retrying in N s" for a tunnel whose next attempt is scheduled, counting whole seconds
 * up from `nowMs`, "Retrying now" once that time has passed, or null without a scheduled attempt.
 * The attempt is a session start, or a resume while the tunnel is `reconnecting`. The daemon
 * clears `nextAttemptAt` as the attempt begins, so a running attempt shows no countdown.
 */
export function retryCountdown(
  status: Pick<TunnelStatus, 'state' | 'nextAttemptAt'>,
  nowMs: number,
): string | null {
  if (!RETRYING_STATES.has(status.state)) return null;
  if (typeof status.nextAttemptAt !== 'string') return null;
  const at = Date.parse(status.nextAttemptAt);
  if (Number.isNaN(at)) return null;
  const seconds = Math.ceil((at - nowMs) / 1000);
  return seconds > 0 ? `Retrying in ${seconds} s` : 'Retrying now';
}
