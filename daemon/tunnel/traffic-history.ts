// Traffic of one tunnel over the last five minutes in fixed 5 s buckets, so a dashboard opened
// late can chart what moved before it connected. Memory is a fixed ring of buckets per tunnel.

/** Width of one bucket, in milliseconds. */
export const TRAFFIC_BUCKET_MS = 5_000;
/** Number of buckets kept: 60 of 5 s cover the last five minutes. */
export const TRAFFIC_BUCKET_COUNT = 60;

/** Bytes moved during one bucket. */
export interface TrafficBucket {
  /** ISO 8601 time at which the bucket begins, a multiple of `bucketMs` since the epoch. */
  start: string;
  bytesIn: number;
  bytesOut: number;
}

/** The buckets of one tunnel, oldest first, and the counters they were computed from. */
export interface TrafficHistorySnapshot {
  name: string;
  bucketMs: number;
  /** ISO 8601 time of the snapshot: the buckets contain every byte counted up to it. */
  at: string;
  /** The tunnel's running totals at `at`, the same counters as TunnelStatus. */
  bytesIn: number;
  bytesOut: number;
  /** Always `TRAFFIC_BUCKET_COUNT` buckets; the last one contains `at`. */
  buckets: TrafficBucket[];
}

/**
 * Turns a tunnel's running byte totals into per-bucket deltas. `record` is called with the
 * totals whenever they are read, and the bytes since the previous call count in the bucket of
 * the current call. The manager reads every tunnel's status once a second for its traffic
 * events, so bytes land at most that late and no timer of its own is needed.
 */
export class TrafficHistory {
  private readonly bytesIn = new Float64Array(TRAFFIC_BUCKET_COUNT);
  private readonly bytesOut = new Float64Array(TRAFFIC_BUCKET_COUNT);
  /** Bucket number (epoch milliseconds / TRAFFIC_BUCKET_MS) each slot contains, or -1. */
  private readonly slotBucket = new Float64Array(TRAFFIC_BUCKET_COUNT).fill(-1);
  /** Totals of the previous `record` call; a tunnel's counters begin at zero. */
  private lastIn = 0;
  private lastOut = 0;
  private lastBucket = -1;

  /** Adds the bytes counted since the previous call to the bucket of `nowMs`. */
  record(nowMs: number, totalIn: number, totalOut: number): void {
    // A total below the previous one means the counters restarted, so all of it is new.
    const deltaIn = totalIn >= this.lastIn ? totalIn - this.lastIn : totalIn;
    const deltaOut = totalOut >= this.lastOut ? totalOut - this.lastOut : totalOut;
    this.lastIn = totalIn;
    this.lastOut = totalOut;
    // A clock stepped back keeps adding to the newest bucket rather than rewriting old ones.
    const bucket = Math.max(Math.floor(nowMs / TRAFFIC_BUCKET_MS), this.lastBucket);
    this.lastBucket = bucket;
    if (deltaIn === 0 && deltaOut === 0) {
      return;
    }
    const slot = bucket % TRAFFIC_BUCKET_COUNT;
    if (this.slotBucket[slot] !== bucket) {
      this.slotBucket[slot] = bucket;
      this.bytesIn[slot] = 0;
      this.bytesOut[slot] = 0;
    }
    this.bytesIn[slot] += deltaIn;
    this.bytesOut[slot] += deltaOut;
  }

  /** Returns the buckets of the five minutes that end with the bucket of `nowMs`. */
  snapshot(name: string, nowMs: number): TrafficHistorySnapshot {
    const last = Math.max(Math.floor(nowMs / TRAFFIC_BUCKET_MS), this.lastBucket);
    const buckets: TrafficBucket[] = [];
    for (let bucket = last - TRAFFIC_BUCKET_COUNT + 1; bucket <= last; bucket += 1) {
      const slot = bucket % TRAFFIC_BUCKET_COUNT;
      const isCurrent = this.slotBucket[slot] === bucket;
      buckets.push({
        start: new Date(bucket * TRAFFIC_BUCKET_MS).toISOString(),
        bytesIn: isCurrent ? this.bytesIn[slot] : 0,
        bytesOut: isCurrent ? this.bytesOut[slot] : 0,
      });
    }
    return {
      name,
      bucketMs: TRAFFIC_BUCKET_MS,
      at: new Date(nowMs).toISOString(),
      bytesIn: this.lastIn,
      bytesOut: this.lastOut,
      buckets,
    };
  }
}
