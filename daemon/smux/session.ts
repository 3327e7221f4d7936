// Client side of an smux v1 session, run in-process over an ordered byte stream (the
// Output payloads of the data channel), wire-compatible with github.com/xtaci/smux 1.5.

import { EventEmitter } from 'node:events';

import {
  SMUX_MAX_FRAME_DATA,
  SmuxCommand,
  SmuxFrameDecoder,
  encodeSmuxFrame,
  type SmuxFrame,
} from './frame.js';
import { SmuxSessionError } from './errors.js';
import { SmuxStream, type SmuxStreamHost } from './stream.js';

/** smux's default KeepAliveInterval. */
export const SMUX_KEEPALIVE_INTERVAL_MS = 10_000;
/** smux's default KeepAliveTimeout. */
export const SMUX_KEEPALIVE_TIMEOUT_MS = 30_000;
/** smux's default MaxReceiveBuffer, the session-wide receive budget. */
export const SMUX_MAX_SESSION_BUFFER_BYTES = 4 * 1024 * 1024;
export const SMUX_MAX_STREAM_BUFFER_BYTES = 256 * 1024;

const FIRST_CLIENT_STREAM_ID = 3;
const MAX_STREAM_ID = 0xffff_ffff;

export interface SmuxSessionOptions {
  /**
   * Carries encoded frames to the peer, in order. Returns false when the caller should
   * wait for `notifyDrain()` before writing more; the bytes are accepted either way.
   */
  write: (bytes: Buffer) => boolean;
  /** Sends a NOP every `keepAliveIntervalMs` and fails the session when nothing arrives. */
  keepAlive?: boolean;
  keepAliveIntervalMs?: number;
  keepAliveTimeoutMs?: number;
  /** Queued bytes per stream above which the stream emits `receive-full`. */
  maxStreamBufferBytes?: number;
  /** Queued bytes over all streams above which the session emits `pause-input`. */
  maxSessionBufferBytes?: number;
}

/**
 * smux v1 client session. Stream ids are odd from 3, as the smux client allocates them.
 * Events:
 * - `pause-input` (): too many received bytes wait in stream queues; stop calling
 *   `push` (for example pause the data channel's delivery) until `resume-input`.
 * - `resume-input` (): the queues fell to half of `maxSessionBufferBytes`.
 * - `close` (error?: Error): the session ended; `error` is a `SmuxProtocolError` for a
 *   bad frame or a `SmuxSessionError` for a keepalive timeout.
 */
export class SmuxSession extends EventEmitter implements SmuxStreamHost {
  readonly maxStreamBufferBytes: number;
  readonly maxSessionBufferBytes: number;
  private readonly decoder = new SmuxFrameDecoder();
  private readonly streams = new Map<number, SmuxStream>();
  private readonly timers: NodeJS.Timeout[] = [];
  private nextStreamId = FIRST_CLIENT_STREAM_ID;
  private sinkBlocked = false;
  private inputPaused = false;
  private bufferedTotal = 0;
  private frameSeenSinceCheck = false;
  private closedError: Error | undefined;
  private closedState = false;
  /** PSH bytes that arrived for streams that were unknown or already closed. */
  discardedBytes = 0;

  constructor(private readonly options: SmuxSessionOptions) {
    super();
    this.maxStreamBufferBytes = options.maxStreamBufferBytes ?? SMUX_MAX_STREAM_BUFFER_BYTES;
    this.maxSessionBufferBytes = options.maxSessionBufferBytes ?? SMUX_MAX_SESSION_BUFFER_BYTES;
    if (options.keepAlive) {
      this.startKeepAlive();
    }
  }

