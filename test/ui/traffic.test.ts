import { describe, expect, it } from 'vitest';
import { sparklinePath, TrafficHistory } from '../../ui/src/lib/traffic.js';

describe('TrafficHistory', () => {
  it('uses the first sample as baseline only', () => {
    const history = new TrafficHistory();
    history.record('db', 100, 50, 1_000);
    expect(history.samples('db')).toEqual([]);
  });

  it('computes per-second rates from counter deltas', () => {
    const history = new TrafficHistory();
    history.record('db', 0, 0, 0);
    history.record('db', 2_048, 512, 2_000);
    expect(history.samples('db')).toEqual([{ at: 2_000, inPerSecond: 1_024, outPerSecond: 256 }]);
  });

  it('treats a counter drop as a daemon restart', () => {
    const history = new TrafficHistory();
    history.record('db', 10_000, 10_000, 0);
    history.record('db', 300, 100, 1_000);
    expect(history.samples('db')[0]).toMatchObject({ inPerSecond: 300, outPerSecond: 100 });
  });

  it('ignores samples that do not move forward in time', () => {
    const history = new TrafficHistory();
    history.record('db', 0, 0, 1_000);
    history.record('db', 50, 50, 1_000);
    history.record('db', 60, 60, 900);
    expect(history.samples('db')).toEqual([]);
  });

  it('drops samples older than the window', () => {
    const history = new TrafficHistory(10_000);
    history.record('db', 0, 0, 0);
    for (let second = 1; second <= 30; second += 1) history.record('db', second, 0, second * 1_000);
    const samples = history.samples('db');
    expect(samples[0].at).toBe(20_000);
    expect(samples.at(-1)!.at).toBe(30_000);
  });

  it('keeps tunnels apart and forgets on request', () => {
    const history = new TrafficHistory();
    history.record('a', 0, 0, 0);
    history.record('a', 1, 1, 1_000);
    history.record('b', 0, 0, 0);
    expect(history.samples('a')).toHaveLength(1);
    expect(history.samples('b')).toHaveLength(0);
    history.forget('a');
    expect(history.samples('a')).toHaveLength(0);
  });
});

describe('sparklinePath', () => {
  it('needs two points', () => {
    expect(sparklinePath([], 100, 10)).toBe('');
    expect(sparklinePath([5], 100, 10)).toBe('');
  });

  it('scales the largest value to the top edge', () => {
    expect(sparklinePath([0, 5, 10], 100, 10)).toBe('M0.0,10.0L50.0,5.0L100.0,0.0');
  });

  it('clamps values to a given maximum', () => {
    expect(sparklinePath([0, 20], 10, 10, 10)).toBe('M0.0,10.0L10.0,0.0');
    expect(sparklinePath([-5, 5], 10, 10, 10)).toBe('M0.0,10.0L10.0,5.0');
  });
});
