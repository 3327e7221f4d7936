// A minimal data-channel client for emulator tests, built directly on the message codec:
// it opens the websocket, acks agent messages in order and records everything it gets.

import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import {
  MessageFlags,
  MessageType,
  PayloadType,
  decodeMessage,
  encodeMessage,
  type ClientMessage,
} from '../../daemon/protocol/message.js';
import { TickCork } from './tick-cork.js';

export interface RawClientOptions {
  streamUrl: string;
  token: string;
  clientVersion?: string;
  clientId?: string;
  /** Ack every new output_stream_data message; default true. */
  autoAck?: boolean;
  /** Receives PayloadType 1 payloads in order instead of storing them in `data`. */
  onData?: (payload: Buffer) => void;
}

export class RawClient {
  readonly websocket: WebSocket;
  /** Every decoded frame, in arrival order. */
  readonly frames: ClientMessage[] = [];
  /** Payloads of in-order output_stream_data messages with PayloadType 1. */
  readonly data: Buffer[] = [];
  expected = 0;
  nextSequence = 0;
  closeCode: number | undefined;
  closeReason = '';
  private readonly pending = new Map<number, ClientMessage>();
  private waiters: { test: () => boolean; resolve: () => void }[] = [];
  private readonly autoAck: boolean;
  private readonly transportCork: TickCork | undefined;

  private constructor(
    websocket: WebSocket,
    private readonly options: RawClientOptions,
    transport: Socket | undefined,
  ) {
    this.websocket = websocket;
    this.transportCork = transport ? new TickCork(transport) : undefined;
    this.autoAck = options.autoAck ?? true;
    websocket.on('message', (data: Buffer) => this.onFrame(data));
    websocket.on('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
      this.notify();
    });
  }

  static async open(options: RawClientOptions): Promise<RawClient> {
    const websocket = new WebSocket(options.streamUrl);
    let transport: Socket | undefined;
    websocket.once('upgrade', (response) => {
      transport = response.socket as Socket;
    });
    await new Promise<void>((resolve, reject) => {
      websocket.once('open', resolve);
      websocket.once('error', reject);
    });
    const client = new RawClient(websocket, options, transport);
    websocket.send(
      JSON.stringify({
        MessageSchemaVersion: '1.0',
        RequestId: randomUUID(),
        TokenValue: options.token,
        ClientId: options.clientId ?? randomUUID(),
        ClientVersion: options.clientVersion ?? '1.2.650.0',
      }),
    );
    return client;
  }

  /** Resolves once `test` holds, checked on every frame and every 20 ms; rejects after `timeoutMs`. */
  waitFor(test: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    if (test()) {
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const poll = setInterval(() => this.notify(), 20);
      const timer = setTimeout(() => {
        clearInterval(poll);
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const done = () => {
        clearInterval(poll);
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push({ test, resolve: done });
    });
  }

  framesOf(messageType: string, payloadType?: number): ClientMessage[] {
    return this.frames.filter(
      (f) =>
        f.messageType === messageType &&
        (payloadType === undefined || f.payloadType === payloadType),
    );
  }

  /** Sends one input_stream_data message with the next sequence number. */
  sendStream(payloadType: number, payload: Buffer, sequence = this.nextSequence++): Buffer {
    const frame = encodeMessage({
      messageType: MessageType.InputStreamData,
      sequenceNumber: sequence,
      payloadType,
      payload,
    });
    this.websocket.send(frame);
    return frame;
  }

  /** Sends one message and resends it every `intervalMs` until the agent acks it. */
  async sendUntilAcked(payloadType: number, payload: Buffer, intervalMs = 100): Promise<void> {
    const sequence = this.nextSequence++;
    for (let attempt = 0; attempt < 50; attempt++) {
      this.sendStream(payloadType, payload, sequence);
      try {
        await this.waitFor(() => this.ackedSequences().includes(sequence), intervalMs);
        return;
      } catch {
        // No ack yet: send the same message again.
      }
    }
    throw new Error(`message ${sequence} was not acked after 50 attempts`);
  }

  /** Sends the HandshakeResponse once the HandshakeRequest arrived, then waits for HandshakeComplete. */
  async handshake(clientVersion = this.options.clientVersion ?? '1.2.650.0'): Promise<void> {
    await this.waitFor(
      () => this.framesOf(MessageType.OutputStreamData, PayloadType.HandshakeRequest).length > 0,
      10_000,
      'HandshakeRequest',
    );
    const response = {
      ClientVersion: clientVersion,
      ProcessedClientActions: [
        { ActionType: 'SessionType', ActionStatus: 1, ActionResult: null, Error: '' },
      ],
      Errors: null,
    };
    this.sendStream(PayloadType.HandshakeResponse, Buffer.from(JSON.stringify(response)));
    await this.waitFor(
      () => this.framesOf(MessageType.OutputStreamData, PayloadType.HandshakeComplete).length > 0,
      10_000,
      'HandshakeComplete',
    );
  }

  sendAck(message: ClientMessage): void {
    const payload = JSON.stringify({
      AcknowledgedMessageType: message.messageType,
      AcknowledgedMessageId: message.messageId,
      AcknowledgedMessageSequenceNumber: Number(message.sequenceNumber),
      IsSequentialMessage: true,
    });
    // Acks of frames that arrived together leave in one socket write.
    this.transportCork?.hold();
    this.websocket.send(
      encodeMessage({
        messageType: MessageType.Acknowledge,
        flags: MessageFlags.SynFin,
        payload: Buffer.from(payload),
      }),
    );
  }

  /** Sequence numbers acked by the agent, in arrival order. */
  ackedSequences(): number[] {
    return this.framesOf(MessageType.Acknowledge).map(
      (f) => JSON.parse(f.payload.toString()).AcknowledgedMessageSequenceNumber as number,
    );
  }

  close(): void {
    this.websocket.terminate();
  }

  private onFrame(raw: Buffer): void {
    const message = decodeMessage(raw);
    // With an onData consumer, data frames are not kept, so large transfers stay small.
    if (!(this.options.onData && message.payloadType === PayloadType.Output)) {
      this.frames.push(message);
    }
    if (message.messageType === MessageType.OutputStreamData) {
      this.onStreamData(message);
    }
    this.notify();
  }

  /** Acks and buffers out-of-order messages like the official client; ignores duplicates. */
  private onStreamData(message: ClientMessage): void {
    const sequence = Number(message.sequenceNumber);
    if (sequence < this.expected) {
      return;
    }
    if (this.autoAck) {
      this.sendAck(message);
    }
    this.pending.set(sequence, message);
    for (let next = this.pending.get(this.expected); next; next = this.pending.get(this.expected)) {
      this.pending.delete(this.expected);
      this.expected++;
      if (next.payloadType === PayloadType.Output) {
        if (this.options.onData) {
          this.options.onData(next.payload);
        } else {
          this.data.push(next.payload);
        }
      }
    }
  }

  private notify(): void {
    this.waiters = this.waiters.filter((w) => {
      if (w.test()) {
        w.resolve();
        return false;
      }
      return true;
    });
  }
}
