// Incoming side of the data channel. It puts stream data in sequence order, acknowledges it
// and dispatches each payload by type. It stops reading the websocket while paused delivery
// has stored too much, and detects a gap in the sequence that the agent does not repair.

import { PayloadType, type ClientMessage } from '../protocol/message.js';
import type { MessageEncoder } from '../protocol/message-encoder.js';
import { parseFlag, PayloadError } from '../protocol/payloads.js';
import type { WebSocketConnection } from './connection.js';
import type { ResolvedOptions } from './options.js';
import { ReorderBuffer } from './reorder-buffer.js';
import type { DataChannelCounters } from './stats.js';

/** Payload types the client acknowledges before processing, as the plugin does. */
const ACK_FIRST_PAYLOAD_TYPES = new Set<number>([
  PayloadType.HandshakeRequest,
  PayloadType.HandshakeComplete,
  PayloadType.EncChallengeRequest,
]);

export interface ReceiverDependencies {
  options: Pick<
    ResolvedOptions,
    'maxBufferedMessages' | 'maxBufferedBytes' | 'readPauseThresholdBytes'
  >;
  /** The channel's encoder, shared with the outgoing side's stream data. */
  encoder: MessageEncoder;
  counters: DataChannelCounters;
  /** Returns the current websocket, or null while reconnecting and after the end. */
  connection: () => WebSocketConnection | null;
  isEnded: () => boolean;
  onData: (payload: Buffer) => void;
  onFlag: (flag: number) => void;
  onHandshakeRequest: (message: ClientMessage) => void;
  onHandshakeComplete: (message: ClientMessage) => void;
  onProtocolError: (error: PayloadError) => void;
  /** Called when a frame was dropped because the store is full of messages behind a gap. */
  onStoreFull?: (gap: StreamGap) => void;
}

/** A missing message in the incoming sequence with messages stored ahead of it. */
export interface StreamGap {
  /** The expected sequence number, which has not arrived. */
  missingSequenceNumber: number;
  /** Time the gap has not moved with the websocket open and read, in milliseconds. */
  stalledMs: number;
  storedMessages: number;
  storedBytes: number;
}

export class ChannelReceiver {
  private readonly incoming: ReorderBuffer;
  private readonly readPauseBytes: number;
  private deliveryPaused = false;
  /** True while the websocket is not read, because paused delivery stored too much. */
  private readingPausedState = false;
  /** Epoch milliseconds when the current gap was first seen, or null without a gap. */
  private gapSinceMs: number | null = null;
  /** Expected sequence number when `gapSinceMs` was set. */
  private gapSequenceNumber = -1;

  constructor(private readonly deps: ReceiverDependencies) {
    const options = deps.options;
    this.readPauseBytes = Math.min(options.readPauseThresholdBytes, options.maxBufferedBytes / 2);
    this.incoming = new ReorderBuffer(options.maxBufferedMessages, options.maxBufferedBytes);
  }

  /** True while the websocket must not be read, so a websocket adopted now starts paused. */
  get readingPaused(): boolean {
    return this.readingPausedState;
  }

  /** Stops delivering payloads. DataChannel.pauseDelivery describes the back-pressure. */
  pauseDelivery(): void {
    this.deliveryPaused = true;
  }

  /** Delivers everything stored while paused, in order, then resumes normal delivery. */
  resumeDelivery(): void {
    if (!this.deliveryPaused) {
      return;
    }
    this.deliveryPaused = false;
    this.drainIncoming();
    this.updateReading();
  }

