// One websocket to the Session Manager service: opens it, authenticates with the
// OpenDataChannelInput text frame, watches liveness with ping/pong, and reports its loss
// exactly once. The data channel replaces the whole object on every reconnect.

import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { WebSocket, type ClientOptions, type RawData } from 'ws';
import { MAX_FRAME_BYTES, MessageDecodeError } from '../protocol/message.js';
import { encodeOpenDataChannelInput } from '../protocol/payloads.js';
import { DataChannelError } from './errors.js';

/** The plugin's websocket dial timeout. */
const DEFAULT_WS_HANDSHAKE_TIMEOUT_MS = 45_000;
/** How long a clean close may take before the socket is destroyed. */
const CLOSE_TIMEOUT_MS = 2_000;

export interface ConnectionOptions {
  streamUrl: string;
  tokenValue: string;
  clientId: string;
  clientVersion: string;
  pingIntervalMs: number;
  pongTimeoutMs: number;
  wsOptions?: ClientOptions;
  /**
   * Receives every text or binary message, since the plugin parses both as ClientMessages.
   * It is set before authentication so no frame can arrive ahead of its handler.
   */
  onFrame: (frame: Buffer) => void;
  /** Called on every pong, which proves that the peer is still alive. */
  onPong?: () => void;
  /** Called when the peer sent a websocket message above MAX_FRAME_BYTES, before the loss. */
  onOversizedFrame?: (error: MessageDecodeError) => void;
}

/**
 * Fills the websocket masking key with zeros, so ws sends every frame without copying and
 * XOR-ing it. RFC 6455 section 10.3 requires random masks to stop untrusted browser
 * scripts from poisoning proxy caches. This client runs no untrusted script, and the
 * service's stream URL is wss://, so intermediaries never see the frames.
 */
function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) {
    return data;
  }
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

/**
 * Events: `lost` (DataChannelError) once when the socket fails or closes without `close()`
 * having been called. Frames go to the `onFrame` option.
 */
export class WebSocketConnection extends EventEmitter {
  private pingTimer: NodeJS.Timeout | undefined;
  private pongTimer: NodeJS.Timeout | undefined;
  /** Pending ping() calls; each settles on the next pong or when the socket finishes. */
  private readonly pongWaiters = new Set<(error?: DataChannelError) => void>();
  private readingPauseRequested = false;
  /** True while the socket is actually paused. */
  private readingPaused = false;
  private finished = false;
  /** True while the TCP socket is corked until the next tick. */
  private corked = false;

  private constructor(
    private readonly socket: WebSocket,
    private readonly options: ConnectionOptions,
  ) {
    super();
  }

  /** Opens the socket and sends OpenDataChannelInput with a fresh RequestId. */
  static async connect(options: ConnectionOptions): Promise<WebSocketConnection> {
    const socket = new WebSocket(options.streamUrl, {
      handshakeTimeout: DEFAULT_WS_HANDSHAKE_TIMEOUT_MS,
      generateMask: zeroMask,
      ...options.wsOptions,
      // ws 8 accepts messages of up to 100 MiB by default. A message above the protocol's
      // frame limit is rejected from its length header, before it is buffered.
      maxPayload: MAX_FRAME_BYTES,
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => {
        socket.off('open', onOpen);
        socket.terminate();
        reject(
          new DataChannelError(
            'ERR_CONNECT_FAILED',
            `websocket connection to the stream URL failed: ${error.message}`,
            { cause: error },
          ),
        );
      };
      const onOpen = (): void => {
        socket.off('error', onError);
        resolve();
      };
      socket.once('error', onError);
      socket.once('open', onOpen);
    });
    const connection = new WebSocketConnection(socket, options);
    connection.attach();
    await connection.sendText(
      encodeOpenDataChannelInput({
        MessageSchemaVersion: '1.0',
        RequestId: randomUUID(),
        TokenValue: options.tokenValue,
        ClientId: options.clientId,
        ClientVersion: options.clientVersion,
      }),
    );
    return connection;
  }

  get isOpen(): boolean {
    return !this.finished && this.socket.readyState === WebSocket.OPEN;
  }

  /** Bytes handed to the socket that the kernel has not accepted yet. */
  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  /** Sends one binary frame; returns false when the socket is no longer open. */
  send(frame: Buffer): boolean {
    if (!this.isOpen) {
      return false;
    }
    this.corkUntilNextTick();
    this.socket.send(frame, { binary: true });
    return true;
  }

  /**
   * Holds the frames sent in this turn of the event loop in the TCP socket and writes them
   * with one writev on the next tick. One read of the websocket often carries dozens of
   * messages that each need an ack, and one system call per ack took about a tenth of the
   * client's CPU time when profiling a 100 MB download. The flush runs before the event
   * loop polls for I/O again, so no frame waits for a later turn.
   */
  private corkUntilNextTick(): void {
    if (this.corked) {
      return;
    }
    // ws 8 exposes the TCP socket only as the private `_socket`. Without it, each frame
    // is written on its own.
    const tcp = (this.socket as unknown as { _socket?: Socket })._socket;
    if (tcp === undefined || tcp === null) {
      return;
    }
    this.corked = true;
    tcp.cork();
    process.nextTick(() => {
      this.corked = false;
      tcp.uncork();
    });
  }

  /**
   * Stops reading the socket, so TCP back-pressure reaches the sender. A few frames that
   * were already read may still arrive. While a ping() waits for its pong the socket is
   * read anyway, because the pong could not arrive otherwise.
   */
  pauseReading(): void {
    this.readingPauseRequested = true;
    this.applyReadingState();
  }

