import { describe, expect, it } from 'vitest';
import {
  barsPath,
  bucketTraffic,
  TrafficHistory,
  type RateSample,
} from '../../ui/src/lib/traffic.js';

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
    expect(history.samples('db')).toEqual([
      { at: 2_000, inPerSecond: 1_024, outPerSecond: 256, bytesIn: 2_048, bytesOut: 512 },
    ]);
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

function sample(at: number, bytesIn: number, bytesOut: number): RateSample {
  return { at, inPerSecond: bytesIn, outPerSecond: bytesOut, bytesIn, bytesOut };
}

describe('TrafficHistory.seed', () => {
  const AT = Date.parse('2026-01-05T10:00:07.000Z');
  const snapshot = {
    name: 'db',
    bucketMs: 5_000,
    at: new Date(AT).toISOString(),
    bytesIn: 3_000,
    bytesOut: 300,
    buckets: [
      { start: '2026-01-05T09:59:55.000Z', bytesIn: 0, bytesOut: 0 },
      { start: '2026-01-05T10:00:00.000Z', bytesIn: 1_000, bytesOut: 100 },
      { start: '2026-01-05T10:00:05.000Z', bytesIn: 2_000, bytesOut: 200 },
    ],
  };

  it('adds one sample per busy bucket', () => {
    const history = new TrafficHistory();
    history.seed(snapshot);
    const samples = history.samples('db');

    expect(samples.map((sample) => sample.at)).toEqual([AT - 2_000, AT]);
    expect(samples.map((sample) => sample.bytesIn)).toEqual([1_000, 2_000]);
    expect(samples.map((sample) => sample.bytesOut)).toEqual([100, 200]);
    expect(samples[0]!.inPerSecond).toBe(200);
    // The newest bucket had run for 2 s at the snapshot.
    expect(samples[1]!.inPerSecond).toBe(1_000);
  });

  it('drops samples the snapshot contains', () => {
    const history = new TrafficHistory();
    history.record('db', 0, 0, AT - 3_000);
    history.record('db', 2_500, 250, AT - 1_000);
    history.seed(snapshot);

    expect(history.samples('db').map((sample) => sample.bytesIn)).toEqual([1_000, 2_000]);
  });

  it('counts later readings from its totals', () => {
    const history = new TrafficHistory();
    history.seed(snapshot);
    history.record('db', 2_900, 290, AT - 500);
    history.record('db', 3_500, 350, AT + 1_000);
    const samples = history.samples('db');

    expect(samples).toHaveLength(3);
    expect(samples[2]!.bytesIn).toBe(500);
    expect(samples[2]!.bytesOut).toBe(50);
  });

  it('ignores a snapshot without a valid time', () => {
    const history = new TrafficHistory();
    history.seed({ ...snapshot, at: 'yesterday' });

    expect(history.samples('db')).toEqual([]);
  });
});

describe('bucketTraffic', () => {
  it('places samples by time, not by index', () => {
    const buckets = bucketTraffic([sample(95_500, 5_000_000, 4_000_000)], 100_000, 5_000, 4);
    expect(buckets.map((bucket) => bucket.start)).toEqual([80_000, 85_000, 90_000, 95_000]);
    expect(buckets.map((bucket) => bucket.bytesIn)).toEqual([0, 0, 0, 5_000_000]);
    expect(buckets.map((bucket) => bucket.bytesOut)).toEqual([0, 0, 0, 4_000_000]);
  });

  it('keeps an old transfer in place', () => {
    // Two minutes of quiet one-second samples after a transfer must not squeeze it away.
    const samples = [sample(1_000, 5_000_000, 5_000_000)];
    for (let second = 2; second <= 121; second += 1) samples.push(sample(second * 1_000, 0, 0));
    const buckets = bucketTraffic(samples, 121_000, 5_000, 60);
    const busy = buckets.filter((bucket) => bucket.bytesIn > 0);
    expect(busy).toHaveLength(1);
    expect(busy[0].bytesIn).toBe(5_000_000);
    expect(busy[0].start).toBeLessThanOrEqual(1_000);
    expect(busy[0].start + 5_000).toBeGreaterThan(1_000);
  });

  it('sums samples of one bucket', () => {
    const buckets = bucketTraffic([sample(1_000, 10, 1), sample(2_000, 20, 2)], 5_000, 5_000, 1);
    expect(buckets).toEqual([{ start: 0, bytesIn: 30, bytesOut: 3 }]);
  });

  it('drops samples outside the window', () => {
    const buckets = bucketTraffic([sample(-1, 10, 10), sample(10_000, 10, 10)], 10_000, 5_000, 2);
    expect(buckets.map((bucket) => bucket.bytesIn)).toEqual([0, 0]);
  });
});

describe('barsPath', () => {
  it('draws nothing for zeros', () => {
    expect(barsPath([], 100, 10, 10, -1)).toBe('');
    expect(barsPath([0, 0], 100, 10, 10, -1)).toBe('');
  });

  it('scales the largest value to the full height', () => {
    expect(barsPath([0, 5, 10, 0], 100, 20, 20, -1)).toBe(
      'M25.0,20.0V10.0H50.0V20.0Z' + 'M50.0,20.0V0.0H75.0V20.0Z',
    );
  });

  it('grows downwards for direction 1', () => {
    expect(barsPath([10], 10, 5, 5, 1)).toBe('M0.0,5.0V10.0H10.0V5.0Z');
  });

  it('keeps a tiny value visible', () => {
    expect(barsPath([1, 1_000_000], 20, 10, 10, -1)).toBe(
      'M0.0,10.0V8.5H10.0V10.0Z' + 'M10.0,10.0V0.0H20.0V10.0Z',
    );
  });

  it('clamps values to a given maximum', () => {
    expect(barsPath([20], 10, 10, 10, -1, 10)).toBe('M0.0,10.0V0.0H10.0V10.0Z');
  });
});
