// Client end of the Session Manager data channel: the reliable, ordered message stream
// between this process and the SSM agent, carried over a websocket through the service.
// This file owns the lifecycle (open, handshake, reconnect, close) and dispatches frames
// by message type. receiver.ts and sender.ts carry the incoming and outgoing sides.
//
// Deliberate differences from the official plugin:
// - duplicates are acknowledged again, so a lost ack cannot stall the agent;
// - every expired message is retransmitted, not only the oldest, with a per-message
//   exponential backoff and a byte budget per resend tick;
// - a window bounds unacknowledged bytes, where the plugin evicts old messages;
// - pause_publication is honoured;
// - a paused reader stops reading the websocket instead of dropping frames unacknowledged;
// - a gap that the agent leaves unrepaired, or that fills the reorder buffer, ends the
//   channel with ERR_STREAM_STALLED instead of leaving the stream stuck;
// - the websocket is pinged with a pong deadline, and the handshake has a timeout;
// - reconnecting is retried for minutes, not seconds;
// - a lone 0x0A payload is sent unchanged (the plugin rewrites it to 0x0D).
// The channel logs only through the optional `logger` option: malformed frames and a
// stalled stream. The daemon listens to the events for everything else.

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
import { encodeFlag, parseChannelClosed, type PayloadError } from '../protocol/payloads.js';
import type { SessionEnd } from '../portforward/types.js';
import { WebSocketConnection } from './connection.js';
import { createDeferred } from './deferred.js';
import { DataChannelError } from './errors.js';
import { ClientHandshake, type HandshakeResult } from './handshake.js';
import { reconnect } from './reconnect.js';
import { ChannelReceiver, type StreamGap } from './receiver.js';
import { ChannelSender } from './sender.js';
import { addToTotals, MalformedFrameLog } from './malformed-frames.js';
import { createCounters, type DataChannelStats } from './stats.js';
import { validateOptions, type DataChannelOptions, type ResolvedOptions } from './options.js';

export type { DataChannelOptions } from './options.js';
export type { HandshakeResult } from './handshake.js';
export type { DataChannelStats } from './stats.js';
export type { ReconnectAttemptFailure } from './reconnect.js';
export type { DataChannelLogger } from './malformed-frames.js';

/** Channels not yet ended, by session id, so the tunnel status can read their stats. */
const openChannels = new Map<string, DataChannel>();

/** Returns the stats of the channel of `sessionId`, or undefined once it ended. */
export function openChannelStats(sessionId: string): DataChannelStats | undefined {
  return openChannels.get(sessionId)?.stats;
}

/**
 * Events: `data` (Buffer, PayloadType 1 in sequence order), `flag` (number), `drain`,
 * `reconnecting` (Error) on every websocket loss, `reconnect-attempt` (attempt number) as
 * each attempt begins, `reconnect-failed` (ReconnectAttemptFailure) after each failed
 * attempt, `reconnected` once the new websocket received a message or pong, `closed`
 * (SessionEnd), `protocol-error` (MessageDecodeError | PayloadError) for each dropped frame
 * or payload.
 */
export class DataChannel extends EventEmitter {
  readonly sessionId: string;
  readonly clientId: string;
  private readonly options: ResolvedOptions;
  private readonly counters = createCounters();
  private readonly malformedFrames: MalformedFrameLog;
  private readonly receiver: ChannelReceiver;
  private readonly sender: ChannelSender;
  private readonly handshake: ClientHandshake;
  private connection: WebSocketConnection | null = null;
  private resendTimer: NodeJS.Timeout | undefined;
  private opened = false;
  private ended = false;
  private readonly closed = createDeferred<void>();
  private readonly reconnectAbort = new AbortController();
  /** True from a reconnect until the new websocket receives a message or pong. */
  private resumeUnconfirmed = false;
  /** Pong timeouts in a row with no message or pong received between them. */
  private silentPongTimeouts = 0;
  private receivedSincePongTimeout = true;

