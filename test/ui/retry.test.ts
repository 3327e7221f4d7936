import { describe, expect, it } from 'vitest';
import { nextAttemptFromReason, retryCountdown } from '../../ui/src/lib/retry.js';

const NOW = Date.parse('2026-01-05T10:00:00.000Z');
const STREAK_REASON =
  'Target i-0aaaaaaaaaaaaaaa1 is not connected. Next attempt at 2026-01-05T10:00:55.200Z; ' +
  'connections are closed at once until a session opens.';

describe('retryCountdown', () => {
  it('counts whole seconds up', () => {
    const status = {
      state: 'connecting' as const,
      reason: null,
      nextAttemptAt: '2026-01-05T10:00:55.200Z',
    };
    expect(retryCountdown(status, NOW)).toBe('Retrying in 56 s');
    expect(retryCountdown(status, NOW + 55_000)).toBe('Retrying in 1 s');
  });

  it('says now once the time passed', () => {
    const status = {
      state: 'connecting' as const,
      reason: null,
      nextAttemptAt: '2026-01-05T10:00:00.000Z',
    };
    expect(retryCountdown(status, NOW)).toBe('Retrying now');
    expect(retryCountdown(status, NOW + 3_000)).toBe('Retrying now');
  });

  it('reads the time from the reason', () => {
    expect(retryCountdown({ state: 'connecting', reason: STREAK_REASON }, NOW)).toBe(
      'Retrying in 56 s',
    );
  });

  it('prefers the field over the reason', () => {
    const status = {
      state: 'connecting' as const,
      reason: STREAK_REASON,
      nextAttemptAt: '2026-01-05T10:00:05.000Z',
    };
    expect(retryCountdown(status, NOW)).toBe('Retrying in 5 s');
  });

  it('counts while a login is needed', () => {
    const status = {
      state: 'needs-login' as const,
      reason: null,
      nextAttemptAt: '2026-01-05T10:00:05.000Z',
    };
    expect(retryCountdown(status, NOW)).toBe('Retrying in 5 s');
  });

  it('is null without a scheduled attempt', () => {
    expect(retryCountdown({ state: 'connecting', reason: null }, NOW)).toBeNull();
    expect(retryCountdown({ state: 'connecting', reason: 'timed out' }, NOW)).toBeNull();
    expect(
      retryCountdown({ state: 'connecting', reason: null, nextAttemptAt: 'soon' }, NOW),
    ).toBeNull();
  });

  it.each(['open', 'stopped', 'failed', 'listening'] as const)('is null while %s', (state) => {
    expect(retryCountdown({ state, reason: STREAK_REASON }, NOW)).toBeNull();
  });
});

describe('nextAttemptFromReason', () => {
  it('finds the time, a running start or nothing', () => {
    expect(nextAttemptFromReason(STREAK_REASON)).toBe('2026-01-05T10:00:55.200Z');
    expect(nextAttemptFromReason('Access denied. Retrying now; connections are closed')).toBe(
      'now',
    );
    expect(nextAttemptFromReason('session closed: eof')).toBeNull();
    expect(nextAttemptFromReason(null)).toBeNull();
  });
});
