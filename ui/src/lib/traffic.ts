/** Rates of one time bucket, in bytes per second. */
export interface RateSample {
  at: number;
  inPerSecond: number;
  outPerSecond: number;
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
    });
    entry.lastIn = bytesIn;
    entry.lastOut = bytesOut;
    entry.lastAt = atMs;
    const oldest = atMs - this.windowMs;
    while (entry.samples.length > 0 && entry.samples[0].at < oldest) entry.samples.shift();
  }

  samples(name: string): readonly RateSample[] {
    return this.series.get(name)?.samples ?? [];
  }

  forget(name: string): void {
    this.series.delete(name);
  }
}

/**
 * Builds an SVG path of a sparkline through `values`, scaled so `max` (by default the largest
 * value) touches the top edge; returns an empty string for fewer than two values.
 */
export function sparklinePath(
  values: readonly number[],
  width: number,
  height: number,
  max = Math.max(...values, 1),
): string {
  if (values.length < 2) return '';
  const step = width / (values.length - 1);
  const points = values.map((value, index) => {
    const x = index * step;
    const y = height - (Math.min(Math.max(0, value), max) / max) * height;
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  });
  return `M${points.join('L')}`;
}
