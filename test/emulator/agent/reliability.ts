// Agent-side reliability of the data channel: sequence numbers, acknowledgements, the
// out-of-order buffer and front-only retransmission, with the constants and quirks of
// amazon-ssm-agent (agent/session/datachannel/datachannel.go).

import {
  MessageFlags,
  MessageType,
  PayloadType,
  decodeMessage,
  type ClientMessage,
} from '../../../daemon/protocol/message.js';
import { encodeAgentMessage, peekMessageType, readAckSequence } from './agent-frames.js';

/** The agent's outgoing (unacked) and incoming (out-of-order) buffers hold 100000 messages. */
export const AGENT_BUFFER_CAPACITY = 100_000;
export const RESEND_TICK_MS = 100;
const INITIAL_RTT_MS = 100;
const INITIAL_RTO_MS = 200;
const MAX_RTO_MS = 1000;
const CLOCK_GRANULARITY_MS = 10;
const RTT_GAIN = 1 / 8;
const RTT_VARIATION_GAIN = 1 / 4;

interface OutgoingEntry {
  frame: Buffer;
  lastSentAt: number;
}

export type FrameKind = 'stream' | 'ack';

export interface AgentReliabilityOptions {
  /** Hands a frame to the service relay; the relay may drop it when no websocket is open. */
  transmit: (frame: Buffer, kind: FrameKind) => void;
  /**
   * Processes one in-order input_stream_data message. Returns false when the port
   * session is not ready, so the message is neither acked nor consumed and the client
   * resends it later. A promise blocks every later message, like the agent's reader.
   */
  process: (message: ClientMessage) => boolean | Promise<boolean>;
  /** Receives frames that are neither stream data nor acks (e.g. publication messages). */
  onControl?: (message: ClientMessage) => void;
  /** Reports frames that fail to decode or processing that throws; the frame is dropped. */
  onError?: (error: Error) => void;
  now?: () => number;
}

export class AgentReliability {
  private nextSequence = 0;
  private readonly outgoing = new Map<number, OutgoingEntry>();
  private expected = 0;
  private readonly incoming = new Map<number, ClientMessage>();
  private readonly inbound: ClientMessage[] = [];
  private draining = false;
  private rttMs = INITIAL_RTT_MS;
  private rttVariationMs = 0;
  private rtoMs = INITIAL_RTO_MS;
  private paused = false;
  private closed = false;
  private readonly timer: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(private readonly options: AgentReliabilityOptions) {
    this.now = options.now ?? Date.now;
    this.timer = setInterval(() => this.resendFront(), RESEND_TICK_MS);
    this.timer.unref();
  }

  get expectedSequence(): number {
    return this.expected;
  }

  get nextOutgoingSequence(): number {
    return this.nextSequence;
  }

  get unackedCount(): number {
    return this.outgoing.size;
  }

