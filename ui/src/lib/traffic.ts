import type { TrafficHistorySnapshot } from './types.js';

/** Traffic between two counter readings: rates in bytes per second, deltas in bytes. */
export interface RateSample {
  /** Epoch milliseconds of the later reading. */
  at: number;
  inPerSecond: number;
  outPerSecond: number;
  bytesIn: number;
  bytesOut: number;
}

interface Series {
  lastIn: number;
  lastOut: number;
  lastAt: number;
  samples: RateSample[];
}

/**
 * Turns the daemon's cumulative byte counters into per-second rates for each tunnel, keeping
 * only the last `windowMs` so the sparkline shows recent minutes.
 */
export class TrafficHistory {
  private readonly series = new Map<string, Series>();

  constructor(private readonly windowMs = 5 * 60_000) {}

  /** Records cumulative counters observed at `atMs`; the first sample only sets the baseline. */
  record(name: string, bytesIn: number, bytesOut: number, atMs: number): void {
    const entry = this.series.get(name);
    if (!entry) {
      this.series.set(name, { lastIn: bytesIn, lastOut: bytesOut, lastAt: atMs, samples: [] });
      return;
    }
    const elapsedMs = atMs - entry.lastAt;
    if (elapsedMs <= 0) return;
    // Counters restart at zero when the daemon restarts, so a drop counts as a fresh baseline.
    const deltaIn = bytesIn >= entry.lastIn ? bytesIn - entry.lastIn : bytesIn;
    const deltaOut = bytesOut >= entry.lastOut ? bytesOut - entry.lastOut : bytesOut;
    entry.samples.push({
      at: atMs,
      inPerSecond: (deltaIn * 1000) / elapsedMs,
      outPerSecond: (deltaOut * 1000) / elapsedMs,
      bytesIn: deltaIn,
      bytesOut: deltaOut,
    });
    entry.lastIn = bytesIn;
    entry.lastOut = bytesOut;
    entry.lastAt = atMs;
    const oldest = atMs - this.windowMs;
    while (entry.samples.length > 0 && entry.samples[0].at < oldest) entry.samples.shift();
  }

  /**
   * Replaces the samples of the snapshot's tunnel with one sample per daemon bucket that moved
   * bytes, and takes the snapshot's counters as the baseline of later readings. Samples recorded
   * before are dropped, because the daemon's buckets contain their bytes, and readings older than
   * the snapshot are ignored afterwards, so no byte counts twice.
   */
  seed(snapshot: TrafficHistorySnapshot): void {
    const atMs = Date.parse(snapshot.at);
    if (Number.isNaN(atMs) || !Array.isArray(snapshot.buckets)) return;
    const samples: RateSample[] = [];
    for (const bucket of snapshot.buckets) {
      const start = Date.parse(bucket.start);
      if (Number.isNaN(start) || !(bucket.bytesIn > 0 || bucket.bytesOut > 0)) continue;
      // The newest bucket is still filling, so it ends at the snapshot.
      const end = Math.min(start + snapshot.bucketMs, atMs);
      const elapsedMs = Math.max(end - start, 1);
      samples.push({
        at: end,
        inPerSecond: (bucket.bytesIn * 1000) / elapsedMs,
        outPerSecond: (bucket.bytesOut * 1000) / elapsedMs,
        bytesIn: bucket.bytesIn,
        bytesOut: bucket.bytesOut,
      });
    }
    this.series.set(snapshot.name, {
      lastIn: snapshot.bytesIn,
      lastOut: snapshot.bytesOut,
      lastAt: atMs,
      samples: samples.filter((sample) => sample.at >= atMs - this.windowMs),
    });
  }

  samples(name: string): readonly RateSample[] {
    return this.series.get(name)?.samples ?? [];
  }

  forget(name: string): void {
    this.series.delete(name);
  }
}

/** Bytes of one fixed time bucket of a traffic chart. */
export interface TrafficBucket {
  /** Epoch milliseconds at which the bucket begins. */
  start: number;
  bytesIn: number;
  bytesOut: number;
}

/**
 * Sums `samples` into `count` buckets of `bucketMs` each, the last one ending at `nowMs`. Each
 * sample counts in the bucket of its later reading, and buckets without samples stay at zero, so
 * the chart's x axis is time and a transfer keeps its place as it ages.
 */
export function bucketTraffic(
  samples: readonly RateSample[],
  nowMs: number,
  bucketMs: number,
  count: number,
): TrafficBucket[] {
  const firstStart = nowMs - bucketMs * count;
  const buckets: TrafficBucket[] = [];
  for (let index = 0; index < count; index += 1) {
    buckets.push({ start: firstStart + index * bucketMs, bytesIn: 0, bytesOut: 0 });
  }
  for (const sample of samples) {
    const index = Math.floor((sample.at - firstStart) / bucketMs);
    if (index < 0 || index >= count) continue;
    buckets[index].bytesIn += sample.bytesIn;
    buckets[index].bytesOut += sample.bytesOut;
  }
  return buckets;
}

/**
 * Smallest height, in pixels, of a bar for a non-zero value, so a small transfer next to a
 * large one still shows.
 */
const MIN_BAR_HEIGHT = 1.5;

/**
 * Builds an SVG path of one bar per value, `width / values.length` wide, growing from
 * `baseline` up (`direction` -1) or down (1) to at most `height` for `max`. Zero values get no
 * bar, so the path is empty when every value is zero.
 */
export function barsPath(
  values: readonly number[],
  width: number,
  baseline: number,
  height: number,
  direction: -1 | 1,
  max = Math.max(...values, 1),
): string {
  if (values.length === 0) return '';
  const step = width / values.length;
  const bars: string[] = [];
  values.forEach((value, index) => {
    if (!(value > 0)) return;
    const barHeight = Math.max(MIN_BAR_HEIGHT, (Math.min(value, max) / max) * height);
    const top = (baseline + direction * barHeight).toFixed(1);
    const left = (index * step).toFixed(1);
    const right = ((index + 1) * step).toFixed(1);
    const base = baseline.toFixed(1);
    // From the baseline to the bar's end, across, and back down to the baseline.
    bars.push(`M${left},${base}V${top}H${right}V${base}Z`);
  });
  return bars.join('');
}
