import { describe, expect, it } from 'vitest';
import { msUntilLabelChange, retryDelayMs, retryLabel } from '../../electron/model/retry-label.js';
import type { TunnelStatus } from '../../ui/src/lib/types.js';
import { tunnelStatus } from '../ui/fixtures.js';

const NOW_MS = Date.parse('2025-03-01T12:00:00.000Z');
const lastError = {
  code: 'ERR_TARGET_NOT_CONNECTED',
  message: 'i-0123456789abcdef0 is not connected to Session Manager',
  at: '2025-03-01T11:59:50.000Z',
};

function retrying(offsetMs: number, overrides: Partial<TunnelStatus> = {}): TunnelStatus {
  return tunnelStatus({
    state: 'connecting',
    lastError,
    nextAttemptAt: new Date(NOW_MS + offsetMs).toISOString(),
    ...overrides,
  });
}

describe('retryLabel', () => {
  it.each([
    [12_000, 'retrying in 12 s'],
    [11_001, 'retrying in 12 s'],
    [1_000, 'retrying in 1 s'],
    [1, 'retrying in 1 s'],
  ])('counts %i ms as whole seconds up', (offsetMs, expected) => {
    expect(retryLabel(retrying(offsetMs), NOW_MS)).toBe(expected);
  });

  it('applies to a listening tunnel', () => {
    expect(retryLabel(retrying(5_000, { state: 'listening' }), NOW_MS)).toBe('retrying in 5 s');
  });

  it.each(['open', 'reconnecting', 'stopped', 'failed', 'needs-login'] as const)(
    'is null for a %s tunnel',
    (state) => {
      expect(retryLabel(retrying(5_000, { state }), NOW_MS)).toBeNull();
    },
  );

  it('is null without a last error', () => {
    expect(retryLabel(retrying(5_000, { lastError: null }), NOW_MS)).toBeNull();
  });

  it('is null without a scheduled attempt', () => {
    expect(retryLabel(retrying(5_000, { nextAttemptAt: null }), NOW_MS)).toBeNull();
  });

  it('is null once the attempt time has come', () => {
    expect(retryLabel(retrying(0), NOW_MS)).toBeNull();
    expect(retryLabel(retrying(-3_000), NOW_MS)).toBeNull();
  });

  it('is null for an unreadable attempt time', () => {
    expect(retryLabel(retrying(5_000, { nextAttemptAt: 'soon' }), NOW_MS)).toBeNull();
  });
});

describe('retryDelayMs', () => {
  it('returns the milliseconds left', () => {
    expect(retryDelayMs(retrying(2_345), NOW_MS)).toBe(2_345);
  });
});

describe('msUntilLabelChange', () => {
  it('is null without a countdown', () => {
    expect(msUntilLabelChange([retrying(5_000, { lastError: null })], NOW_MS)).toBeNull();
    expect(msUntilLabelChange([], NOW_MS)).toBeNull();
  });

  it('waits for the next whole second', () => {
    expect(msUntilLabelChange([retrying(2_300)], NOW_MS)).toBe(300);
    expect(msUntilLabelChange([retrying(3_000)], NOW_MS)).toBe(1_000);
  });

  it('picks the soonest change among tunnels', () => {
    const tunnels = [retrying(4_900, { name: 'a' }), retrying(7_250, { name: 'b' })];
    expect(msUntilLabelChange(tunnels, NOW_MS)).toBe(250);
  });

  it('changes the label after the returned delay', () => {
    const tunnel = retrying(2_300);
    const delayMs = msUntilLabelChange([tunnel], NOW_MS)!;
    expect(retryLabel(tunnel, NOW_MS + delayMs - 1)).toBe('retrying in 3 s');
    expect(retryLabel(tunnel, NOW_MS + delayMs)).toBe('retrying in 2 s');
  });
});
