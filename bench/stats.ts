// Summary statistics for latency samples and repeated throughput runs.

/** Returns the q-quantile (0 to 1) of `samples` by the nearest-rank method. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) {
    return Number.NaN;
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(samples: readonly number[]): number {
  return quantile(samples, 0.5);
}

export interface LatencySummary {
  samples: number;
  p50Ms: number;
  p99Ms: number;
}

export function summarizeLatency(samples: readonly number[]): LatencySummary {
  return { samples: samples.length, p50Ms: quantile(samples, 0.5), p99Ms: quantile(samples, 0.99) };
}

/** Rounds to three significant digits so the JSON and the tables stay readable. */
export function round3(value: number): number {
  if (!Number.isFinite(value) || value === 0) {
    return value;
  }
  const digits = 3 - Math.ceil(Math.log10(Math.abs(value)));
  const factor = 10 ** Math.max(0, digits);
  return Math.round(value * factor) / factor;
}