  /** Orders, acknowledges and dispatches one output_stream_data message. */
  receive(message: ClientMessage): void {
    const sequence = message.sequenceNumber;
    if (sequence < 0n || sequence > BigInt(Number.MAX_SAFE_INTEGER)) {
      this.deps.onProtocolError(
        new PayloadError(
          'ERR_PAYLOAD_INVALID_FIELD',
          `invalid SequenceNumber ${sequence} on ${message.messageType}`,
        ),
      );
      return;
    }
    const sequenceNumber = Number(sequence);
    const position = this.incoming.classify(sequenceNumber);
    if (position === 'duplicate') {
      // Re-acknowledging repairs a lost ack; without it the agent would resend forever.
      this.deps.counters.duplicates += 1;
      this.sendAck(message, sequenceNumber);
      // The agent resends its oldest unacknowledged message first, so a duplicate means it
      // is still repairing older losses and will reach the gap: its stall clock restarts.
      this.gapSinceMs = null;
      return;
    }
    if (
      position === 'ahead' ||
      (this.deliveryPaused && !ACK_FIRST_PAYLOAD_TYPES.has(message.payloadType))
    ) {
      // Stored messages are acknowledged. A full store drops the frame unacknowledged, so
      // memory stays bounded.
      if (this.incoming.store(message, sequenceNumber)) {
        this.sendAck(message, sequenceNumber);
        if (this.deliveryPaused) {
          this.updateReading();
        }
      } else {
        this.deps.counters.droppedMessages += 1;
        if (this.incoming.hasGap) {
          // The agent resends one message per 100 ms tick, oldest first, so every frame
          // dropped behind a gap adds a tick, and the stream would crawl for minutes.
          this.deps.onStoreFull?.(this.describeGap(0));
        }
      }
      return;
    }
    if (ACK_FIRST_PAYLOAD_TYPES.has(message.payloadType)) {
      this.sendAck(message, sequenceNumber);
      this.incoming.advance();
      this.process(message);
    } else {
      this.process(message);
      this.sendAck(message, sequenceNumber);
      this.incoming.advance();
    }
    this.drainIncoming();
  }

  /**
   * Returns the gap in the incoming sequence and how long it has not moved, or null when no
   * message is stored ahead of a missing one. The agent resends only its oldest
   * unacknowledged message, so a gap that stays put is never filled. The clock restarts when
   * the gap moves, when a duplicate arrives, and after any time with `connected` false (a
   * reconnect, when the agent cannot resend) or with reading paused.
   */
  currentGap(nowMs: number, connected: boolean): StreamGap | null {
    if (!connected || this.readingPausedState || !this.incoming.hasGap) {
      this.gapSinceMs = null;
      return null;
    }
    const expected = this.incoming.expectedSequenceNumber;
    if (this.gapSinceMs === null || this.gapSequenceNumber !== expected) {
      this.gapSinceMs = nowMs;
      this.gapSequenceNumber = expected;
    }
    return this.describeGap(nowMs - this.gapSinceMs);
  }

  private describeGap(stalledMs: number): StreamGap {
    return {
      missingSequenceNumber: this.incoming.expectedSequenceNumber,
      stalledMs,
      storedMessages: this.incoming.storedCount,
      storedBytes: this.incoming.storedBytes,
    };
  }

  /** Pauses or resumes reading the websocket from the amount stored while paused. */
  private updateReading(): void {
    const full =
      this.deliveryPaused &&
      (this.incoming.storedBytes >= this.readPauseBytes ||
        this.incoming.storedCount >= this.deps.options.maxBufferedMessages / 2);
    if (full === this.readingPausedState) {
      return;
    }
    this.readingPausedState = full;
    if (full) {
      this.deps.connection()?.pauseReading();
    } else {
      this.deps.connection()?.resumeReading();
    }
  }

  private drainIncoming(): void {
    while (!this.deliveryPaused && !this.deps.isEnded()) {
      const message = this.incoming.takeNext();
      if (message === undefined) {
        return;
      }
      this.incoming.advance();
      this.process(message);
    }
  }

  private process(message: ClientMessage): void {
    const counters = this.deps.counters;
    switch (message.payloadType) {
      case PayloadType.Output:
        counters.messagesIn += 1;
        counters.bytesIn += message.payload.length;
        this.deps.onData(message.payload);
        break;
      case PayloadType.Flag: {
        counters.messagesIn += 1;
        const flag = parseFlag(message.payload);
        if (flag.ok) {
          this.deps.onFlag(flag.value);
        } else {
          this.deps.onProtocolError(flag.error);
        }
        break;
      }
      case PayloadType.HandshakeRequest:
        this.deps.onHandshakeRequest(message);
        break;
      case PayloadType.HandshakeComplete:
        this.deps.onHandshakeComplete(message);
        break;
      default:
        // StdErr, ExitCode and encryption challenges belong to shell sessions.
        counters.messagesIn += 1;
        break;
    }
  }

  private sendAck(message: ClientMessage, sequenceNumber: number): void {
    this.deps.connection()?.send(
      this.deps.encoder.encodeAcknowledge({
        messageType: message.messageType,
        messageId: message.messageId,
        sequenceNumber,
      }),
    );
  }
}
