// Client end of the Session Manager data channel: the reliable, ordered message stream
// between this process and the SSM agent, carried over a websocket through the service.
//
// Deliberate differences from the official plugin:
// - duplicates are acknowledged again, so a lost ack cannot stall the agent;
// - every expired message is retransmitted, not only the oldest, with a per-message
//   exponential backoff and a byte budget per resend tick;
// - a window bounds unacknowledged bytes, where the plugin evicts old messages;
// - pause_publication is honoured;
// - a paused reader stops reading the websocket instead of dropping frames unacknowledged;
// - the websocket is pinged with a pong deadline, and the handshake has a timeout;
// - reconnecting is retried for minutes, not seconds;
// - a lone 0x0A payload is sent unchanged (the plugin rewrites it to 0x0D).
// Nothing here logs: the daemon listens to the events and decides what to record.

import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import {
  decodeMessage,
  MessageDecodeError,
  MessageType,
  PayloadFlag,
  PayloadType,
  type ClientMessage,
} from '../protocol/message.js';
import { MessageEncoder } from '../protocol/message-encoder.js';
import {
  encodeFlag,
  encodeHandshakeResponse,
  parseAcknowledge,
  parseChannelClosed,
  parseFlag,
  parseHandshakeComplete,
  parseHandshakeRequest,
  PayloadError,
} from '../protocol/payloads.js';
import type { SessionEnd } from '../portforward/types.js';
import { WebSocketConnection } from './connection.js';
import { DataChannelError } from './errors.js';
import { processHandshakeRequest, type HandshakeResult } from './handshake.js';
import { OutgoingWindow, type QueuedMessage } from './outgoing-window.js';
import { reconnect } from './reconnect.js';
import { ReorderBuffer } from './reorder-buffer.js';
import { RtoEstimator } from './rto.js';
import { validateOptions, type DataChannelOptions, type ResolvedOptions } from './options.js';

export type { DataChannelOptions } from './options.js';
export type { HandshakeResult } from './handshake.js';

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
  /** Stream-data messages dropped unacknowledged because the reorder buffer was full. */
  droppedMessages: number;
}

/** Payload types the client acknowledges before processing, as the plugin does. */
const ACK_FIRST_PAYLOAD_TYPES = new Set<number>([
  PayloadType.HandshakeRequest,
  PayloadType.HandshakeComplete,
  PayloadType.EncChallengeRequest,
]);

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: Error) => void;
}

function createDeferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((onResolve, onReject) => {
    resolve = onResolve;
    reject = onReject;
  });
  return { promise, resolve, reject };
}

/**
 * Events: `data` (Buffer, PayloadType 1 in sequence order), `flag` (number), `drain`,
 * `reconnecting` (Error), `reconnected`, `closed` (SessionEnd), `protocol-error`
 * (MessageDecodeError | PayloadError) for each dropped frame or payload.
 */
export class DataChannel extends EventEmitter {
  readonly sessionId: string;
  readonly clientId: string;
  private readonly options: ResolvedOptions;
  private readonly readPauseBytes: number;
  private readonly window: OutgoingWindow;
  private readonly incoming: ReorderBuffer;
  private readonly rto = new RtoEstimator();
  private readonly encoder = new MessageEncoder();
  private readonly counters = {
    bytesIn: 0,
    bytesOut: 0,
    messagesIn: 0,
    messagesOut: 0,
    retransmits: 0,
    duplicates: 0,
    reconnects: 0,
    protocolErrors: 0,
    droppedMessages: 0,
  };
  private connection: WebSocketConnection | null = null;
  private readonly handshake = createDeferred<HandshakeResult>();
  private handshakeResult: HandshakeResult | null = null;
  private handshakeComplete = false;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private resendTimer: NodeJS.Timeout | undefined;
  private opened = false;
  private ended = false;
  private readonly closed = createDeferred<void>();
  private readonly reconnectAbort = new AbortController();
  /** Set by pause_publication: the agent is away, so nothing is sent or retransmitted. */
  private publicationPaused = false;
  private deliveryPaused = false;
  /** True while the websocket is not read, because paused delivery stored too much. */
  private readingPaused = false;
  private drainNeeded = false;

