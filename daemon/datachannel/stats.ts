// Counters of one data channel, shared by its incoming and outgoing sides, and the stats
// shape the channel reports.

export interface DataChannelStats {
  /** PayloadType 1 bytes delivered to the caller. */
  bytesIn: number;
  /** PayloadType 1 bytes sent for the first time. */
  bytesOut: number;
  /** Stream-data messages delivered in order. */
  messagesIn: number;
  /** Stream-data messages sent for the first time. */
  messagesOut: number;
  retransmits: number;
  /** Stream-data messages received again after delivery. */
  duplicates: number;
  reconnects: number;
  /** Smoothed round-trip time in milliseconds; null before the first ack. */
  rttMs: number | null;
  rtoMs: number;
  unackedBytes: number;
  /** Frames dropped because they failed to decode or carried an invalid payload. */
  protocolErrors: number;
  /**
   * Stream-data messages dropped unacknowledged because the reorder buffer was full. One
   * dropped behind a gap ends the channel with ERR_STREAM_STALLED.
   */
  droppedMessages: number;
  /** 1 when the channel ended with ERR_STREAM_STALLED, else 0. */
  stalls: number;
}

/** The stats a channel counts itself; the rest come from the window and the RTO estimator. */
export type DataChannelCounters = Omit<DataChannelStats, 'rttMs' | 'rtoMs' | 'unackedBytes'>;

export function createCounters(): DataChannelCounters {
  return {
    bytesIn: 0,
    bytesOut: 0,
    messagesIn: 0,
    messagesOut: 0,
    retransmits: 0,
    duplicates: 0,
    reconnects: 0,
    protocolErrors: 0,
    droppedMessages: 0,
    stalls: 0,
  };
}
