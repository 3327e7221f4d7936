// One smux stream on the client side of a session.

import { EventEmitter } from 'node:events';

import { retainableBuffer } from '../protocol/retainable-buffer.js';
import { SmuxCommand } from './frame.js';
import { SmuxSessionError } from './errors.js';

/** Session operations a stream calls, implemented by `SmuxSession`. */
export interface SmuxStreamHost {
  readonly maxStreamBufferBytes: number;
  /** Sends PSH frames for `data`; returns false while the sink wants the writer to wait. */
  sendData(streamId: number, data: Buffer): boolean;
  sendControl(cmd: typeof SmuxCommand.Fin, streamId: number): void;
  /** Adds `delta` bytes to the session-wide count of received but undelivered bytes. */
  adjustBuffered(delta: number): void;
  forgetStream(streamId: number): void;
}

/**
 * A client-opened smux stream. smux v1 has no per-stream flow control, so received data
 * that the consumer cannot take yet waits in a queue here. Events:
 * - `data` (Buffer): bytes from the remote end, in order.
 * - `end` (): the remote sent FIN and every queued byte was delivered.
 * - `drain` (): the session's sink accepts writes again after `write` returned false.
 * - `receive-full` (): the queue passed `maxStreamBufferBytes`; stop feeding this stream.
 * - `receive-drained` (): the queue fell to half that limit again.
 * - `close` (error?: Error): the stream is gone; `error` is set when the session failed.
 */
export class SmuxStream extends EventEmitter {
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private paused = false;
  private remoteFinished = false;
  private endEmitted = false;
  private receiveFull = false;
  private closedState = false;
  /** Bytes received from the remote end, including bytes still queued. */
  bytesReceived = 0;
  /** Bytes passed to `write`. */
  bytesSent = 0;

  constructor(
    readonly id: number,
    private readonly host: SmuxStreamHost,
  ) {
    super();
  }

  get closed(): boolean {
    return this.closedState;
  }

  /** True once the remote end sent FIN. */
  get remoteClosed(): boolean {
    return this.remoteFinished;
  }

  /** True while the receive queue is above `maxStreamBufferBytes` and not yet half drained. */
  get isReceiveFull(): boolean {
    return this.receiveFull;
  }

  get bufferedBytes(): number {
    return this.queuedBytes;
  }

  /**
   * Sends `data` as PSH frames of at most 32768 bytes. Returns false when the session's
   * sink is congested; the data is accepted anyway, and `drain` signals when to go on.
   */
  write(data: Buffer): boolean {
    if (this.closedState) {
      throw new SmuxSessionError(
        'ERR_SMUX_STREAM_CLOSED',
        `smux stream ${this.id} is closed; open a new stream to send more data`,
      );
    }
    this.bytesSent += data.length;
    return this.host.sendData(this.id, data);
  }

  /** Stops `data` events; received bytes queue up until `resume`. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.flush();
  }

  /**
   * Sends FIN and removes the stream at once, as smux's Stream.Close does: there is no
   * half-close, and data that arrives for this id afterwards is discarded.
   */
  close(): void {
    if (this.closedState) {
      return;
    }
    this.host.sendControl(SmuxCommand.Fin, this.id);
    this.finish();
  }

  /** Called by the session for PSH data. */
  receive(data: Buffer): void {
    if (this.closedState || this.remoteFinished || data.length === 0) {
      return;
    }
    this.bytesReceived += data.length;
    if (!this.paused && this.queue.length === 0) {
      this.emit('data', data);
      return;
    }
    // Queued data may wait long, and data is often a view into a larger read buffer.
    this.queue.push(retainableBuffer(data));
    this.queuedBytes += data.length;
    this.host.adjustBuffered(data.length);
    if (!this.receiveFull && this.queuedBytes > this.host.maxStreamBufferBytes) {
      this.receiveFull = true;
      this.emit('receive-full');
    }
  }

  /** Called by the session when the remote end sent FIN. */
  receiveFin(): void {
    if (this.closedState || this.remoteFinished) {
      return;
    }
    this.remoteFinished = true;
    this.flush();
  }

  /** Called by the session when it ends: the stream goes away without sending FIN. */
  terminate(error?: Error): void {
    if (this.closedState) {
      return;
    }
    this.finish(error);
  }

  /** Called by the session when its sink drained. */
  notifyDrain(): void {
    if (!this.closedState) {
      this.emit('drain');
    }
  }

  private flush(): void {
    while (!this.paused && this.queue.length > 0 && !this.closedState) {
      const chunk = this.queue.shift()!;
      this.queuedBytes -= chunk.length;
      this.host.adjustBuffered(-chunk.length);
      this.emit('data', chunk);
    }
    if (this.receiveFull && this.queuedBytes <= this.host.maxStreamBufferBytes / 2) {
      this.receiveFull = false;
      this.emit('receive-drained');
    }
    if (this.remoteFinished && this.queue.length === 0 && !this.endEmitted && !this.closedState) {
      this.endEmitted = true;
      this.emit('end');
    }
  }

  private finish(error?: Error): void {
    this.closedState = true;
    if (this.queuedBytes > 0) {
      this.host.adjustBuffered(-this.queuedBytes);
    }
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.host.forgetStream(this.id);
    this.emit('close', error);
  }
}