  constructor(options: DataChannelOptions) {
    super();
    this.options = validateOptions(options);
    this.readPauseBytes = Math.min(
      this.options.readPauseThresholdBytes,
      this.options.maxBufferedBytes / 2,
    );
    this.sessionId = options.sessionId;
    this.clientId = options.clientId ?? randomUUID();
    this.window = new OutgoingWindow(this.options.windowBytes);
    this.incoming = new ReorderBuffer(
      this.options.maxBufferedMessages,
      this.options.maxBufferedBytes,
    );
    // A handshake that fails before open() is awaited must not become an unhandled rejection.
    this.handshake.promise.catch(() => undefined);
  }

  get stats(): DataChannelStats {
    return {
      ...this.counters,
      rttMs: this.rto.rttMs,
      rtoMs: this.rto.rtoMs,
      unackedBytes: this.window.unackedBytes,
    };
  }

  /** The agent's handshake facts, or null before the HandshakeRequest arrived. */
  get handshakeInfo(): HandshakeResult | null {
    return this.handshakeResult;
  }

  /**
   * Connects to the stream URL, authenticates and waits for the agent's handshake.
   * Rejects with ERR_CONNECT_FAILED, ERR_HANDSHAKE_TIMEOUT, ERR_HANDSHAKE_FAILED,
   * ERR_CHANNEL_CLOSED or ERR_INVALID_STATE. A failed first connect is not retried, because the StartSession
   * token may be valid for one open only.
   */
  async open(): Promise<HandshakeResult> {
    if (this.opened) {
      throw new DataChannelError(
        'ERR_INVALID_STATE',
        'open() was already called on this channel; create a new DataChannel to reconnect',
      );
    }
    this.opened = true;
    if (this.ended) {
      throw new DataChannelError(
        'ERR_INVALID_STATE',
        'open() was called after close(); create a new DataChannel',
      );
    }
    this.handshakeTimer = setTimeout(() => {
      const error = new DataChannelError(
        'ERR_HANDSHAKE_TIMEOUT',
        `the agent did not complete the handshake within ${this.options.handshakeTimeoutMs} ms; ` +
          'check that the SSM agent on the target is running and up to date',
      );
      void this.end({ by: 'error', reason: error.message, error });
    }, this.options.handshakeTimeoutMs);
    this.handshakeTimer.unref();
    try {
      const connection = await this.connect(this.options.tokenValue);
      if (this.ended) {
        await connection.close();
      } else {
        this.adopt(connection);
        this.resendTimer = setInterval(() => this.resendExpired(), this.options.resendIntervalMs);
        this.resendTimer.unref();
      }
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      await this.end({ by: 'error', reason: failure.message, error: failure });
    }
    return this.handshake.promise;
  }

