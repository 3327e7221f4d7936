// Options of a DataChannel: the public shape, the defaults, and validation at construction.

import type { ClientOptions } from 'ws';
import { FRAME_HEADER_BYTES, MAX_FRAME_BYTES } from '../protocol/message.js';
import { DataChannelError } from './errors.js';
import type { DataChannelLogger } from './malformed-frames.js';

export interface DataChannelOptions {
  /** StreamUrl from StartSession; every reconnect reopens this same URL. */
  streamUrl: string;
  /** TokenValue from StartSession, used for the first open only. */
  tokenValue: string;
  sessionId: string;
  /** Identifies this client to the service; reused across reconnects. Default: a random UUID. */
  clientId?: string;
  /**
   * Version reported to the agent. It must be at least 1.1.70 for the agent to choose smux
   * and above 1.2.331.0 for it to turn smux keepalive off. Default: a released plugin number.
   */
  clientVersion?: string;
  /** Calls ResumeSession and returns its token. Throw an error with `retryable: false` to stop. */
  resume: () => Promise<{ tokenValue: string }>;
  /** Maximum unacknowledged plus queued payload bytes before send() returns false. */
  windowBytes?: number;
  /**
   * Maximum PayloadType 1 bytes per message. The official peers send at most 1024, but the
   * agent accepts any length, and fewer, larger messages cut the per-message cost of
   * hashing, framing and acknowledging.
   */
  maxPayloadBytes?: number;
  handshakeTimeoutMs?: number;
  pingIntervalMs?: number;
  /** Time allowed for a pong after each ping before the connection counts as lost. */
  pongTimeoutMs?: number;
  /**
   * Pong timeouts in a row, with no message or pong received between them, after which the
   * channel ends with ERR_PEER_SILENT instead of resuming again. A resumed websocket that
   * stays silent means the service or agent no longer serves the session.
   */
  maxSilentPongTimeouts?: number;
  /** Total time spent trying to reconnect before the channel ends with an error. */
  reconnectForMs?: number;
  /** First reconnect backoff base; it doubles on every retry up to reconnectMaxDelayMs. */
  reconnectInitialDelayMs?: number;
  reconnectMaxDelayMs?: number;
  /** Period of the retransmission check. */
  resendIntervalMs?: number;
  /** Maximum payload bytes retransmitted per retransmission check. */
  retransmitBytesPerTick?: number;
  /**
   * Time a gap in the incoming sequence may stay unfilled, while messages are stored ahead
   * of it, before the channel ends with ERR_STREAM_STALLED so a new session can start.
   */
  stallTimeoutMs?: number;
  /** Maximum messages stored out of order or while delivery is paused. */
  maxBufferedMessages?: number;
  /** Maximum payload bytes stored out of order or while delivery is paused. */
  maxBufferedBytes?: number;
  /**
   * Payload bytes stored while delivery is paused above which the websocket is no longer
   * read, so TCP back-pressure stops the agent. Capped at half of `maxBufferedBytes`.
   */
  readPauseThresholdBytes?: number;
  /** Options of the ws client; `maxPayload` is always the protocol's frame limit. */
  wsOptions?: ClientOptions;
  /**
   * Receives a warning for each kind of malformed frame (first one with details, then
   * counts), and one when the channel ends with ERR_STREAM_STALLED. Default: no logging.
   */
  logger?: DataChannelLogger;
}

export const DATA_CHANNEL_DEFAULTS = Object.freeze({
  clientVersion: '1.2.707.0',
  windowBytes: 4 * 1024 * 1024,
  // NOTE: 32 KiB made a 100 MB upload through the emulator about three times faster than
  // 1 KiB. No limit of the real service on websocket message size is documented.
  maxPayloadBytes: 32 * 1024,
  handshakeTimeoutMs: 30_000,
  // A silent websocket is noticed 10 to 25 s after it stops replying.
  pingIntervalMs: 15_000,
  pongTimeoutMs: 10_000,
  maxSilentPongTimeouts: 2,
  reconnectForMs: 15 * 60_000,
  reconnectInitialDelayMs: 200,
  reconnectMaxDelayMs: 10_000,
  resendIntervalMs: 100,
  retransmitBytesPerTick: 256 * 1024,
  // Longer than a ping interval plus a pong timeout, so a websocket that went silent is
  // resumed (which keeps the connections) before a gap behind it counts as stalled.
  stallTimeoutMs: 30_000,
  // The agent repairs a gap at one message per 100 ms tick, so messages behind a gap must
  // be stored: each frame dropped unacknowledged here costs the agent another tick.
  maxBufferedMessages: 65_536,
  maxBufferedBytes: 64 * 1024 * 1024,
  readPauseThresholdBytes: 2 * 1024 * 1024,
});

export type ResolvedOptions = Required<
  Omit<DataChannelOptions, 'clientId' | 'wsOptions' | 'logger'>
> &
  Pick<DataChannelOptions, 'wsOptions' | 'logger'>;

const POSITIVE_INTEGER_OPTIONS = [
  'windowBytes',
  'maxPayloadBytes',
  'handshakeTimeoutMs',
  'pingIntervalMs',
  'pongTimeoutMs',
  'maxSilentPongTimeouts',
  'reconnectForMs',
  'reconnectInitialDelayMs',
  'reconnectMaxDelayMs',
  'resendIntervalMs',
  'retransmitBytesPerTick',
  'stallTimeoutMs',
  'maxBufferedMessages',
  'maxBufferedBytes',
  'readPauseThresholdBytes',
] as const;

function invalid(message: string): DataChannelError {
  return new DataChannelError('ERR_INVALID_OPTION', message);
}

/** Applies defaults and rejects values that would break the channel later. */
export function validateOptions(options: DataChannelOptions): ResolvedOptions {
  let url: URL;
  try {
    url = new URL(options.streamUrl);
  } catch {
    throw invalid(`invalid streamUrl "${options.streamUrl}": expected a ws:// or wss:// URL`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw invalid(`invalid streamUrl "${options.streamUrl}": expected a ws:// or wss:// URL`);
  }
  if (typeof options.sessionId !== 'string' || options.sessionId === '') {
    throw invalid('sessionId is missing: pass the SessionId returned by StartSession');
  }
  if (typeof options.tokenValue !== 'string') {
    throw invalid('tokenValue is missing: pass the TokenValue returned by StartSession');
  }
  if (typeof options.resume !== 'function') {
    throw invalid('resume is missing: pass a function that calls ResumeSession');
  }
  const resolved = { ...DATA_CHANNEL_DEFAULTS, ...stripUndefined(options) } as ResolvedOptions;
  for (const name of POSITIVE_INTEGER_OPTIONS) {
    const value = resolved[name];
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw invalid(`invalid ${name} ${String(value)}: expected a positive integer`);
    }
  }
  const maxPayload = MAX_FRAME_BYTES - FRAME_HEADER_BYTES;
  if (resolved.maxPayloadBytes > maxPayload) {
    throw invalid(
      `invalid maxPayloadBytes ${resolved.maxPayloadBytes}: the frame limit allows at most ${maxPayload}`,
    );
  }
  return resolved;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([, entry]) => entry !== undefined),
  ) as Partial<T>;
}
