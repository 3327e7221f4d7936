// Incoming side of the reliability layer: the next expected sequence number and a
// bounded store of messages that arrived ahead of it (or while delivery is paused).
// Stored messages have been acknowledged, so they must never be discarded.

import type { ClientMessage } from '../protocol/message.js';
import { retainableBuffer } from '../protocol/retainable-buffer.js';

export class ReorderBuffer {
  private expected = 0;
  private readonly stored = new Map<number, ClientMessage>();
  private storedBytesTotal = 0;

  constructor(
    private readonly maxMessages: number,
    private readonly maxBytes: number,
  ) {}

  /** The sequence number the next delivered message must carry. */
  get expectedSequenceNumber(): number {
    return this.expected;
  }

  get storedCount(): number {
    return this.stored.size;
  }

  get storedBytes(): number {
    return this.storedBytesTotal;
  }

  /** True when messages are stored ahead of a missing expected message. */
  get hasGap(): boolean {
    return this.stored.size > 0 && !this.stored.has(this.expected);
  }

  /** True when storing a payload of `payloadBytes` would pass the message or byte limit. */
  isFull(payloadBytes: number): boolean {
    return (
      this.stored.size >= this.maxMessages || this.storedBytesTotal + payloadBytes > this.maxBytes
    );
  }

  /** Classifies an arriving message without changing any state. */
  classify(sequenceNumber: number): 'in-order' | 'ahead' | 'duplicate' {
    if (sequenceNumber === this.expected) {
      return 'in-order';
    }
    return sequenceNumber > this.expected ? 'ahead' : 'duplicate';
  }

  /**
   * Stores a message that cannot be delivered yet. A repeat of a stored sequence number
   * replaces the copy. Returns false when the store is at its message or byte limit.
   * A payload that is a small view into a larger buffer is stored as a copy.
   */
  store(message: ClientMessage, sequenceNumber: number): boolean {
    const previous = this.stored.get(sequenceNumber);
    if (previous !== undefined) {
      this.storedBytesTotal -= previous.payload.length;
    } else if (this.isFull(message.payload.length)) {
      return false;
    }
    this.stored.set(sequenceNumber, {
      ...message,
      payload: retainableBuffer(message.payload),
    });
    this.storedBytesTotal += message.payload.length;
    return true;
  }

  /** Marks the expected message as delivered. */
  advance(): void {
    this.expected += 1;
  }

  /** Removes and returns the stored message with the expected sequence number, if any. */
  takeNext(): ClientMessage | undefined {
    const message = this.stored.get(this.expected);
    if (message !== undefined) {
      this.stored.delete(this.expected);
      this.storedBytesTotal -= message.payload.length;
    }
    return message;
  }
}
