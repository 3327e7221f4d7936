import type { DaemonEvent, MfaRequest } from './types.js';

/** The part of the WHATWG WebSocket that both browsers and the `ws` package provide. */
export interface WebSocketLike {
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  close(code?: number, reason?: string): void;
}

export type WebSocketFactory = (url: string, protocols: string[]) => WebSocketLike;

export type StreamStatus = 'connecting' | 'open' | 'closed';

export interface EventStreamOptions {
  url: string;
  token: string;
  createSocket: WebSocketFactory;
  onEvent: (event: DaemonEvent) => void;
  onStatus?: (status: StreamStatus, detail?: string) => void;
  /** First reconnect delay; each failed attempt doubles it up to maxDelayMs. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Time an attempt may take to open before it is abandoned and retried. */
  openTimeoutMs?: number;
}

/**
 * Subscribes to the daemon's `/v1/events` websocket and reconnects with capped exponential
 * backoff until stop() is called. Malformed messages are dropped, not thrown.
 */
export class EventStream {
  private readonly options: Required<Omit<EventStreamOptions, 'onStatus'>> &
    Pick<EventStreamOptions, 'onStatus'>;
  private socket: WebSocketLike | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private openTimer: ReturnType<typeof setTimeout> | null = null;
  private delayMs: number;
  private stopped = false;
  /** Number of connection attempts since the last successful open. */
  failedAttempts = 0;

  constructor(options: EventStreamOptions) {
    this.options = {
      initialDelayMs: 500,
      maxDelayMs: 15_000,
      openTimeoutMs: 5_000,
      ...options,
    };
    this.delayMs = this.options.initialDelayMs;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onclose = null;
      socket.close(1000, 'client stopped');
    }
    this.options.onStatus?.('closed', 'stopped');
  }

  private connect(): void {
    if (this.stopped) return;
    this.options.onStatus?.('connecting');
    let socket: WebSocketLike;
    try {
      socket = this.options.createSocket(this.options.url, [`bearer.${this.options.token}`]);
    } catch (error) {
      this.options.onStatus?.('closed', (error as Error).message);
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    this.openTimer = setTimeout(() => {
      socket.close(4000, 'open timed out');
      this.handleClose(socket, `opening timed out after ${this.options.openTimeoutMs} ms`);
    }, this.options.openTimeoutMs);
    socket.onopen = () => {
      this.clearOpenTimer();
      this.failedAttempts = 0;
      this.delayMs = this.options.initialDelayMs;
      this.options.onStatus?.('open');
    };
    socket.onmessage = (message) => {
      const event = parseDaemonEvent(message.data);
      if (event) this.options.onEvent(event);
    };
    socket.onerror = () => {
      // Every error is followed by a close event, which schedules the retry.
    };
    socket.onclose = (event) => {
      this.handleClose(socket, event.reason || `closed with code ${event.code}`);
    };
  }

  private handleClose(socket: WebSocketLike, detail: string): void {
    if (this.socket !== socket) return;
    this.socket = null;
    socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
    this.clearOpenTimer();
    this.options.onStatus?.('closed', detail);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    this.failedAttempts += 1;
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.options.maxDelayMs);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }

  private clearOpenTimer(): void {
    if (this.openTimer) clearTimeout(this.openTimer);
    this.openTimer = null;
  }

  private clearTimers(): void {
    this.clearOpenTimer();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }
}

/** Parses one websocket message into a DaemonEvent, or returns null when it does not fit. */
export function parseDaemonEvent(data: unknown): DaemonEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(typeof data === 'string' ? data : String(data));
  } catch {
    return null;
  }
  if (!value || typeof value !== 'object') return null;
  const event = value as Record<string, unknown>;
  if (event.type === 'state') {
    const tunnel = event.tunnel as Record<string, unknown> | undefined;
    if (!tunnel || typeof tunnel.name !== 'string' || typeof tunnel.state !== 'string') {
      return null;
    }
    return event as unknown as DaemonEvent;
  }
  if (event.type === 'removed') {
    return typeof event.name === 'string' ? (event as unknown as DaemonEvent) : null;
  }
  if (event.type === 'traffic') {
    const valid =
      typeof event.name === 'string' &&
      typeof event.bytesIn === 'number' &&
      typeof event.bytesOut === 'number';
    return valid ? (event as unknown as DaemonEvent) : null;
  }
  if (event.type === 'mfa-required' || event.type === 'mfa-settled') {
    return isMfaRequest(event.request) ? (event as unknown as DaemonEvent) : null;
  }
  if (event.type === 'config') {
    const error = event.configError;
    const valid =
      typeof event.configFile === 'string' &&
      typeof event.tunnels === 'number' &&
      (error === null ||
        (typeof error === 'object' &&
          typeof (error as Record<string, unknown>).message === 'string'));
    return valid ? (event as unknown as DaemonEvent) : null;
  }
  return null;
}

/** Checks the fields of an MFA request that the dashboard and the tray read. */
export function isMfaRequest(value: unknown): value is MfaRequest {
  if (!value || typeof value !== 'object') return false;
  const request = value as Record<string, unknown>;
  return (
    typeof request.id === 'string' &&
    typeof request.profile === 'string' &&
    typeof request.mfaSerial === 'string' &&
    typeof request.requestedAt === 'string'
  );
}
