// smux v1 server session, as the agent runs it over the ordered PayloadType 1 byte stream.
// Written independently of the daemon's smux client so each can catch the other's bugs.

import {
  SMUX_MAX_FRAME_DATA,
  SmuxCommand,
  SmuxFrameDecoder,
  encodeSmuxFrame,
} from '../../../daemon/smux/frame.js';

/** smux defaults when keepalive is on: a NOP every 10 s, and a check every 30 s. */
export const SMUX_KEEPALIVE_INTERVAL_MS = 10_000;
export const SMUX_KEEPALIVE_TIMEOUT_MS = 30_000;

export interface SmuxStreamConsumer {
  onData: (data: Buffer) => void;
  /** The peer sent FIN or the session closed. */
  onEnd: () => void;
}

export class SmuxServerStream {
  private pending: Buffer[] = [];
  private consumer: SmuxStreamConsumer | undefined;
  private remoteEnded = false;
  private closed = false;

  constructor(
    readonly id: number,
    private readonly session: SmuxServerSession,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  /** Starts delivering data; data that arrived before the consumer attached comes first. */
  attach(consumer: SmuxStreamConsumer): void {
    this.consumer = consumer;
    for (const chunk of this.pending) {
      consumer.onData(chunk);
    }
    this.pending = [];
    if (this.remoteEnded) {
      consumer.onEnd();
    }
  }

  /** Sends data as PSH frames of at most 32768 bytes; returns false when the pipe is full. */
  write(data: Buffer): boolean {
    if (this.closed) {
      return true;
    }
    let writable = true;
    for (let offset = 0; offset < data.length; offset += SMUX_MAX_FRAME_DATA) {
      const part = data.subarray(offset, offset + SMUX_MAX_FRAME_DATA);
      writable = this.session.writeFrame(encodeSmuxFrame(SmuxCommand.Psh, this.id, part));
    }
    return writable;
  }

  /** Full close as smux does it: FIN, and the stream is forgotten at once. */
  close(): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    this.session.writeFrame(encodeSmuxFrame(SmuxCommand.Fin, this.id));
    this.session.forget(this.id);
  }

  /** @internal */
  deliver(data: Buffer): void {
    if (this.consumer) {
      this.consumer.onData(data);
    } else {
      this.pending.push(Buffer.from(data));
    }
  }

  /** @internal */
  endFromRemote(): void {
    if (this.remoteEnded) {
      return;
    }
    this.remoteEnded = true;
    this.consumer?.onEnd();
  }

  /** @internal Session teardown: no FIN goes out because the pipe is gone. */
  abort(): void {
    this.closed = true;
    this.endFromRemote();
  }
}

export interface SmuxServerOptions {
  /** Writes smux bytes toward the client; returns false when the pipe is full. */
  write: (bytes: Buffer) => boolean;
  /** Called for each accepted stream, one at a time, like the agent's accept loop. */
  accept: (stream: SmuxServerStream) => Promise<void> | void;
  keepAlive: boolean;
  keepAliveIntervalMs?: number;
  keepAliveTimeoutMs?: number;
  /** The session ended: a protocol error, a keepalive timeout or `close()`. */
  onClose: (error?: Error) => void;
}

export class SmuxServerSession {
  private readonly decoder = new SmuxFrameDecoder();
  private readonly streams = new Map<number, SmuxServerStream>();
  private readonly acceptQueue: SmuxServerStream[] = [];
  private accepting = false;
  private frameSinceCheck = false;
  private closed = false;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(private readonly options: SmuxServerOptions) {
    if (options.keepAlive) {
      const ping = setInterval(
        () => this.writeFrame(encodeSmuxFrame(SmuxCommand.Nop, 0)),
        options.keepAliveIntervalMs ?? SMUX_KEEPALIVE_INTERVAL_MS,
      );
      const check = setInterval(
        () => this.checkKeepAlive(),
        options.keepAliveTimeoutMs ?? SMUX_KEEPALIVE_TIMEOUT_MS,
      );
      ping.unref();
      check.unref();
      this.timers.push(ping, check);
    }
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /** Feeds bytes from the client's PayloadType 1 messages, in sequence order. */
  push(bytes: Buffer): void {
    if (this.closed) {
      return;
    }
    let frames;
    try {
      frames = this.decoder.push(bytes);
    } catch (error) {
      this.close(error as Error);
      return;
    }
    for (const frame of frames) {
      this.frameSinceCheck = true;
      if (frame.cmd === SmuxCommand.Syn) {
        this.openStream(frame.streamId);
      } else if (frame.cmd === SmuxCommand.Fin) {
        this.streams.get(frame.streamId)?.endFromRemote();
      } else if (frame.cmd === SmuxCommand.Psh && frame.data.length > 0) {
        // Data for an unknown or already closed stream is read and thrown away.
        this.streams.get(frame.streamId)?.deliver(frame.data);
      }
    }
  }

  close(error?: Error): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    for (const timer of this.timers) {
      clearInterval(timer);
    }
    for (const stream of this.streams.values()) {
      stream.abort();
    }
    this.streams.clear();
    this.acceptQueue.length = 0;
    this.options.onClose(error);
  }

  /** @internal */
  writeFrame(frame: Buffer): boolean {
    return this.closed ? true : this.options.write(frame);
  }

  /** @internal */
  forget(id: number): void {
    this.streams.delete(id);
  }

  private openStream(id: number): void {
    if (this.streams.has(id)) {
      return;
    }
    const stream = new SmuxServerStream(id, this);
    this.streams.set(id, stream);
    this.acceptQueue.push(stream);
    void this.runAcceptLoop();
  }

  private async runAcceptLoop(): Promise<void> {
    if (this.accepting) {
      return;
    }
    this.accepting = true;
    try {
      while (this.acceptQueue.length > 0 && !this.closed) {
        const stream = this.acceptQueue.shift()!;
        try {
          await this.options.accept(stream);
        } catch {
          // The accept callback owns error reporting; a failed accept only loses its stream.
          stream.close();
        }
      }
    } finally {
      this.accepting = false;
    }
  }

  private checkKeepAlive(): void {
    if (!this.frameSinceCheck) {
      this.close(
        new Error('smux keepalive timed out: no frame from the client since the last check'),
      );
      return;
    }
    this.frameSinceCheck = false;
  }
}
