// Fault-injection soak through a daemon tunnel. SOAK_SECONDS sets the length (default 120);
// `npm run soak` runs the same scenario for 30 minutes and prints every figure.

import { describe, expect, it } from 'vitest';
import { runSoak } from './harness/soak.js';

const SOAK_SECONDS = Number(process.env.SOAK_SECONDS ?? 120);

describe('soak under faults', () => {
  it('loses no byte and keeps RSS flat', { timeout: (SOAK_SECONDS + 150) * 1000 }, async () => {
    const figures = await runSoak({ durationMs: SOAK_SECONDS * 1000 });
    console.log(JSON.stringify(figures, null, 2));

    expect(figures.failures).toEqual([]);
    expect(figures.connections.failed).toBe(0);
    expect(figures.connections.mismatched).toBe(0);
    expect(figures.connections.ok).toBe(figures.connections.total);
    expect(figures.connections.total).toBeGreaterThanOrEqual(20);
    expect(figures.faults.websocketCloses).toBeGreaterThanOrEqual(1);
    expect(figures.faults.pauseBursts).toBeGreaterThanOrEqual(1);
    expect(figures.tunnelReconnects).toBeGreaterThanOrEqual(figures.faults.websocketCloses);
    expect(figures.tunnelState).toBe('open');
    expect(figures.rss.samples).toBeGreaterThan(SOAK_SECONDS / 2);
    expect(figures.rss.growth).toBeLessThanOrEqual(0.1);
  });
});
