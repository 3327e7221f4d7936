// Mux mode: every local connection is one smux stream over the data channel, and the
// agent dials the remote host once per stream.

import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';

import { PayloadFlag } from '../protocol/message.js';
import { SmuxSession } from '../smux/session.js';
import type { SmuxStream } from '../smux/stream.js';
import type { ForwardingChannel, ForwardingCounters } from './channel.js';
import { PortForwardError } from './errors.js';

export interface MuxForwarderOptions {
  /** Sends smux NOPs every 10 s, which agents up to 3.1.1511.0 require. */
  keepAlive: boolean;
  maxStreamBufferBytes?: number;
  maxSessionBufferBytes?: number;
}

/**
 * Carries local connections as smux streams. Events:
 * - `dial-failed` (): the agent could not reach the remote host for one connection.
 * - `failed` (error: PortForwardError): the smux session broke; the caller ends the session.
 */
export class MuxForwarder extends EventEmitter {
  private readonly smux: SmuxSession;
  private readonly sockets = new Set<Socket>();
  /**
   * ConnectToPortError flags not yet matched to a stream. The agent sends the flag and
   * then a FIN for the stream whose dial failed, so the next stream that ends without
   * having received a byte is the failed one.
   */
  private unmatchedDialFailures = 0;
  private readonly detachChannel: () => void;

  constructor(
    private readonly channel: ForwardingChannel,
    private readonly counters: ForwardingCounters,
    options: MuxForwarderOptions,
  ) {
    super();
    this.smux = new SmuxSession({
      write: (bytes) => channel.send(bytes),
      keepAlive: options.keepAlive,
      maxStreamBufferBytes: options.maxStreamBufferBytes,
      maxSessionBufferBytes: options.maxSessionBufferBytes,
    });
    this.smux.on('pause-input', () => channel.pauseDelivery());
    this.smux.on('resume-input', () => channel.resumeDelivery());
    this.smux.on('close', (error?: Error) => {
      if (error) {
        this.emit(
          'failed',
          new PortForwardError('ERR_SMUX_FAILED', `smux session failed: ${error.message}`, {
            cause: error,
          }),
        );
      }
    });
    const onData = (chunk: Buffer): void => this.smux.push(chunk);
    const onDrain = (): void => this.smux.notifyDrain();
    const onFlag = (flag: number): void => {
      if (flag === PayloadFlag.ConnectToPortError) {
        this.unmatchedDialFailures += 1;
      }
    };
    channel.on('data', onData);
    channel.on('drain', onDrain);
    channel.on('flag', onFlag);
    this.detachChannel = () => {
      channel.off('data', onData);
      channel.off('drain', onDrain);
      channel.off('flag', onFlag);
    };
  }

  handleConnection(socket: Socket): void {
    if (this.smux.closed) {
      socket.resetAndDestroy();
      return;
    }
    const stream = this.smux.openStream();
    this.sockets.add(socket);
    this.counters.activeConnections += 1;
    this.counters.totalConnections += 1;
    this.pipe(socket, stream);
  }

  /**
   * Resets every local connection whose stream is still open and ends the smux session
   * without sending smux FIN frames. A connection whose stream already ended normally
   * keeps flushing its last bytes and closes itself on `finish`.
   */
  close(): void {
    this.detachChannel();
    this.smux.close();
    for (const socket of [...this.sockets]) {
      // destroy() sends FIN when no unread bytes wait in the kernel, which would pass a
      // download cut by the session end off as complete, so send RST instead.
      if (!socket.writableEnded && !socket.destroyed) {
        socket.resetAndDestroy();
      }
    }
  }

  private pipe(socket: Socket, stream: SmuxStream): void {
    let waitingForDrain = false;
    let released = false;
    /** True once the client sent bytes after its stream closed, which the remote never gets. */
    let uploadLost = false;
    const release = (): void => {
      if (released) {
        return;
      }
      released = true;
      this.sockets.delete(socket);
      this.counters.activeConnections -= 1;
    };

    socket.on('data', (chunk: Buffer) => {
      if (stream.closed) {
        // smux has no half-close, so these bytes can never reach the remote host. The
        // socket resets on `finish`, and until then further bytes stay in the kernel.
        uploadLost = true;
        socket.pause();
        return;
      }
      this.counters.bytesOut += chunk.length;
      if (!stream.write(chunk)) {
        waitingForDrain = true;
        socket.pause();
      }
    });
    stream.on('drain', () => {
      waitingForDrain = false;
      if (!stream.isReceiveFull) {
        socket.resume();
      }
    });

    stream.on('data', (chunk: Buffer) => {
      this.counters.bytesIn += chunk.length;
      if (!socket.write(chunk)) {
        stream.pause();
      }
    });
    socket.on('drain', () => stream.resume());
    // smux v1 has no per-stream window, so a slow local reader is slowed down at its own
    // socket: stop reading its requests until it catches up with the replies.
    // NOTE: a reader that stays stalled while its remote keeps sending fills the session
    // buffer (4 MiB by default), and then delivery pauses for every stream.
    stream.on('receive-full', () => socket.pause());
    stream.on('receive-drained', () => {
      if (!waitingForDrain) {
        socket.resume();
      }
    });

    stream.on('end', () => {
      if (stream.bytesReceived === 0 && this.unmatchedDialFailures > 0) {
        this.unmatchedDialFailures -= 1;
        this.counters.dialFailures += 1;
        stream.close();
        // A reset shows the local client that the connection failed, as a refused dial would.
        socket.resetAndDestroy();
        // Released now, not on the socket's later close, so listeners of `dial-failed` read
        // an active count without this connection.
        release();
        this.emit('dial-failed');
        return;
      }
      // smux has no half-close: the remote end is done, so close both directions.
      // The socket may be paused for a stream drain that now never comes, so the `finish`
      // handler closes it rather than waiting for the client's FIN behind unread bytes.
      stream.close();
      socket.end();
    });
    stream.on('close', (error?: Error) => {
      if (error && !socket.destroyed) {
        socket.resetAndDestroy();
      }
    });

    socket.on('end', () => {
      // A local half-close ends the stream completely, as the plugin does, so a reply
      // still in flight is lost.
      stream.close();
      socket.end();
    });
    socket.on('finish', () => {
      // The stream is closed, so nothing more can go upstream. The kernel sends every byte
      // from the remote end before the FIN, and it resets the connection if client bytes
      // wait unread or arrive later, so closing the fd now loses nothing.
      // NOTE: a client that stops reading before the whole download reached the kernel
      // never causes `finish`, so its connection stays open until it reads or closes.
      if (uploadLost) {
        socket.resetAndDestroy();
      } else {
        socket.destroy();
      }
    });
    socket.on('error', () => {
      // The socket closes right after; the stream goes with it in the close handler.
    });
    socket.on('close', () => {
      stream.close();
      release();
    });
    // Listeners accept with pauseOnConnect so no byte arrives before this pipe exists.
    socket.resume();
  }
}
