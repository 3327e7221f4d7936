import type { RateSample } from '../lib/traffic.js';
import { formatRate } from '../lib/format.js';
import { sparklinePath } from '../lib/traffic.js';

const WIDTH = 160;
const HEIGHT = 32;

/** Draws the inbound and outbound rate of the last minutes as two SVG lines. */
export function Sparkline({ samples }: { samples: readonly RateSample[] }) {
  const inbound = samples.map((sample) => sample.inPerSecond);
  const outbound = samples.map((sample) => sample.outPerSecond);
  const latest = samples.at(-1);
  const summary = latest
    ? `now ${formatRate(latest.inPerSecond)} in, ${formatRate(latest.outPerSecond)} out`
    : 'no traffic samples yet';
  // Both lines share one scale, so the busier direction touches the top edge.
  const max = Math.max(1, ...inbound, ...outbound);
  return (
    <figure class="sparkline">
      <svg
        width={WIDTH}
        height={HEIGHT}
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={`Traffic of the last minutes: ${summary}`}
      >
        <path class="spark-in" d={sparklinePath(inbound, WIDTH, HEIGHT, max)} />
        <path class="spark-out" d={sparklinePath(outbound, WIDTH, HEIGHT, max)} />
      </svg>
      <figcaption>{summary}</figcaption>
    </figure>
  );
}