  get closed(): boolean {
    return this.closedState;
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /** Received bytes that wait in stream queues. */
  get bufferedBytes(): number {
    return this.bufferedTotal;
  }

  /** True between `pause-input` and `resume-input`. */
  get isInputPaused(): boolean {
    return this.inputPaused;
  }

  /** Opens a stream and sends its SYN at once, before any data. */
  openStream(): SmuxStream {
    if (this.closedState) {
      throw new SmuxSessionError(
        'ERR_SMUX_SESSION_CLOSED',
        'smux session is closed; start a new session to open streams',
        { cause: this.closedError },
      );
    }
    if (this.nextStreamId > MAX_STREAM_ID) {
      throw new SmuxSessionError(
        'ERR_SMUX_STREAM_IDS_EXHAUSTED',
        'smux session used all 2^31 client stream ids; start a new session',
      );
    }
    const stream = new SmuxStream(this.nextStreamId, this);
    this.nextStreamId += 2;
    this.streams.set(stream.id, stream);
    this.writeFrame(encodeSmuxFrame(SmuxCommand.Syn, stream.id));
    return stream;
  }

  /**
   * Feeds bytes from the peer. Chunk boundaries need not match frames. A bad version or
   * an unknown command ends the session with a `SmuxProtocolError`.
   */
  push(chunk: Buffer): void {
    if (this.closedState) {
      return;
    }
    let frames: SmuxFrame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (error) {
      this.destroy(error as Error);
      return;
    }
    for (const frame of frames) {
      if (this.closedState) {
        return;
      }
      this.handleFrame(frame);
    }
  }

  /** Tells the session that its sink accepts writes again. */
  notifyDrain(): void {
    if (!this.sinkBlocked) {
      return;
    }
    this.sinkBlocked = false;
    for (const stream of [...this.streams.values()]) {
      if (this.sinkBlocked) {
        break;
      }
      stream.notifyDrain();
    }
  }

  /** Ends the session and every stream without sending FINs, as smux's Session.Close does. */
  close(): void {
    this.destroy();
  }

  /** Ends the session; every stream emits `close` with `error`. */
  destroy(error?: Error): void {
    if (this.closedState) {
      return;
    }
    this.closedState = true;
    this.closedError = error;
    for (const timer of this.timers) {
      clearInterval(timer);
    }
    for (const stream of [...this.streams.values()]) {
      stream.terminate(error);
    }
    this.emit('close', error);
  }

  sendData(streamId: number, data: Buffer): boolean {
    for (let offset = 0; offset < data.length; offset += SMUX_MAX_FRAME_DATA) {
      const part = data.subarray(offset, offset + SMUX_MAX_FRAME_DATA);
      this.writeFrame(encodeSmuxFrame(SmuxCommand.Psh, streamId, part));
    }
    return !this.sinkBlocked;
  }

  sendControl(cmd: typeof SmuxCommand.Fin, streamId: number): void {
    if (!this.closedState) {
      this.writeFrame(encodeSmuxFrame(cmd, streamId));
    }
  }

  adjustBuffered(delta: number): void {
    this.bufferedTotal += delta;
    if (!this.inputPaused && this.bufferedTotal > this.maxSessionBufferBytes) {
      this.inputPaused = true;
      this.emit('pause-input');
    } else if (this.inputPaused && this.bufferedTotal <= this.maxSessionBufferBytes / 2) {
      this.inputPaused = false;
      this.emit('resume-input');
    }
  }

  forgetStream(streamId: number): void {
    this.streams.delete(streamId);
  }

  private handleFrame(frame: SmuxFrame): void {
    this.frameSeenSinceCheck = true;
    const stream = this.streams.get(frame.streamId);
    switch (frame.cmd) {
      case SmuxCommand.Psh:
        if (stream) {
          stream.receive(frame.data);
        } else {
          this.discardedBytes += frame.data.length;
        }
        break;
      case SmuxCommand.Fin:
        stream?.receiveFin();
        break;
      // The agent never opens streams, and a v1 session ignores NOP and UPD apart from
      // counting them as activity for the keepalive check.
      case SmuxCommand.Syn:
      case SmuxCommand.Nop:
      case SmuxCommand.Upd:
        break;
    }
  }

  private writeFrame(frame: Buffer): void {
    if (!this.options.write(frame)) {
      this.sinkBlocked = true;
    }
  }

  private startKeepAlive(): void {
    const intervalMs = this.options.keepAliveIntervalMs ?? SMUX_KEEPALIVE_INTERVAL_MS;
    const timeoutMs = this.options.keepAliveTimeoutMs ?? SMUX_KEEPALIVE_TIMEOUT_MS;
    const nop = setInterval(() => {
      this.writeFrame(encodeSmuxFrame(SmuxCommand.Nop, 0));
    }, intervalMs);
    // Like smux, a paused reader is not a dead peer: skip the check while input is paused.
    const check = setInterval(() => {
      if (!this.frameSeenSinceCheck && !this.inputPaused) {
        this.destroy(
          new SmuxSessionError(
            'ERR_SMUX_KEEPALIVE_TIMEOUT',
            `smux peer sent nothing for ${timeoutMs} ms with keepalive on; the session is dead`,
          ),
        );
      }
      this.frameSeenSinceCheck = false;
    }, timeoutMs);
    nop.unref();
    check.unref();
    this.timers.push(nop, check);
  }
}
