// Retry delays and the sleep/wake detector used by tunnels.

export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  /** Fraction of each delay that is random, 0 to 1, so many tunnels do not retry in step. */
  jitter?: number;
  random?: () => number;
}

/** Exponential backoff with jitter, capped at `maxMs`. */
export class Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly jitter: number;
  private readonly random: () => number;
  private attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 500;
    this.maxMs = options.maxMs ?? 60_000;
    this.jitter = options.jitter ?? 0.3;
    this.random = options.random ?? Math.random;
  }

  /** Returns the delay before the next attempt, in milliseconds, and counts the attempt. */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    const spread = base * this.jitter;
    return Math.round(base - spread + this.random() * spread);
  }

  get attempts(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}

export interface DriftWatchOptions {
  intervalMs?: number;
  /** How late a tick must fire to count as a suspend and resume. */
  thresholdMs?: number;
  now?: () => number;
}

/**
 * Calls `onDrift(lateByMs)` when the interval timer fires much later than scheduled, which
 * happens after the machine slept. Returns a function that stops the watch.
 */
export function watchClockDrift(
  onDrift: (lateByMs: number) => void,
  options: DriftWatchOptions = {},
): () => void {
  const intervalMs = options.intervalMs ?? 5000;
  const thresholdMs = options.thresholdMs ?? 15_000;
  const now = options.now ?? Date.now;
  let last = now();
  const timer = setInterval(() => {
    const current = now();
    const lateBy = current - last - intervalMs;
    last = current;
    if (lateBy >= thresholdMs) {
      onDrift(lateBy);
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
