// Backoff delays with jitter and the clock-drift watch that detects a sleep.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { Backoff, watchClockDrift } from '../../daemon/tunnel/backoff.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('Backoff', () => {
  it('doubles up to the cap', () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0 });
    const delays = Array.from({ length: 6 }, () => backoff.next());
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoff.attempts).toBe(6);
  });

  it('keeps jitter inside its fraction', () => {
    const low = new Backoff({ initialMs: 1000, jitter: 0.5, random: () => 0 });
    const high = new Backoff({ initialMs: 1000, jitter: 0.5, random: () => 1 });
    expect(low.next()).toBe(500);
    expect(high.next()).toBe(1000);
  });

  it('starts over after reset', () => {
    const backoff = new Backoff({ initialMs: 100, jitter: 0 });
    backoff.next();
    backoff.next();
    backoff.reset();
    expect(backoff.next()).toBe(100);
  });
});

describe('watchClockDrift', () => {
  it('reports a tick that fired late', () => {
    vi.useFakeTimers();
    let now = 0;
    const drifts: number[] = [];
    const stop = watchClockDrift((lateBy) => drifts.push(lateBy), {
      intervalMs: 5000,
      thresholdMs: 15_000,
      now: () => now,
    });

    now = 5000;
    vi.advanceTimersByTime(5000);
    expect(drifts).toEqual([]);

    // The machine slept: the next tick runs 30 s after the previous one.
    now = 40_000;
    vi.advanceTimersByTime(5000);
    expect(drifts).toEqual([30_000]);

    stop();
    now = 200_000;
    vi.advanceTimersByTime(5000);
    expect(drifts).toHaveLength(1);
  });
});
