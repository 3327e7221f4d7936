// A scripted stand-in for the service and the SSM agent on one loopback websocket server.
// It runs the agent side of the handshake, acks and reassembles client data in sequence
// order, retransmits its own output, and lets a test drop acks or frames and inject any bytes.

import { EventEmitter } from 'node:events';
import { once } from 'node:events';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import {
  decodeMessage,
  encodeMessage,
  MessageFlags,
  MessageType,
  PayloadType,
  type ClientMessage,
} from '../../daemon/protocol/message.js';
import {
  encodeAcknowledge,
  encodeChannelClosed,
  encodeHandshakeComplete,
  encodeHandshakeRequest,
  parseAcknowledge,
  parseOpenDataChannelInput,
  type OpenDataChannelInput,
  type RequestedClientAction,
} from '../../daemon/protocol/payloads.js';

export interface AgentPeerOptions {
  /** Send HandshakeRequest on the first open and HandshakeComplete after the response. */
  handshake?: boolean;
  agentVersion?: string;
  /** Actions of the HandshakeRequest; default: one Port SessionType action. */
  actions?: RequestedClientAction[];
  /** Reply to websocket pings with pongs; false makes the peer look half-open. */
  autoPong?: boolean;
  /** Called for each client stream-data frame; return false to drop it unacknowledged. */
  acceptInput?: (message: ClientMessage) => boolean;
  /** Called before acking an accepted frame; return false to lose only the ack. */
  sendAck?: (message: ClientMessage) => boolean;
  /** Retransmission period of the peer's own unacknowledged output, in milliseconds. */
  resendMs?: number;
}

interface PendingOutput {
  frame: Buffer;
  sentAt: number;
}

export class AgentPeer extends EventEmitter {
  readonly opens: OpenDataChannelInput[] = [];
  /** Every decoded binary frame from the client, in arrival order. */
  readonly received: ClientMessage[] = [];
  /** Date.now() at the arrival of each entry of `received`. */
  readonly receivedAt: number[] = [];
  /** Sequence numbers of agent messages the client acknowledged, with repeats. */
  readonly acked: number[] = [];
  /** Client PayloadType 1 bytes in sequence order. */
  readonly clientStream: Buffer[] = [];
  readonly clientFlags: number[] = [];
  socket: WebSocket | null = null;
  url = '';
  private server!: WebSocketServer;
  private nextOutputSequence = 0;
  private expectedInput = 0;
  private readonly storedInput = new Map<number, ClientMessage>();
  private readonly unackedOutput = new Map<number, PendingOutput>();
  private resendTimer: NodeJS.Timeout | undefined;

  constructor(readonly options: AgentPeerOptions = {}) {
    super();
  }

