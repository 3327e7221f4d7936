import type { TunnelStatus } from './types.js';

/**
 * Returns "Retrying in N s" for a tunnel whose next attempt is scheduled, counting whole seconds
 * up from `nowMs`, "Retrying now" once that time has passed, or null without a scheduled attempt.
 * The daemon clears `nextAttemptAt` as the attempt begins, so a running start shows no countdown.
 */
export function retryCountdown(
  status: Pick<TunnelStatus, 'state' | 'nextAttemptAt'>,
  nowMs: number,
): string | null {
  if (status.state !== 'connecting' && status.state !== 'needs-login') return null;
  if (typeof status.nextAttemptAt !== 'string') return null;
  const at = Date.parse(status.nextAttemptAt);
  if (Number.isNaN(at)) return null;
  const seconds = Math.ceil((at - nowMs) / 1000);
  return seconds > 0 ? `Retrying in ${seconds} s` : 'Retrying now';
}
