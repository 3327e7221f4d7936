// TrafficHistory: running totals turned into 5 s buckets of the last five minutes.

import { describe, expect, it } from 'vitest';
import {
  TRAFFIC_BUCKET_COUNT,
  TRAFFIC_BUCKET_MS,
  TrafficHistory,
} from '../../daemon/tunnel/traffic-history.js';

/** A time at the start of a bucket, so offsets below 5 s stay in it. */
const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

describe('TrafficHistory', () => {
  it('puts deltas in the bucket of each reading', () => {
    const history = new TrafficHistory();
    history.record(T0 + 1_000, 100, 10);
    history.record(T0 + 4_000, 300, 30);
    history.record(T0 + 6_000, 1_000, 100);
    const snapshot = history.snapshot('db', T0 + 7_000);
    const buckets = snapshot.buckets;

    expect(buckets).toHaveLength(TRAFFIC_BUCKET_COUNT);
    expect(snapshot.bucketMs).toBe(TRAFFIC_BUCKET_MS);
    expect(buckets.at(-1)).toEqual({
      start: new Date(T0 + 5_000).toISOString(),
      bytesIn: 700,
      bytesOut: 70,
    });
    expect(buckets.at(-2)).toEqual({
      start: new Date(T0).toISOString(),
      bytesIn: 300,
      bytesOut: 30,
    });
    expect(snapshot.bytesIn).toBe(1_000);
    expect(snapshot.bytesOut).toBe(100);
    expect(snapshot.at).toBe(new Date(T0 + 7_000).toISOString());
  });

  it('spans five minutes oldest first', () => {
    const history = new TrafficHistory();
    const buckets = history.snapshot('db', T0 + 2_000).buckets;
    const starts = buckets.map((bucket) => Date.parse(bucket.start));

    expect(starts[0]).toBe(T0 - (TRAFFIC_BUCKET_COUNT - 1) * TRAFFIC_BUCKET_MS);
    expect(starts.at(-1)).toBe(T0);
    for (let index = 1; index < starts.length; index += 1) {
      expect(starts[index]! - starts[index - 1]!).toBe(TRAFFIC_BUCKET_MS);
    }
  });

  it('forgets buckets older than five minutes', () => {
    const history = new TrafficHistory();
    history.record(T0, 500, 50);
    history.record(T0 + 60_000, 600, 60);
    const window = TRAFFIC_BUCKET_COUNT * TRAFFIC_BUCKET_MS;
    const early = history.snapshot('db', T0 + window - 1);
    const late = history.snapshot('db', T0 + window);

    expect(sum(early.buckets.map((bucket) => bucket.bytesIn))).toBe(600);
    expect(sum(late.buckets.map((bucket) => bucket.bytesIn))).toBe(100);
  });

  it('reuses a slot after the ring wraps', () => {
    const history = new TrafficHistory();
    history.record(T0, 500, 0);
    // The same slot, one full ring later, must start from zero.
    const later = T0 + TRAFFIC_BUCKET_COUNT * TRAFFIC_BUCKET_MS;
    history.record(later, 520, 0);
    const buckets = history.snapshot('db', later).buckets;

    expect(buckets.at(-1)!.bytesIn).toBe(20);
    expect(sum(buckets.map((bucket) => bucket.bytesIn))).toBe(20);
  });

  it('counts restarted counters as new bytes', () => {
    const history = new TrafficHistory();
    history.record(T0, 1_000, 1_000);
    history.record(T0 + 1_000, 40, 60);
    const last = history.snapshot('db', T0 + 1_000).buckets.at(-1)!;

    expect(last.bytesIn).toBe(1_040);
    expect(last.bytesOut).toBe(1_060);
  });

  it('adds to the newest bucket after a clock step back', () => {
    const history = new TrafficHistory();
    history.record(T0 + 20_000, 100, 0);
    history.record(T0, 150, 0);
    const buckets = history.snapshot('db', T0).buckets;

    expect(Date.parse(buckets.at(-1)!.start)).toBe(T0 + 20_000);
    expect(buckets.at(-1)!.bytesIn).toBe(150);
  });
});