  /**
   * Queues PayloadType 1 data, split into messages of at most `maxPayloadBytes`. Returns
   * false when the window of unacknowledged plus queued bytes is full: the data is still
   * queued, and `drain` fires once there is room. After the channel closed it returns
   * false and the data goes nowhere.
   */
  send(payload: Buffer): boolean {
    if (this.ended) {
      return false;
    }
    // Go peers never send an empty payload, and the agent ignores empty stream data.
    for (let offset = 0; offset < payload.length; offset += this.options.maxPayloadBytes) {
      const chunk = payload.subarray(offset, offset + this.options.maxPayloadBytes);
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
    if (this.ended) {
      return;
    }
    this.window.enqueue({ payloadType: PayloadType.Flag, payload: encodeFlag(flag) });
    this.pump();
  }

  /**
   * Stops delivering `data`. In-order and early messages are then stored and acknowledged.
   * Once the stored payloads pass `readPauseThresholdBytes` (or half the reorder-buffer
   * limits), the websocket is no longer read, so TCP back-pressure stops the agent. Frames
   * dropped unacknowledged would cost one agent resend tick (100 ms) each. No acknowledged
   * message is discarded.
   */
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

  /**
   * Sends a websocket ping and resolves with the round-trip time in milliseconds. Rejects
   * with ERR_PING_TIMEOUT when no pong arrives within `timeoutMs`, and with
   * ERR_CONNECTION_LOST when no websocket is open (for example during a reconnect).
   */
  ping(timeoutMs: number): Promise<number> {
    const connection = this.connection;
    if (this.ended || connection === null) {
      return Promise.reject(
        new DataChannelError(
          'ERR_CONNECTION_LOST',
          this.ended ? 'the data channel is closed' : 'the data channel is reconnecting',
        ),
      );
    }
    return connection.ping(timeoutMs);
  }

  /**
   * Ends the channel. With `terminate`, sends the TerminateSession flag first so the agent
   * ends the session at once. Resolves after the websocket closed (at most about 2 s).
   * NOTE: queued and unacknowledged data is not flushed first, so bytes sent just before
   * close() may never reach the agent.
   */
  async close(options: { terminate?: boolean } = {}): Promise<void> {
    if (this.ended) {
      return this.closed.promise;
    }
    if (options.terminate && this.connection?.isOpen) {
      const entry = this.window.insertNow(
        (sequenceNumber, message) => this.encodeStreamData(sequenceNumber, message),
        { payloadType: PayloadType.Flag, payload: encodeFlag(PayloadFlag.TerminateSession) },
        performance.now(),
      );
      this.connection.send(entry.frame);
    }
    const reason = options.terminate ? 'session terminated by the client' : 'closed by the client';
    await this.end({ by: 'client', reason });
  }

  private connect(tokenValue: string): Promise<WebSocketConnection> {
    return WebSocketConnection.connect({
      streamUrl: this.options.streamUrl,
      tokenValue,
      clientId: this.clientId,
      clientVersion: this.options.clientVersion,
      pingIntervalMs: this.options.pingIntervalMs,
      pongTimeoutMs: this.options.pongTimeoutMs,
      wsOptions: this.options.wsOptions,
      onFrame: (frame) => this.onFrame(frame),
    });
  }

  private adopt(connection: WebSocketConnection): void {
    this.connection = connection;
    connection.once('lost', (error: DataChannelError) => void this.onLost(connection, error));
    if (this.readingPaused) {
      connection.pauseReading();
    }
  }

  /** Pauses or resumes reading the websocket from the amount stored while paused. */
  private updateReading(): void {
    const full =
      this.deliveryPaused &&
      (this.incoming.storedBytes >= this.readPauseBytes ||
        this.incoming.storedCount >= this.options.maxBufferedMessages / 2);
    if (full === this.readingPaused) {
      return;
    }
    this.readingPaused = full;
    if (full) {
      this.connection?.pauseReading();
    } else {
      this.connection?.resumeReading();
    }
  }

  private async onLost(connection: WebSocketConnection, error: DataChannelError): Promise<void> {
    if (this.ended || connection !== this.connection) {
      return;
    }
    this.connection = null;
    this.emit('reconnecting', error);
    const outcome = await reconnect(
      {
        reconnectForMs: this.options.reconnectForMs,
        initialDelayMs: this.options.reconnectInitialDelayMs,
        maxDelayMs: this.options.reconnectMaxDelayMs,
        signal: this.reconnectAbort.signal,
        resume: this.options.resume,
      },
      (tokenValue) => this.connect(tokenValue),
      error,
    );
    if (outcome.kind === 'ended') {
      await this.end(outcome.end);
    } else if (outcome.kind === 'connected') {
      if (this.ended) {
        await outcome.connection.close();
        return;
      }
      this.adopt(outcome.connection);
      this.counters.reconnects += 1;
      this.publicationPaused = false;
      this.emit('reconnected');
      this.resendAll();
      this.pump();
    }
  }

  private onFrame(frame: Buffer): void {
    if (this.ended) {
      return;
    }
    let message: ClientMessage;
    try {
      message = decodeMessage(frame);
    } catch (error) {
      this.reportProtocolError(
        error instanceof MessageDecodeError
          ? error
          : new MessageDecodeError('ERR_FRAME_TOO_SHORT', String(error)),
      );
      return;
    }
    switch (message.messageType) {
      case MessageType.OutputStreamData:
        this.publicationPaused = false;
        this.onStreamData(message);
        this.pump();
        break;
      case MessageType.Acknowledge:
        this.publicationPaused = false;
        this.onAcknowledge(message);
        break;
      case MessageType.ChannelClosed:
        this.onChannelClosed(message);
        break;
      case MessageType.PausePublication:
        this.publicationPaused = true;
        break;
      case MessageType.StartPublication:
        this.publicationPaused = false;
        this.pump();
        break;
      default:
        // Receivers drop unknown message types, as both official peers do.
        break;
    }
  }

  private onStreamData(message: ClientMessage): void {
    const sequence = message.sequenceNumber;
    if (sequence < 0n || sequence > BigInt(Number.MAX_SAFE_INTEGER)) {
      this.reportProtocolError(
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
      this.counters.duplicates += 1;
      this.sendAck(message, sequenceNumber);
      return;
    }
    if (
      position === 'ahead' ||
      (this.deliveryPaused && !ACK_FIRST_PAYLOAD_TYPES.has(message.payloadType))
    ) {
      // Stored messages are acknowledged; a full store drops the frame unacknowledged.
      if (this.incoming.store(message, sequenceNumber)) {
        this.sendAck(message, sequenceNumber);
        if (this.deliveryPaused) {
          this.updateReading();
        }
      } else {
        this.counters.droppedMessages += 1;
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

  private drainIncoming(): void {
    while (!this.deliveryPaused && !this.ended) {
      const message = this.incoming.takeNext();
      if (message === undefined) {
        return;
      }
      this.incoming.advance();
      this.process(message);
    }
  }

  private process(message: ClientMessage): void {
    switch (message.payloadType) {
      case PayloadType.Output:
        this.counters.messagesIn += 1;
        this.counters.bytesIn += message.payload.length;
        this.emit('data', message.payload);
        break;
      case PayloadType.Flag: {
        this.counters.messagesIn += 1;
        const flag = parseFlag(message.payload);
        if (flag.ok) {
          this.emit('flag', flag.value);
        } else {
          this.reportProtocolError(flag.error);
        }
        break;
      }
      case PayloadType.HandshakeRequest:
        this.onHandshakeRequest(message);
        break;
      case PayloadType.HandshakeComplete:
        this.onHandshakeComplete(message);
        break;
      default:
        // StdErr, ExitCode and encryption challenges belong to shell sessions.
        this.counters.messagesIn += 1;
        break;
    }
  }

  private onHandshakeRequest(message: ClientMessage): void {
    if (this.handshakeResult !== null) {
      return;
    }
    const parsed = parseHandshakeRequest(message.payload);
    if (!parsed.ok) {
      this.reportProtocolError(parsed.error);
      this.failHandshake(`invalid HandshakeRequest: ${parsed.error.message}`, parsed.error);
      return;
    }
    const processed = processHandshakeRequest(parsed.value, this.options.clientVersion);
    this.handshakeResult = processed.result;
    const entry = this.window.insertNow(
      (sequenceNumber, queued) => this.encodeStreamData(sequenceNumber, queued),
      {
        payloadType: PayloadType.HandshakeResponse,
        payload: encodeHandshakeResponse(processed.response),
      },
      performance.now(),
    );
    this.counters.messagesOut += 1;
    this.connection?.send(entry.frame);
    if (processed.failure !== null) {
      this.failHandshake(
        `the agent requested an action this client cannot perform: ${processed.failure}`,
      );
    }
  }

  private onHandshakeComplete(message: ClientMessage): void {
    if (this.handshakeComplete) {
      return;
    }
    if (this.handshakeResult === null) {
      this.failHandshake('HandshakeComplete arrived before any HandshakeRequest');
      return;
    }
    // Receipt alone completes the handshake, as in the plugin; a malformed body is reported.
    const parsed = parseHandshakeComplete(message.payload);
    if (!parsed.ok) {
      this.reportProtocolError(parsed.error);
    }
    this.handshakeComplete = true;
    clearTimeout(this.handshakeTimer);
    this.handshake.resolve(this.handshakeResult);
    this.pump();
  }

  private failHandshake(reason: string, cause?: Error): void {
    const error = new DataChannelError('ERR_HANDSHAKE_FAILED', reason, { cause });
    void this.end({ by: 'error', reason, error });
  }

  private onAcknowledge(message: ClientMessage): void {
    const parsed = parseAcknowledge(message.payload);
    if (!parsed.ok) {
      this.reportProtocolError(parsed.error);
      return;
    }
    const entry = this.window.acknowledge(parsed.value.AcknowledgedMessageSequenceNumber);
    // Karn's algorithm: an ack of a retransmitted message may answer any of its copies.
    if (entry !== undefined && entry.retransmits === 0) {
      this.rto.addSample(performance.now() - entry.lastSentMs);
    }
    this.pump();
  }

  private onChannelClosed(message: ClientMessage): void {
    const parsed = parseChannelClosed(message.payload);
    let reason = `the service closed the channel of session ${this.sessionId}`;
    if (!parsed.ok) {
      // A payload that fails to decode still ends the session, as in the plugin.
      this.reportProtocolError(parsed.error);
    } else if (parsed.value.Output !== '') {
      reason = parsed.value.Output;
    }
    void this.end({ by: 'service', reason });
  }

  private sendAck(message: ClientMessage, sequenceNumber: number): void {
    this.connection?.send(
      this.encoder.encodeAcknowledge({
        messageType: message.messageType,
        messageId: message.messageId,
        sequenceNumber,
      }),
    );
  }

  private encodeStreamData(sequenceNumber: number, message: QueuedMessage): Buffer {
    return this.encoder.encodeStreamData(sequenceNumber, message.payloadType, message.payload);
  }

  /**
   * Sends queued messages that fit in the window and emits `drain` when there is room.
   * Expired messages are left to the resend timer, because scanning the whole window on
   * every inbound frame would cost O(window) per frame.
   */
  private pump(): void {
    const connection = this.connection;
    if (this.ended || connection === null || !connection.isOpen || this.publicationPaused) {
      return;
    }
    if (this.handshakeComplete) {
      const admitted = this.window.admit((sequenceNumber, message) => {
        this.counters.messagesOut += 1;
        if (message.payloadType === PayloadType.Output) {
          this.counters.bytesOut += message.payload.length;
        }
        return this.encodeStreamData(sequenceNumber, message);
      }, performance.now());
      for (const entry of admitted) {
        connection.send(entry.frame);
      }
    }
    if (this.drainNeeded && !this.window.isFull) {
      this.drainNeeded = false;
      this.emit('drain');
    }
  }

  /**
   * Retransmits, in sequence order, the messages whose backed-off timeout expired, at most
   * `retransmitBytesPerTick` payload bytes per tick. Nothing is resent while earlier frames
   * still wait in the socket's send buffer: they have not left this process, so they
   * cannot have been lost, and the ack delay comes from our own queue.
   */
  private resendExpired(): void {
    const connection = this.connection;
    if (this.ended || connection === null || !connection.isOpen || this.publicationPaused) {
      return;
    }
    const budget = this.options.retransmitBytesPerTick;
    if (connection.bufferedAmount > budget) {
      return;
    }
    for (const entry of this.window.takeExpired(performance.now(), this.rto.rtoMs, budget)) {
      connection.send(entry.frame);
      this.counters.retransmits += 1;
    }
  }

  /** Resends every unacknowledged message, since frames in flight died with the old socket. */
  private resendAll(): void {
    const connection = this.connection;
    if (connection === null || this.publicationPaused) {
      return;
    }
    for (const entry of this.window.takeExpired(performance.now(), 0, Infinity)) {
      connection.send(entry.frame);
      this.counters.retransmits += 1;
    }
  }

  private reportProtocolError(error: MessageDecodeError | PayloadError): void {
    this.counters.protocolErrors += 1;
    this.emit('protocol-error', error);
  }

  private async end(end: SessionEnd): Promise<void> {
    if (this.ended) {
      return this.closed.promise;
    }
    this.ended = true;
    clearTimeout(this.handshakeTimer);
    clearInterval(this.resendTimer);
    this.reconnectAbort.abort();
    if (!this.handshakeComplete) {
      this.handshake.reject(
        end.error ?? new DataChannelError('ERR_CHANNEL_CLOSED', `channel closed: ${end.reason}`),
      );
    }
    const connection = this.connection;
    this.connection = null;
    await connection?.close();
    this.emit('closed', end);
    this.closed.resolve();
  }
}

export { DataChannelError } from './errors.js';
