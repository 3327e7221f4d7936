// Basic mode for agents up to 3.0.196.0: the Output payloads are the raw bytes of one
// forwarded TCP connection, so only one local connection is carried at a time.

import type { Socket } from 'node:net';

import { PayloadFlag } from '../protocol/message.js';
import type { ForwardingChannel, ForwardingCounters } from './channel.js';

/**
 * Carries one local connection at a time; later ones wait, paused, in arrival order.
 * When the active connection closes it sends DisconnectToPort, so the agent closes its
 * destination connection and dials again on the next data from the client.
 */
export class BasicForwarder {
  private readonly waiting: Socket[] = [];
  private active: Socket | null = null;
  /** True until the first connection starts; data that arrives earlier waits for it. */
  private beforeFirstConnection = true;
  /** Agent bytes dropped because they arrived after their connection had closed. */
  droppedBytes = 0;
  private readonly detachChannel: () => void;

  constructor(
    private readonly channel: ForwardingChannel,
    private readonly counters: ForwardingCounters,
  ) {
    // The agent dials at session start, so a server that speaks first (SSH, MySQL) may
    // send before any local connection exists: hold that data until one arrives.
    channel.pauseDelivery();
    const onData = (chunk: Buffer): void => this.deliver(chunk);
    const onDrain = (): void => {
      this.active?.resume();
    };
    channel.on('data', onData);
    channel.on('drain', onDrain);
    this.detachChannel = () => {
      channel.off('data', onData);
      channel.off('drain', onDrain);
    };
  }

  handleConnection(socket: Socket): void {
    this.counters.totalConnections += 1;
    this.counters.activeConnections += 1;
    socket.pause();
    this.waiting.push(socket);
    let released = false;
    socket.on('error', () => {
      // The socket closes right after; the close handler moves on to the next one.
    });
    socket.once('close', () => {
      if (released) {
        return;
      }
      released = true;
      this.counters.activeConnections -= 1;
      this.release(socket);
    });
    this.startNext();
  }

  /**
   * Resets the active and every waiting connection, because a FIN would tell the client
   * that a download cut by the session end was complete.
   */
  close(): void {
    this.detachChannel();
    for (const socket of [...this.waiting, ...(this.active ? [this.active] : [])]) {
      if (!socket.destroyed) {
        socket.resetAndDestroy();
      }
    }
    this.waiting.length = 0;
    this.active = null;
  }

  private startNext(): void {
    if (this.active !== null || this.waiting.length === 0) {
      return;
    }
    const socket = this.waiting.shift()!;
    this.active = socket;
    socket.on('data', (chunk: Buffer) => {
      if (this.active !== socket) {
        return;
      }
      this.counters.bytesOut += chunk.length;
      if (!this.channel.send(chunk)) {
        socket.pause();
      }
    });
    socket.on('drain', () => this.channel.resumeDelivery());
    socket.on('end', () => socket.end());
    socket.resume();
    if (this.beforeFirstConnection) {
      this.beforeFirstConnection = false;
      this.channel.resumeDelivery();
    }
  }

  private deliver(chunk: Buffer): void {
    const socket = this.active;
    if (socket === null || socket.destroyed || !socket.writable) {
      this.droppedBytes += chunk.length;
      return;
    }
    this.counters.bytesIn += chunk.length;
    if (!socket.write(chunk)) {
      this.channel.pauseDelivery();
    }
  }

  private release(socket: Socket): void {
    const index = this.waiting.indexOf(socket);
    if (index >= 0) {
      this.waiting.splice(index, 1);
      return;
    }
    if (this.active !== socket) {
      return;
    }
    this.active = null;
    // Delivery may be paused for this socket's full buffer, which no longer drains.
    this.channel.resumeDelivery();
    this.channel.sendFlag(PayloadFlag.DisconnectToPort);
    this.startNext();
  }
}