  constructor(options: DataChannelOptions) {
    super();
    this.options = validateOptions(options);
    this.sessionId = options.sessionId;
    this.clientId = options.clientId ?? randomUUID();
    this.malformedFrames = new MalformedFrameLog(this.sessionId, this.options.logger);
    openChannels.set(this.sessionId, this);
    const encoder = new MessageEncoder();
    const connection = (): WebSocketConnection | null => this.connection;
    const isEnded = (): boolean => this.ended;
    const onProtocolError = (error: PayloadError): void => this.reportProtocolError(error);
    this.sender = new ChannelSender({
      options: this.options,
      encoder,
      counters: this.counters,
      connection,
      isEnded,
      isHandshakeComplete: () => this.handshake.isComplete,
      onDrain: () => this.emit('drain'),
      onProtocolError,
    });
    this.receiver = new ChannelReceiver({
      options: this.options,
      encoder,
      counters: this.counters,
      connection,
      isEnded,
      onData: (payload) => this.emit('data', payload),
      onFlag: (flag) => this.emit('flag', flag),
      onHandshakeRequest: (message) => this.handshake.onRequest(message),
      onHandshakeComplete: (message) => this.handshake.onComplete(message),
      onProtocolError,
      onStoreFull: (gap) => this.endStalled(gap, 'full'),
    });
    this.handshake = new ClientHandshake({
      clientVersion: this.options.clientVersion,
      timeoutMs: this.options.handshakeTimeoutMs,
      sendResponse: (payload) => {
        this.counters.messagesOut += 1;
        this.sender.sendNow({ payloadType: PayloadType.HandshakeResponse, payload });
      },
      onProtocolError,
      onFailure: (error) => void this.end({ by: 'error', reason: error.message, error }),
      onComplete: () => this.sender.pump(),
    });
  }

  get stats(): DataChannelStats {
    return {
      ...this.counters,
      rttMs: this.sender.rttMs,
      rtoMs: this.sender.rtoMs,
      unackedBytes: this.sender.unackedBytes,
    };
  }

  /** The agent's handshake facts, or null before the HandshakeRequest arrived. */
  get handshakeInfo(): HandshakeResult | null {
    return this.handshake.result;
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
    this.handshake.startTimer();
    try {
      const connection = await this.connect(this.options.tokenValue);
      if (this.ended) {
        await connection.close();
      } else {
        this.adopt(connection);
        this.resendTimer = setInterval(() => {
          this.sender.resendExpired();
          this.endIfStalled();
        }, this.options.resendIntervalMs);
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
    return this.sender.send(payload);
  }

  /** Queues a PayloadType 10 flag (a big-endian uint32) behind any queued data. */
  sendFlag(flag: number): void {
    if (this.ended) {
      return;
    }
    this.sender.sendFlag(flag);
  }

  /**
   * Stops delivering `data`. In-order and early messages are then stored and acknowledged.
   * Once the stored payloads pass `readPauseThresholdBytes` (or half the reorder-buffer
   * limits), the websocket is no longer read, so TCP back-pressure stops the agent. Frames
   * dropped unacknowledged would cost one agent resend tick (100 ms) each. No acknowledged
   * message is discarded.
   */
  pauseDelivery(): void {
    this.receiver.pauseDelivery();
  }

  /** Delivers everything stored while paused, in order, then resumes normal delivery. */
  resumeDelivery(): void {
    this.receiver.resumeDelivery();
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
      this.sender.sendNow({
        payloadType: PayloadType.Flag,
        payload: encodeFlag(PayloadFlag.TerminateSession),
      });
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
      onPong: () => this.onPeerAlive(),
      onOversizedFrame: (error) => this.reportProtocolError(error),
    });
  }

  private adopt(connection: WebSocketConnection): void {
    this.connection = connection;
    connection.once('lost', (error: DataChannelError) => void this.onLost(connection, error));
    if (this.receiver.readingPaused) {
      connection.pauseReading();
    }
  }

