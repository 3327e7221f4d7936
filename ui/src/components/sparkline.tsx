import { formatBytes, formatRate } from '../lib/format.js';
import { barsPath, bucketTraffic, type RateSample } from '../lib/traffic.js';

const WIDTH = 160;
const HEIGHT = 36;
/** Inbound bars grow up from this line, outbound bars down. */
const BASELINE = HEIGHT / 2;
/** The chart spans 60 buckets of 5 s, the five minutes that TrafficHistory keeps. */
const BUCKET_MS = 5_000;
const BUCKETS = 60;

interface SparklineProps {
  samples: readonly RateSample[];
  /** Epoch milliseconds at the chart's right edge. */
  nowMs: number;
  /** True while the daemon does not respond, so the latest rate is no longer current. */
  stale?: boolean;
}

/**
 * Draws the bytes of the last five minutes in 5 s buckets: inbound as bars above the middle line,
 * outbound below it. The bytes of each direction in the window are also in data attributes.
 */
export function Sparkline({ samples, nowMs, stale = false }: SparklineProps) {
  // The clock ticks every few seconds, so a sample can be newer than `nowMs`.
  const endMs = Math.max(nowMs, samples.at(-1)?.at ?? 0);
  const buckets = bucketTraffic(samples, endMs, BUCKET_MS, BUCKETS);
  const inbound = buckets.map((bucket) => bucket.bytesIn);
  const outbound = buckets.map((bucket) => bucket.bytesOut);
  // Both directions share one scale, so the busier one reaches its edge.
  const max = Math.max(1, ...inbound, ...outbound);
  const totalIn = inbound.reduce((sum, bytes) => sum + bytes, 0);
  const totalOut = outbound.reduce((sum, bytes) => sum + bytes, 0);
  const latest = samples.at(-1);
  const totals = `${formatBytes(totalIn)} in, ${formatBytes(totalOut)} out in 5 min`;
  let summary: string;
  if (stale) {
    summary = `current rate unknown while the daemon does not respond; ${totals}`;
  } else if (latest) {
    summary =
      `now ${formatRate(latest.inPerSecond)} in, ${formatRate(latest.outPerSecond)} out; ` + totals;
  } else {
    summary = 'no traffic samples yet';
  }
  return (
    <figure
      class="sparkline"
      data-testid="traffic-chart"
      data-total-in={totalIn}
      data-total-out={totalOut}
      data-stale={stale}
    >
      <svg
        width={WIDTH}
        height={HEIGHT}
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={`Traffic of the last 5 minutes: ${summary}`}
      >
        <line class="spark-axis" x1={0} y1={BASELINE} x2={WIDTH} y2={BASELINE} />
        <path class="spark-in" d={barsPath(inbound, WIDTH, BASELINE, BASELINE, -1, max)} />
        <path class="spark-out" d={barsPath(outbound, WIDTH, BASELINE, BASELINE, 1, max)} />
      </svg>
      <figcaption>{summary}</figcaption>
    </figure>
  );
}