  get retransmissionTimeoutMs(): number {
    return this.rtoMs;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /**
   * While paused (pause_publication), new messages are numbered and buffered but not
   * written, and the resend scheduler skips its ticks.
   */
  setPaused(paused: boolean): void {
    this.paused = paused;
  }

  /** Numbers, buffers and sends one output_stream_data message; returns its sequence number. */
  sendStreamData(payloadType: number, payload: Buffer): number {
    const sequence = this.nextSequence++;
    const frame = encodeAgentMessage({
      messageType: MessageType.OutputStreamData,
      sequenceNumber: sequence,
      flags: sequence === 0 ? MessageFlags.Syn : MessageFlags.None,
      payloadType,
      payload,
    });
    // A full buffer does not stop the send: the message goes out once, never retransmitted.
    if (this.outgoing.size < AGENT_BUFFER_CAPACITY) {
      this.outgoing.set(sequence, { frame, lastSentAt: this.now() });
    }
    if (!this.paused && !this.closed) {
      this.options.transmit(frame, 'stream');
    }
    return sequence;
  }

  /** Accepts one binary frame from the client side of the relay. */
  receive(frame: Buffer): void {
    if (this.closed) {
      return;
    }
    // Acks are the most frequent frame, and the agent reads only their payload.
    if (peekMessageType(frame) === MessageType.Acknowledge) {
      this.handleAck(frame);
      return;
    }
    let message: ClientMessage;
    try {
      // The agent never checks the payload digest.
      message = decodeMessage(frame, { verifyDigest: false });
    } catch (error) {
      this.options.onError?.(error as Error);
      return;
    }
    if (message.messageType === MessageType.InputStreamData) {
      this.inbound.push(message);
      void this.drainInbound();
    } else {
      this.options.onControl?.(message);
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.outgoing.clear();
    this.incoming.clear();
    this.inbound.length = 0;
  }

  private handleAck(frame: Buffer): void {
    let sequence: number;
    try {
      sequence = readAckSequence(frame);
    } catch (error) {
      this.options.onError?.(error as Error);
      return;
    }
    // Acks are not cumulative: only the entry with that exact sequence number goes.
    const entry = this.outgoing.get(sequence);
    if (entry === undefined) {
      return;
    }
    this.updateRoundTrip(this.now() - entry.lastSentAt);
    this.outgoing.delete(sequence);
  }

  private updateRoundTrip(sampleMs: number): void {
    this.rttVariationMs =
      (1 - RTT_VARIATION_GAIN) * this.rttVariationMs +
      RTT_VARIATION_GAIN * Math.abs(this.rttMs - sampleMs);
    this.rttMs = (1 - RTT_GAIN) * this.rttMs + RTT_GAIN * sampleMs;
    this.rtoMs = Math.min(
      this.rttMs + Math.max(CLOCK_GRANULARITY_MS, 4 * this.rttVariationMs),
      MAX_RTO_MS,
    );
  }

  /** Resends only the oldest unacked message, and only once RTO has passed since its last send. */
  private resendFront(): void {
    if (this.paused || this.closed) {
      return;
    }
    const front = this.outgoing.values().next();
    if (front.done) {
      return;
    }
    const now = this.now();
    if (now - front.value.lastSentAt > this.rtoMs) {
      front.value.lastSentAt = now;
      this.options.transmit(front.value.frame, 'stream');
    }
  }

  private async drainInbound(): Promise<void> {
    if (this.draining) {
      return;
    }
    this.draining = true;
    try {
      while (this.inbound.length > 0 && !this.closed) {
        const message = this.inbound.shift()!;
        const pending = this.handleStreamData(message);
        if (pending !== undefined) {
          await pending;
        }
      }
    } finally {
      this.draining = false;
    }
  }

  /** Returns a promise only when processing is asynchronous, to keep the fast path synchronous. */
  private handleStreamData(message: ClientMessage): Promise<void> | undefined {
    const sequence = Number(message.sequenceNumber);
    if (sequence < this.expected) {
      this.sendAck(message);
      return undefined;
    }
    if (sequence > this.expected) {
      if (this.incoming.size < AGENT_BUFFER_CAPACITY) {
        this.sendAck(message);
        this.incoming.set(sequence, message);
      }
      return undefined;
    }
    return this.settle(this.runProcess(message), (processed) => {
      if (!processed) {
        return undefined;
      }
      this.sendAck(message);
      this.expected++;
      return this.drainBuffered();
    });
  }

  /**
   * Processes buffered messages from `expected` on. They were acked when they arrived, so
   * a message that is not ready stops the drain and nothing resends it: the agent stalls
   * the same way.
   */
  private drainBuffered(): Promise<void> | undefined {
    for (;;) {
      const next = this.incoming.get(this.expected);
      if (next === undefined || this.closed) {
        return undefined;
      }
      const result = this.runProcess(next);
      if (typeof result !== 'boolean') {
        return result.then((processed) => (processed ? this.consumeBuffered() : undefined));
      }
      if (!result) {
        return undefined;
      }
      this.incoming.delete(this.expected);
      this.expected++;
    }
  }

  private consumeBuffered(): Promise<void> | undefined {
    this.incoming.delete(this.expected);
    this.expected++;
    return this.drainBuffered();
  }

  private runProcess(message: ClientMessage): boolean | Promise<boolean> {
    try {
      const result = this.options.process(message);
      if (typeof result === 'boolean') {
        return result;
      }
      return result.catch((error: Error) => {
        this.options.onError?.(error);
        return false;
      });
    } catch (error) {
      this.options.onError?.(error as Error);
      return false;
    }
  }

  private settle(
    result: boolean | Promise<boolean>,
    then: (processed: boolean) => Promise<void> | undefined,
  ): Promise<void> | undefined {
    if (typeof result === 'boolean') {
      return then(result);
    }
    return result.then(then);
  }

  private sendAck(message: ClientMessage): void {
    const payload = Buffer.from(
      JSON.stringify({
        AcknowledgedMessageType: message.messageType,
        AcknowledgedMessageId: message.messageId,
        AcknowledgedMessageSequenceNumber: Number(message.sequenceNumber),
        IsSequentialMessage: true,
      }),
    );
    const frame = encodeAgentMessage({
      messageType: MessageType.Acknowledge,
      flags: MessageFlags.SynFin,
      payloadType: PayloadType.Undefined,
      payload,
    });
    this.options.transmit(frame, 'ack');
  }
}
