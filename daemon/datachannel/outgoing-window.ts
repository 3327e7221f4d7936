// Outgoing side of the reliability layer: sequence numbering, the bounded window of
// unacknowledged messages, and the queue of messages waiting for room in that window.
//
// Unlike the official plugin, which evicts its oldest unacknowledged message when its
// buffer is full, nothing here is ever dropped: messages wait in the queue until acks
// free the window, and the caller learns about it through `isFull`.
//
// Retransmission follows Karn's algorithm per message: every retransmission doubles that
// message's timeout, and the caller takes no RTT sample from a retransmitted message.

/** Ceiling of a message's backed-off retransmission timeout. */
export const MAX_BACKOFF_MS = 10_000;

export interface OutgoingEntry {
  sequenceNumber: number;
  frame: Buffer;
  /** Payload bytes, the unit the window is measured in. */
  payloadBytes: number;
  /** Time of the last transmission, in milliseconds of the injected clock. */
  lastSentMs: number;
  /** Retransmissions so far; the timeout doubles with each one. */
  retransmits: number;
}

export interface QueuedMessage {
  payloadType: number;
  payload: Buffer;
}

/** Serializes a message once its sequence number is known. */
export type FrameEncoder = (sequenceNumber: number, message: QueuedMessage) => Buffer;

export class OutgoingWindow {
  private nextSequenceNumber = 0;
  private readonly queue: QueuedMessage[] = [];
  private queueHead = 0;
  private queuedBytesTotal = 0;
  private readonly unacked = new Map<number, OutgoingEntry>();
  private unackedBytesTotal = 0;

  constructor(private readonly windowBytes: number) {}

  get unackedBytes(): number {
    return this.unackedBytesTotal;
  }

  get unackedCount(): number {
    return this.unacked.size;
  }

  get queuedBytes(): number {
    return this.queuedBytesTotal;
  }

  get queuedCount(): number {
    return this.queue.length - this.queueHead;
  }

  /** True when unacknowledged plus queued bytes reach the window size. */
  get isFull(): boolean {
    return this.unackedBytesTotal + this.queuedBytesTotal >= this.windowBytes;
  }

  enqueue(message: QueuedMessage): void {
    this.queue.push(message);
    this.queuedBytesTotal += message.payload.length;
  }

  /**
   * Moves queued messages into the window while it has room, numbering and encoding each,
   * and returns them for transmission. A message larger than the whole window is admitted
   * when the window is empty, so no message can wait forever.
   */
  admit(encode: FrameEncoder, nowMs: number): OutgoingEntry[] {
    const admitted: OutgoingEntry[] = [];
    while (this.queueHead < this.queue.length && this.unackedBytesTotal < this.windowBytes) {
      const message = this.queue[this.queueHead]!;
      this.queue[this.queueHead] = undefined as unknown as QueuedMessage;
      this.queueHead += 1;
      this.queuedBytesTotal -= message.payload.length;
      admitted.push(this.insert(encode, message, nowMs));
    }
    this.compactQueue();
    return admitted;
  }

  /** Numbers and stores a message ahead of the queue, for the handshake and TerminateSession. */
  insertNow(encode: FrameEncoder, message: QueuedMessage, nowMs: number): OutgoingEntry {
    return this.insert(encode, message, nowMs);
  }

  /** Removes the entry an ack names; acks are not cumulative, so only that one goes. */
  acknowledge(sequenceNumber: number): OutgoingEntry | undefined {
    const entry = this.unacked.get(sequenceNumber);
    if (entry !== undefined) {
      this.unacked.delete(sequenceNumber);
      this.unackedBytesTotal -= entry.payloadBytes;
    }
    return entry;
  }

  /**
   * Returns the entries whose backed-off timeout expired, in sequence order, and marks
   * each as retransmitted at `nowMs`. A message's timeout is `rtoMs` doubled once per
   * earlier retransmission, up to MAX_BACKOFF_MS. The scan stops once the returned
   * payloads reach `maxBytes`; the first due entry is always returned, so the oldest
   * loss is never starved.
   */
  takeExpired(nowMs: number, rtoMs: number, maxBytes: number): OutgoingEntry[] {
    const due: OutgoingEntry[] = [];
    let bytes = 0;
    for (const entry of this.unacked.values()) {
      if (nowMs - entry.lastSentMs <= backoffTimeoutMs(rtoMs, entry.retransmits)) {
        continue;
      }
      if (due.length > 0 && bytes + entry.payloadBytes > maxBytes) {
        break;
      }
      bytes += entry.payloadBytes;
      entry.lastSentMs = nowMs;
      entry.retransmits += 1;
      due.push(entry);
    }
    return due;
  }

  /** Returns all unacknowledged entries in sequence order, for resending after a reconnect. */
  all(): OutgoingEntry[] {
    // Map iteration follows insertion, and entries are inserted in sequence order.
    return [...this.unacked.values()];
  }

  private insert(encode: FrameEncoder, message: QueuedMessage, nowMs: number): OutgoingEntry {
    const sequenceNumber = this.nextSequenceNumber;
    this.nextSequenceNumber += 1;
    const entry: OutgoingEntry = {
      sequenceNumber,
      frame: encode(sequenceNumber, message),
      payloadBytes: message.payload.length,
      lastSentMs: nowMs,
      retransmits: 0,
    };
    this.unacked.set(sequenceNumber, entry);
    this.unackedBytesTotal += entry.payloadBytes;
    return entry;
  }

  private compactQueue(): void {
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }
}

/** Returns the retransmission timeout of a message after `retransmits` retransmissions. */
export function backoffTimeoutMs(rtoMs: number, retransmits: number): number {
  return Math.min(rtoMs * 2 ** Math.min(retransmits, 16), Math.max(rtoMs, MAX_BACKOFF_MS));
}
