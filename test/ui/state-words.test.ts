import { describe, expect, it } from 'vitest';
import { describeState, isErrorBeforeOpen, isTunnelActive } from '../../ui/src/lib/state-words.js';
import type { TunnelState } from '../../ui/src/lib/types.js';

const ALL_STATES: TunnelState[] = [
  'stopped',
  'listening',
  'connecting',
  'open',
  'reconnecting',
  'needs-login',
  'failed',
];

describe('describeState', () => {
  it.each(ALL_STATES)('gives %s a label and a sentence', (state) => {
    const description = describeState({ state, reason: null });
    expect(description.label).not.toBe('');
    expect(description.sentence).toMatch(/\.$/);
  });

  it('maps states to tones', () => {
    expect(describeState({ state: 'open', reason: null }).tone).toBe('ok');
    expect(describeState({ state: 'reconnecting', reason: null }).tone).toBe('warn');
    expect(describeState({ state: 'failed', reason: null }).tone).toBe('error');
    expect(describeState({ state: 'needs-login', reason: null }).tone).toBe('error');
    expect(describeState({ state: 'stopped', reason: null }).tone).toBe('idle');
  });

  it('appends the reason in brackets', () => {
    const description = describeState({ state: 'reconnecting', reason: 'idle timeout' });
    expect(description.sentence).toBe(
      'Reconnecting: the session dropped and the daemon is opening a new one (idle timeout).',
    );
  });

  it('ignores a blank reason', () => {
    const description = describeState({ state: 'open', reason: '  ' });
    expect(description.sentence).toBe('Open: connections are forwarded.');
  });

  it('names an unknown state instead of throwing', () => {
    const description = describeState({ state: 'melting' as TunnelState, reason: null });
    expect(description.label).toBe('melting');
    expect(description.sentence).toContain('Unknown state "melting"');
  });
});

describe('isTunnelActive', () => {
  it('is off only for stopped and failed', () => {
    const active = ALL_STATES.filter(isTunnelActive);
    expect(active).toEqual(['listening', 'connecting', 'open', 'reconnecting', 'needs-login']);
  });
});

describe('isErrorBeforeOpen', () => {
  const lastError = {
    code: 'ERR_SESSION_FAILED',
    message: 'StartSession failed',
    at: '2026-01-05T10:00:00.000Z',
  };

  it('is true for an error before opening', () => {
    const status = { state: 'open' as const, openSince: '2026-01-05T10:00:05.000Z', lastError };
    expect(isErrorBeforeOpen(status)).toBe(true);
  });

  it('is true while reconnecting', () => {
    const status = {
      state: 'reconnecting' as const,
      openSince: '2026-01-05T10:00:05.000Z',
      lastError,
    };
    expect(isErrorBeforeOpen(status)).toBe(true);
  });

  it('is false for an error while open', () => {
    const status = { state: 'open' as const, openSince: '2026-01-05T09:59:00.000Z', lastError };
    expect(isErrorBeforeOpen(status)).toBe(false);
  });

  it.each(['listening', 'connecting', 'failed', 'needs-login'] as const)(
    'is false while %s',
    (state) => {
      const status = { state, openSince: '2026-01-05T10:00:05.000Z', lastError };
      expect(isErrorBeforeOpen(status)).toBe(false);
    },
  );

  it('is false without an error or open time', () => {
    expect(isErrorBeforeOpen({ state: 'open', openSince: null, lastError })).toBe(false);
    expect(
      isErrorBeforeOpen({ state: 'open', openSince: '2026-01-05T10:00:05.000Z', lastError: null }),
    ).toBe(false);
  });
});
