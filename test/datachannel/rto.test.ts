import { describe, expect, it } from 'vitest';
import { INITIAL_RTO_MS, MAX_RTO_MS, RtoEstimator } from '../../daemon/datachannel/rto.js';

describe('RtoEstimator', () => {
  it('starts at 200 ms with no RTT', () => {
    const estimator = new RtoEstimator();
    expect(estimator.rtoMs).toBe(INITIAL_RTO_MS);
    expect(estimator.rttMs).toBeNull();
  });

  it('matches the worked example for a 50 ms sample', () => {
    const estimator = new RtoEstimator();
    estimator.addSample(50);
    expect(estimator.rttMs).toBeCloseTo(93.75, 10);
    expect(estimator.rtoMs).toBeCloseTo(143.75, 10);
  });

  it('uses the granularity floor for steady samples', () => {
    const estimator = new RtoEstimator();
    for (let i = 0; i < 200; i++) {
      estimator.addSample(100);
    }
    expect(estimator.rttMs).toBeCloseTo(100, 6);
    expect(estimator.rtoMs).toBeCloseTo(110, 6);
  });

  it('caps at 1 s', () => {
    const estimator = new RtoEstimator();
    estimator.addSample(5_000);
    expect(estimator.rtoMs).toBe(MAX_RTO_MS);
  });
});
