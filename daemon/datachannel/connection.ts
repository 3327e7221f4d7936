// One websocket to the Session Manager service: opens it, authenticates with the
// OpenDataChannelInput text frame, watches liveness with ping/pong, and reports its loss
// exactly once. The data channel replaces the whole object on every reconnect.

import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { WebSocket, type ClientOptions, type RawData } from 'ws';
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
  private finished = false;

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
      ...options.wsOptions,
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

  /** Sends one binary frame; returns false when the socket is no longer open. */
  send(frame: Buffer): boolean {
    if (!this.isOpen) {
      return false;
    }
    this.socket.send(frame, { binary: true });
    return true;
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
      clearTimeout(this.pongTimer);
      this.pongTimer = undefined;
    });
    this.socket.on('error', (error: Error) => {
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
    this.pingTimer = setInterval(() => this.ping(), this.options.pingIntervalMs);
    this.pingTimer.unref();
  }

  private ping(): void {
    if (!this.isOpen || this.pongTimer !== undefined) {
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
  }
}