  private async onLost(connection: WebSocketConnection, error: DataChannelError): Promise<void> {
    if (this.ended || connection !== this.connection) {
      return;
    }
    this.connection = null;
    this.resumeUnconfirmed = false;
    if (error.code === 'ERR_PONG_TIMEOUT') {
      this.silentPongTimeouts = this.receivedSincePongTimeout ? 1 : this.silentPongTimeouts + 1;
      this.receivedSincePongTimeout = false;
      if (this.silentPongTimeouts >= this.options.maxSilentPongTimeouts) {
        // Resuming reopens the websocket of the same session, so a session whose service
        // or agent stopped replying would be resumed forever while connections hang.
        const silent = new DataChannelError(
          'ERR_PEER_SILENT',
          `session ${this.sessionId} received no message or pong across ` +
            `${this.silentPongTimeouts} websocket pong timeouts in a row; ending it so a new session can start`,
          { cause: error },
        );
        await this.end({ by: 'error', reason: silent.message, error: silent });
        return;
      }
    }
    this.emit('reconnecting', error);
    const outcome = await reconnect(
      {
        reconnectForMs: this.options.reconnectForMs,
        initialDelayMs: this.options.reconnectInitialDelayMs,
        maxDelayMs: this.options.reconnectMaxDelayMs,
        signal: this.reconnectAbort.signal,
        resume: this.options.resume,
        onAttemptStarted: (attempt) => this.emit('reconnect-attempt', attempt),
        onAttemptFailed: (failure) => this.emit('reconnect-failed', failure),
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
      this.sender.publicationPaused = false;
      this.sender.resendAll();
      this.sender.pump();
      // An open websocket alone does not prove that the service and agent still serve the
      // session, so the resume counts as done at the first message or pong.
      this.resumeUnconfirmed = true;
      outcome.connection.checkAlive();
    }
  }

  /** Ends the channel when the agent has left a gap unrepaired for `stallTimeoutMs`. */
  private endIfStalled(): void {
    if (this.ended) {
      return;
    }
    const gap = this.receiver.currentGap(Date.now(), this.connection?.isOpen === true);
    if (gap !== null && gap.stalledMs >= this.options.stallTimeoutMs) {
      this.endStalled(gap, 'timeout');
    }
  }

  /**
   * Ends the channel with ERR_STREAM_STALLED, because nothing behind the gap can be delivered
   * soon: the agent resends only its oldest unacknowledged message, one per 100 ms tick
   * (amazon-ssm-agent, agent/session/datachannel/datachannel.go).
   * Without this, the session's connections would hang while the tunnel shows `open`.
   */
  private endStalled(gap: StreamGap, cause: 'timeout' | 'full'): void {
    if (this.ended) {
      return;
    }
    this.counters.stalls += 1;
    const stored = `${gap.storedMessages} messages (${gap.storedBytes} bytes) stored ahead of it`;
    const message =
      cause === 'timeout'
        ? `session ${this.sessionId} has waited ${Math.round(gap.stalledMs / 1000)} s for sequence number ` +
          `${gap.missingSequenceNumber}, which the agent did not resend, with ${stored}`
        : `session ${this.sessionId} dropped a message because the reorder buffer is full: ` +
          `sequence number ${gap.missingSequenceNumber} is missing with ${stored}, and the agent ` +
          `resends one message per 100 ms`;
    const error = new DataChannelError(
      'ERR_STREAM_STALLED',
      `${message}; ending the session so a new one can start`,
    );
    this.options.logger?.warn(
      { sessionId: this.sessionId, code: error.code, ...gap },
      'the incoming stream stalled behind a missing message',
    );
    void this.end({ by: 'error', reason: error.message, error });
  }

  /** Records that the peer replied, which completes a pending resume. */
  private onPeerAlive(): void {
    this.receivedSincePongTimeout = true;
    if (!this.resumeUnconfirmed) {
      return;
    }
    this.resumeUnconfirmed = false;
    this.counters.reconnects += 1;
    this.emit('reconnected');
  }

  private onFrame(frame: Buffer): void {
    if (this.ended) {
      return;
    }
    this.onPeerAlive();
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
        this.sender.publicationPaused = false;
        this.receiver.receive(message);
        this.sender.pump();
        break;
      case MessageType.Acknowledge:
        this.sender.publicationPaused = false;
        this.sender.acknowledge(message);
        break;
      case MessageType.ChannelClosed:
        this.onChannelClosed(message);
        break;
      case MessageType.PausePublication:
        this.sender.publicationPaused = true;
        break;
      case MessageType.StartPublication:
        this.sender.publicationPaused = false;
        this.sender.pump();
        break;
      default:
        // Receivers drop unknown message types, as both official peers do.
        break;
    }
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

  private reportProtocolError(error: MessageDecodeError | PayloadError): void {
    this.counters.protocolErrors += 1;
    this.malformedFrames.record(error);
    this.emit('protocol-error', error);
  }

  /**
   * Adds the malformed frames to the error of a failed start, because a broken service
   * endpoint otherwise looks like a handshake timeout of a missing agent.
   */
  private describeStartFailure(end: SessionEnd): Error {
    const error =
      end.error ?? new DataChannelError('ERR_CHANNEL_CLOSED', `channel closed: ${end.reason}`);
    const summary = this.malformedFrames.summary();
    if (summary === null) {
      return error;
    }
    const code = error instanceof DataChannelError ? error.code : 'ERR_HANDSHAKE_FAILED';
    return new DataChannelError(
      code,
      `${error.message}. Before that, the channel dropped ${summary}; check that the SSM ` +
        'endpoint is the real Session Manager service',
      { cause: error },
    );
  }

  private async end(end: SessionEnd): Promise<void> {
    if (this.ended) {
      return this.closed.promise;
    }
    this.ended = true;
    if (openChannels.get(this.sessionId) === this) {
      openChannels.delete(this.sessionId);
    }
    addToTotals('droppedMessages', this.counters.droppedMessages);
    addToTotals('stalls', this.counters.stalls);
    this.malformedFrames.flush();
    this.handshake.clearTimer();
    clearInterval(this.resendTimer);
    this.reconnectAbort.abort();
    if (!this.handshake.isComplete) {
      this.handshake.reject(this.describeStartFailure(end));
    }
    const connection = this.connection;
    this.connection = null;
    await connection?.close();
    this.emit('closed', end);
    this.closed.resolve();
  }
}

export { DataChannelError } from './errors.js';
