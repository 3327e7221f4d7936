// Retransmission timeout estimator with the constants both official peers use (the
// RFC 6298 algorithm with a 1 s ceiling): initial RTT 100 ms, RTTVAR 0, RTO 200 ms,
// alpha 1/8, beta 1/4, clock granularity G 10 ms.

export const INITIAL_RTT_MS = 100;
export const INITIAL_RTO_MS = 200;
export const MAX_RTO_MS = 1000;
export const CLOCK_GRANULARITY_MS = 10;
const ALPHA = 1 / 8;
const BETA = 1 / 4;

export class RtoEstimator {
  private rtt = INITIAL_RTT_MS;
  private rttVariation = 0;
  private rto = INITIAL_RTO_MS;
  private sampled = false;

  /** Smoothed round-trip time in milliseconds, or null before the first sample. */
  get rttMs(): number | null {
    return this.sampled ? this.rtt : null;
  }

  get rtoMs(): number {
    return this.rto;
  }

  /** Feeds one round-trip sample in milliseconds. RTTVAR uses the RTT before this sample. */
  addSample(sampleMs: number): void {
    const sample = Math.max(0, sampleMs);
    this.rttVariation = (1 - BETA) * this.rttVariation + BETA * Math.abs(this.rtt - sample);
    this.rtt = (1 - ALPHA) * this.rtt + ALPHA * sample;
    this.rto = Math.min(
      this.rtt + Math.max(CLOCK_GRANULARITY_MS, 4 * this.rttVariation),
      MAX_RTO_MS,
    );
    this.sampled = true;
  }
}