  async start(): Promise<void> {
    this.server = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      autoPong: this.options.autoPong ?? true,
    });
    await once(this.server, 'listening');
    const address = this.server.address();
    if (address === null || typeof address === 'string') {
      throw new Error(`expected a TCP address, got ${String(address)}`);
    }
    this.url = `ws://127.0.0.1:${address.port}/v1/data-channel/session-1?role=publish_subscribe`;
    this.server.on('connection', (socket) => this.onConnection(socket));
    this.resendTimer = setInterval(() => this.resendExpired(), this.options.resendMs ?? 100);
  }

  async stop(): Promise<void> {
    clearInterval(this.resendTimer);
    for (const client of this.server.clients) {
      client.terminate();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  get clientBytes(): Buffer {
    return Buffer.concat(this.clientStream);
  }

  /** Sends agent stream data with the next sequence number and keeps it until acked. */
  sendOutput(payload: Buffer, payloadType: number = PayloadType.Output): number {
    const sequenceNumber = this.nextOutputSequence;
    this.nextOutputSequence += 1;
    const frame = this.outputFrame(sequenceNumber, payload, payloadType);
    this.unackedOutput.set(sequenceNumber, { frame, sentAt: Date.now() });
    this.sendRaw(frame);
    return sequenceNumber;
  }

  /** Builds an agent stream-data frame without sending or tracking it. */
  outputFrame(
    sequenceNumber: number,
    payload: Buffer,
    payloadType: number = PayloadType.Output,
  ): Buffer {
    return encodeMessage({
      messageType: MessageType.OutputStreamData,
      sequenceNumber,
      flags: sequenceNumber === 0 ? MessageFlags.Syn : MessageFlags.None,
      payloadType,
      payload,
    });
  }

  /** Reserves the next sequence numbers for frames a test sends by hand. */
  reserveSequence(count: number): number {
    const first = this.nextOutputSequence;
    this.nextOutputSequence += count;
    return first;
  }

  sendRaw(frame: Buffer): void {
    if (this.socket?.readyState === WebSocket.OPEN) {
      this.socket.send(frame);
    }
  }

  sendControl(messageType: string, payload: Buffer = Buffer.from('{}')): void {
    this.sendRaw(encodeMessage({ messageType, payload }));
  }

  sendChannelClosed(output: string): void {
    this.sendControl(
      MessageType.ChannelClosed,
      encodeChannelClosed({
        MessageId: 'f3d4b1c0-0000-4000-8000-000000000001',
        CreatedDate: String(Date.now()),
        DestinationId: 'i-0123456789abcdef0',
        SessionId: 'session-1',
        MessageType: MessageType.ChannelClosed,
        SchemaVersion: 1,
        Output: output,
      }),
    );
  }

  /** Counts client frames of one type and sequence number, to check retransmissions. */
  countInput(sequenceNumber: number): number {
    return this.received.filter(
      (message) =>
        message.messageType === MessageType.InputStreamData &&
        message.sequenceNumber === BigInt(sequenceNumber),
    ).length;
  }

  private onConnection(socket: WebSocket): void {
    socket.once('message', (data: RawData, isBinary: boolean) => {
      const input = isBinary ? null : parseOpenDataChannelInput(data.toString());
      if (input === null || !input.ok) {
        socket.close(1008, 'expected OpenDataChannelInput');
        return;
      }
      this.opens.push(input.value);
      this.socket = socket;
      socket.on('message', (frame: RawData) => this.onFrame(frame as Buffer));
      this.emit('open', input.value);
      if (this.opens.length === 1 && (this.options.handshake ?? true)) {
        this.sendOutput(
          encodeHandshakeRequest({
            AgentVersion: this.options.agentVersion ?? '3.3.987.0',
            RequestedClientActions: this.options.actions ?? [
              {
                ActionType: 'SessionType',
                ActionParameters: {
                  SessionType: 'Port',
                  Properties: { portNumber: '5432', type: 'LocalPortForwarding' },
                },
              },
            ],
          }),
          PayloadType.HandshakeRequest,
        );
      } else {
        this.resendAll();
      }
    });
  }

  private onFrame(data: Buffer): void {
    const message = decodeMessage(data);
    this.received.push(message);
    this.receivedAt.push(Date.now());
    this.emit('message', message);
    if (message.messageType === MessageType.Acknowledge) {
      const ack = parseAcknowledge(message.payload);
      if (ack.ok) {
        const sequenceNumber = ack.value.AcknowledgedMessageSequenceNumber;
        this.acked.push(sequenceNumber);
        this.unackedOutput.delete(sequenceNumber);
      }
      return;
    }
    if (message.messageType !== MessageType.InputStreamData) {
      return;
    }
    if (this.options.acceptInput && !this.options.acceptInput(message)) {
      return;
    }
    const sequenceNumber = Number(message.sequenceNumber);
    if (sequenceNumber >= this.expectedInput) {
      this.storedInput.set(sequenceNumber, message);
    }
    if (!this.options.sendAck || this.options.sendAck(message)) {
      this.ack(message);
    }
    for (
      let next = this.storedInput.get(this.expectedInput);
      next;
      next = this.storedInput.get(this.expectedInput)
    ) {
      this.storedInput.delete(this.expectedInput);
      this.expectedInput += 1;
      this.process(next);
    }
  }

  private process(message: ClientMessage): void {
    if (message.payloadType === PayloadType.HandshakeResponse) {
      this.emit('handshake-response', JSON.parse(message.payload.toString()));
      this.sendOutput(
        encodeHandshakeComplete({ HandshakeTimeToComplete: 1_000_000, CustomerMessage: '' }),
        PayloadType.HandshakeComplete,
      );
    } else if (message.payloadType === PayloadType.Output) {
      this.clientStream.push(message.payload);
      this.emit('data', message.payload);
    } else if (message.payloadType === PayloadType.Flag) {
      this.clientFlags.push(message.payload.readUInt32BE(0));
    }
  }

  private ack(message: ClientMessage): void {
    this.sendRaw(
      encodeMessage({
        messageType: MessageType.Acknowledge,
        flags: MessageFlags.SynFin,
        payload: encodeAcknowledge({
          AcknowledgedMessageType: message.messageType,
          AcknowledgedMessageId: message.messageId,
          AcknowledgedMessageSequenceNumber: Number(message.sequenceNumber),
          IsSequentialMessage: true,
        }),
      }),
    );
  }

  private resendExpired(): void {
    const now = Date.now();
    for (const pending of this.unackedOutput.values()) {
      if (now - pending.sentAt > 300) {
        pending.sentAt = now;
        this.sendRaw(pending.frame);
      }
    }
  }

  private resendAll(): void {
    for (const pending of this.unackedOutput.values()) {
      pending.sentAt = Date.now();
      this.sendRaw(pending.frame);
    }
  }
}

/** Polls `condition` every 10 ms until it holds, failing after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean,
  timeoutMs = 5_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
