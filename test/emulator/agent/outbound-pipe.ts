// Byte pipe from the agent's port session to the data channel: like the agent's reader
// loop it sends at most 1024 bytes per output_stream_data message and, with pacing on,
// sleeps 1 ms after each message.

import { EventEmitter } from 'node:events';

export const AGENT_CHUNK_BYTES = 1024;
/** Above this many queued bytes `write` returns false, so sources pause like a full pipe. */
const HIGH_WATER_MARK = 256 * 1024;
/** Without pacing, yield to the event loop after this many messages so acks get processed. */
const MESSAGES_PER_TURN = 256;
const RETRY_DELAY_MS = 2;

export interface OutboundPipeOptions {
  /** Sends one chunk as one message. */
  send: (chunk: Buffer) => void;
  /** False while the agent is paused or the websocket is congested. */
  canSend: () => boolean;
  pacing: boolean;
}

/** Emits `drain` when the queue falls back under half the high-water mark. */
export class OutboundPipe extends EventEmitter {
  private readonly chunks: Buffer[] = [];
  private head = 0;
  private queuedBytes = 0;
  private scheduled = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: OutboundPipeOptions) {
    super();
  }

  get bufferedBytes(): number {
    return this.queuedBytes;
  }

  write(data: Buffer): boolean {
    if (this.closed || data.length === 0) {
      return true;
    }
    this.chunks.push(data);
    this.queuedBytes += data.length;
    this.schedule(0);
    return this.queuedBytes < HIGH_WATER_MARK;
  }

  /** Restarts a pump that waits for `canSend`, e.g. after the agent is unpaused. */
  kick(): void {
    this.schedule(0);
  }

  close(): void {
    this.closed = true;
    this.chunks.length = 0;
    this.head = 0;
    this.queuedBytes = 0;
    clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    if (this.scheduled || this.closed || this.queuedBytes === 0) {
      return;
    }
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      this.pump();
    };
    if (delayMs === 0) {
      setImmediate(run);
    } else {
      this.timer = setTimeout(run, delayMs);
    }
  }

  private pump(): void {
    let sent = 0;
    while (this.queuedBytes > 0 && !this.closed) {
      if (!this.options.canSend()) {
        this.schedule(RETRY_DELAY_MS);
        return;
      }
      this.options.send(this.take(AGENT_CHUNK_BYTES));
      sent++;
      if (this.queuedBytes < HIGH_WATER_MARK / 2) {
        this.emit('drain');
      }
      if (this.options.pacing) {
        this.schedule(1);
        return;
      }
      if (sent >= MESSAGES_PER_TURN) {
        this.schedule(0);
        return;
      }
    }
  }

  /** Removes up to `limit` bytes from the front, copying only when a chunk boundary is crossed. */
  private take(limit: number): Buffer {
    const first = this.chunks[this.head]!;
    if (first.length > limit) {
      this.chunks[this.head] = first.subarray(limit);
      this.queuedBytes -= limit;
      return first.subarray(0, limit);
    }
    const parts: Buffer[] = [];
    let size = 0;
    while (this.head < this.chunks.length && size < limit) {
      const chunk = this.chunks[this.head]!;
      const room = limit - size;
      if (chunk.length > room) {
        parts.push(chunk.subarray(0, room));
        this.chunks[this.head] = chunk.subarray(room);
        size += room;
        break;
      }
      parts.push(chunk);
      size += chunk.length;
      this.head++;
    }
    this.queuedBytes -= size;
    if (this.head === this.chunks.length) {
      this.chunks.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.chunks.length) {
      this.chunks.splice(0, this.head);
      this.head = 0;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
  }
}