  resumeReading(): void {
    this.readingPauseRequested = false;
    this.applyReadingState();
  }

  /**
   * Sends a websocket ping and resolves with the round-trip time in milliseconds once a
   * pong arrives. Rejects with ERR_PING_TIMEOUT after `timeoutMs`, or with
   * ERR_CONNECTION_LOST when the socket closes first. Any pong counts, because a pong to
   * the keepalive ping proves the same liveness.
   */
  ping(timeoutMs: number): Promise<number> {
    if (!this.isOpen) {
      return Promise.reject(
        new DataChannelError('ERR_CONNECTION_LOST', 'the websocket is not open; cannot ping'),
      );
    }
    const startedMs = performance.now();
    return new Promise<number>((resolve, reject) => {
      const settle = (error?: DataChannelError): void => {
        clearTimeout(timer);
        this.pongWaiters.delete(settle);
        this.applyReadingState();
        if (error) {
          reject(error);
        } else {
          resolve(performance.now() - startedMs);
        }
      };
      const timer = setTimeout(
        () =>
          settle(
            new DataChannelError(
              'ERR_PING_TIMEOUT',
              `no websocket pong within ${timeoutMs} ms; the connection may be dead`,
            ),
          ),
        timeoutMs,
      );
      timer.unref();
      this.pongWaiters.add(settle);
      this.applyReadingState();
      this.socket.ping('health');
    });
  }

  /**
   * Pings at once and treats the connection as lost with ERR_PONG_TIMEOUT when no pong
   * arrives within `pongTimeoutMs`. The socket is read meanwhile even if reading is paused.
   */
  checkAlive(): void {
    this.ping(this.options.pongTimeoutMs).catch((error: DataChannelError) => {
      if (error.code === 'ERR_PING_TIMEOUT') {
        this.lose(
          new DataChannelError(
            'ERR_PONG_TIMEOUT',
            `no websocket pong within ${this.options.pongTimeoutMs} ms of the reconnect; treating the connection as lost`,
          ),
        );
      }
    });
  }

  /** Closes with code 1000, then destroys the socket if the peer does not finish the close. */
  async close(): Promise<void> {
    if (this.finished) {
      return;
    }
    this.finish();
    if (this.socket.readyState === WebSocket.CLOSED) {
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.socket.terminate();
        resolve();
      }, CLOSE_TIMEOUT_MS);
      timer.unref();
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.close(1000);
    });
  }

  private sendText(text: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.send(text, { binary: false }, (error) => {
        if (error) {
          this.lose(
            new DataChannelError(
              'ERR_CONNECT_FAILED',
              `sending OpenDataChannelInput failed: ${error.message}`,
              {
                cause: error,
              },
            ),
          );
          reject(error);
        } else {
          resolve();
        }
      });
    });
  }

  private attach(): void {
    this.socket.on('message', (data: RawData) => {
      if (!this.finished) {
        this.options.onFrame(toBuffer(data));
      }
    });
    this.socket.on('pong', () => {
      if (this.finished) {
        return;
      }
      this.options.onPong?.();
      clearTimeout(this.pongTimer);
      this.pongTimer = undefined;
      for (const settle of [...this.pongWaiters]) {
        settle();
      }
    });
    this.socket.on('error', (error: Error & { code?: string }) => {
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        this.options.onOversizedFrame?.(
          new MessageDecodeError(
            'ERR_FRAME_TOO_LARGE',
            `websocket message exceeds the ${MAX_FRAME_BYTES}-byte frame limit (${error.message})`,
          ),
        );
      }
      this.lose(
        new DataChannelError('ERR_CONNECTION_LOST', `websocket failed: ${error.message}`, {
          cause: error,
        }),
      );
    });
    this.socket.on('close', (code: number, reason: Buffer) => {
      const text = reason.toString('utf8');
      this.lose(
        new DataChannelError(
          'ERR_CONNECTION_LOST',
          `websocket closed with code ${code}${text ? ` (${text})` : ''}`,
        ),
      );
    });
    this.pingTimer = setInterval(() => this.sendKeepAlive(), this.options.pingIntervalMs);
    this.pingTimer.unref();
  }

  private sendKeepAlive(): void {
    if (!this.isOpen || this.pongTimer !== undefined || this.readingPaused) {
      return;
    }
    this.socket.ping('keepalive');
    this.pongTimer = setTimeout(() => {
      this.lose(
        new DataChannelError(
          'ERR_PONG_TIMEOUT',
          `no websocket pong within ${this.options.pongTimeoutMs} ms; treating the connection as lost`,
        ),
      );
    }, this.options.pongTimeoutMs);
    this.pongTimer.unref();
  }

  private applyReadingState(): void {
    const pause = this.readingPauseRequested && this.pongWaiters.size === 0 && !this.finished;
    if (pause === this.readingPaused) {
      return;
    }
    this.readingPaused = pause;
    if (pause) {
      // The keepalive pong cannot be read either, so its deadline would fire falsely.
      clearTimeout(this.pongTimer);
      this.pongTimer = undefined;
      this.socket.pause();
    } else {
      this.socket.resume();
    }
  }

  private lose(error: DataChannelError): void {
    if (this.finished) {
      return;
    }
    this.finish();
    this.socket.terminate();
    this.emit('lost', error);
  }

  private finish(): void {
    this.finished = true;
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.pongTimer = undefined;
    const closed = new DataChannelError(
      'ERR_CONNECTION_LOST',
      'the websocket closed before the pong arrived',
    );
    for (const settle of [...this.pongWaiters]) {
      settle(closed);
    }
  }
}
