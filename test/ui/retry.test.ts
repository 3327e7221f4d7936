import { describe, expect, it } from 'vitest';
import { retryCountdown } from '../../ui/src/lib/retry.js';

const NOW = Date.parse('2026-01-05T10:00:00.000Z');

describe('retryCountdown', () => {
  it('counts whole seconds up', () => {
    const status = { state: 'connecting' as const, nextAttemptAt: '2026-01-05T10:00:55.200Z' };
    expect(retryCountdown(status, NOW)).toBe('Retrying in 56 s');
    expect(retryCountdown(status, NOW + 55_000)).toBe('Retrying in 1 s');
  });

  it('says now once the time passed', () => {
    const status = { state: 'connecting' as const, nextAttemptAt: '2026-01-05T10:00:00.000Z' };
    expect(retryCountdown(status, NOW)).toBe('Retrying now');
    expect(retryCountdown(status, NOW + 3_000)).toBe('Retrying now');
  });

  it('counts while a login is needed', () => {
    const status = { state: 'needs-login' as const, nextAttemptAt: '2026-01-05T10:00:05.000Z' };
    expect(retryCountdown(status, NOW)).toBe('Retrying in 5 s');
  });

  it('counts to the next resume attempt', () => {
    const status = { state: 'reconnecting' as const, nextAttemptAt: '2026-01-05T10:00:08.000Z' };
    expect(retryCountdown(status, NOW)).toBe('Retrying in 8 s');
  });

  it('is null without a scheduled attempt', () => {
    expect(retryCountdown({ state: 'connecting', nextAttemptAt: null }, NOW)).toBeNull();
    expect(retryCountdown({ state: 'connecting', nextAttemptAt: 'soon' }, NOW)).toBeNull();
  });

  it('ignores a time named only in the reason', () => {
    const status = {
      state: 'connecting' as const,
      nextAttemptAt: null,
      reason: 'Target is not connected. Next attempt at 2026-01-05T10:00:55.200Z.',
    };
    expect(retryCountdown(status, NOW)).toBeNull();
  });

  it.each(['open', 'stopped', 'failed', 'listening'] as const)('is null while %s', (state) => {
    expect(retryCountdown({ state, nextAttemptAt: '2026-01-05T10:00:05.000Z' }, NOW)).toBeNull();
  });
});
