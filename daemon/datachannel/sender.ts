// Outgoing side of the data channel: queues stream data and flags, sends what fits in the
// window, retransmits expired messages and takes round-trip samples from acks.

import { PayloadType, type ClientMessage } from '../protocol/message.js';
import type { MessageEncoder } from '../protocol/message-encoder.js';
import { encodeFlag, parseAcknowledge, type PayloadError } from '../protocol/payloads.js';
import type { WebSocketConnection } from './connection.js';
import type { ResolvedOptions } from './options.js';
import { OutgoingWindow, type QueuedMessage } from './outgoing-window.js';
import { RtoEstimator } from './rto.js';
import type { DataChannelCounters } from './stats.js';

export interface SenderDependencies {
  options: Pick<ResolvedOptions, 'windowBytes' | 'maxPayloadBytes' | 'retransmitBytesPerTick'>;
  /** The channel's encoder, shared with the incoming side's acks. */
  encoder: MessageEncoder;
  counters: DataChannelCounters;
  /** Returns the current websocket, or null while reconnecting and after the end. */
  connection: () => WebSocketConnection | null;
  isEnded: () => boolean;
  /** Returns true once HandshakeComplete arrived, because stream data waits for it. */
  isHandshakeComplete: () => boolean;
  /** Called when a full window has room again, for the channel's `drain` event. */
  onDrain: () => void;
  onProtocolError: (error: PayloadError) => void;
}

export class ChannelSender {
  /** Set by pause_publication: the agent is away, so nothing is sent or retransmitted. */
  publicationPaused = false;
  private readonly window: OutgoingWindow;
  private readonly rto = new RtoEstimator();
  private drainNeeded = false;

  constructor(private readonly deps: SenderDependencies) {
    this.window = new OutgoingWindow(deps.options.windowBytes);
  }

  get rttMs(): number | null {
    return this.rto.rttMs;
  }

  get rtoMs(): number {
    return this.rto.rtoMs;
  }

  get unackedBytes(): number {
    return this.window.unackedBytes;
  }

  /**
   * Queues PayloadType 1 data in messages of at most `maxPayloadBytes`. Returns false when
   * the window is full. The data stays queued, and `onDrain` runs once there is room.
   */
  send(payload: Buffer): boolean {
    const maxPayloadBytes = this.deps.options.maxPayloadBytes;
    // Go peers never send an empty payload, and the agent ignores empty stream data.
    for (let offset = 0; offset < payload.length; offset += maxPayloadBytes) {
      const chunk = payload.subarray(offset, offset + maxPayloadBytes);
      this.window.enqueue({ payloadType: PayloadType.Output, payload: Buffer.from(chunk) });
    }
    this.pump();
    if (this.window.isFull) {
      this.drainNeeded = true;
      return false;
    }
    return true;
  }

  /** Queues a PayloadType 10 flag (a big-endian uint32) behind any queued data. */
  sendFlag(flag: number): void {
    this.window.enqueue({ payloadType: PayloadType.Flag, payload: encodeFlag(flag) });
    this.pump();
  }

  /**
   * Numbers and sends a message at once, ahead of the queue and regardless of the window.
   * Only the HandshakeResponse and the TerminateSession flag go this way.
   */
  sendNow(message: QueuedMessage): void {
    const entry = this.window.insertNow(
      (sequenceNumber, queued) => this.encodeStreamData(sequenceNumber, queued),
      message,
      performance.now(),
    );
    this.deps.connection()?.send(entry.frame);
  }

  /** Removes the acknowledged message from the window and sends what now fits. */
  acknowledge(message: ClientMessage): void {
    const parsed = parseAcknowledge(message.payload);
    if (!parsed.ok) {
      this.deps.onProtocolError(parsed.error);
      return;
    }
    const entry = this.window.acknowledge(parsed.value.AcknowledgedMessageSequenceNumber);
    // Karn's algorithm: an ack of a retransmitted message may acknowledge any of its copies.
    if (entry !== undefined && entry.retransmits === 0) {
      this.rto.addSample(performance.now() - entry.lastSentMs);
    }
    this.pump();
  }

  /**
   * Sends queued messages that fit in the window and runs `onDrain` when there is room.
   * Expired messages are left to the resend timer, because scanning the whole window on
   * every inbound frame would cost O(window) per frame.
   */
  pump(): void {
    const connection = this.sendableConnection();
    if (connection === null) {
      return;
    }
    if (this.deps.isHandshakeComplete()) {
      const admitted = this.window.admit((sequenceNumber, message) => {
        this.deps.counters.messagesOut += 1;
        if (message.payloadType === PayloadType.Output) {
          this.deps.counters.bytesOut += message.payload.length;
        }
        return this.encodeStreamData(sequenceNumber, message);
      }, performance.now());
      for (const entry of admitted) {
        connection.send(entry.frame);
      }
    }
    if (this.drainNeeded && !this.window.isFull) {
      this.drainNeeded = false;
      this.deps.onDrain();
    }
  }

  /**
   * Retransmits, in sequence order, the messages whose backed-off timeout expired, at most
   * `retransmitBytesPerTick` payload bytes per tick. Nothing is resent while earlier frames
   * still wait in the socket's send buffer: they have not left this process, so they
   * cannot have been lost, and the ack delay comes from our own queue.
   */
  resendExpired(): void {
    const connection = this.sendableConnection();
    if (connection === null) {
      return;
    }
    const budget = this.deps.options.retransmitBytesPerTick;
    if (connection.bufferedAmount > budget) {
      return;
    }
    for (const entry of this.window.takeExpired(performance.now(), this.rto.rtoMs, budget)) {
      connection.send(entry.frame);
      this.deps.counters.retransmits += 1;
    }
  }

  /** Resends every unacknowledged message, since frames in flight died with the old socket. */
  resendAll(): void {
    const connection = this.deps.connection();
    if (connection === null || this.publicationPaused) {
      return;
    }
    for (const entry of this.window.takeExpired(performance.now(), 0, Infinity)) {
      connection.send(entry.frame);
      this.deps.counters.retransmits += 1;
    }
  }

  /** Returns the websocket if it is open and the agent accepts messages, otherwise null. */
  private sendableConnection(): WebSocketConnection | null {
    const connection = this.deps.connection();
    if (
      this.deps.isEnded() ||
      connection === null ||
      !connection.isOpen ||
      this.publicationPaused
    ) {
      return null;
    }
    return connection;
  }

  private encodeStreamData(sequenceNumber: number, message: QueuedMessage): Buffer {
    return this.deps.encoder.encodeStreamData(sequenceNumber, message.payloadType, message.payload);
  }
}
