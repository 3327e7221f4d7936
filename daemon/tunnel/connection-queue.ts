// Local connections of one tunnel: places each accepted socket on a session, or keeps it
// waiting until a session is ready, and closes it when none becomes ready in time. It closes
// new connections at once instead while the last session start failed with a lasting error
// and no session is resuming, or while every session resumes and the latest attempt of each
// failed with a lasting error. Either verdict also closes the connections already waiting.

import type { Socket } from 'node:net';
import type pino from 'pino';
import type { BastionlessError } from '../errors.js';
import { leastLoaded, type SessionSlot } from './session-slot.js';

/**
 * Bytes a waiting connection may send before the queue stops reading it. The queue reads
 * waiting sockets, because Node.js reports the client's FIN only after the bytes before it
 * were read. Past this limit a client that closes is noticed only on hand-over or timeout.
 */
export const MAX_WAITING_BYTES = 64 * 1024;

interface WaitingConnection {
  socket: Socket;
  timer: NodeJS.Timeout;
  /** Bytes read while waiting, given back to the socket on hand-over. */
  chunks: Buffer[];
  bytes: number;
  /** Removes the listeners that read the socket while it waits. */
  stopReading: () => void;
}

export interface ConnectionQueueDependencies {
  log: pino.Logger;
  /** How long an accepted connection may wait for a session, in milliseconds. */
  connectionWaitMs: number;
  /** Returns the maximum number of sessions the tunnel may open. */
  poolSize: () => number;
  isRunning: () => boolean;
  /** Returns the open sessions of the tunnel. */
  slots: () => readonly SessionSlot[];
  /** Returns the number of sessions still starting. */
  startingCount: () => number;
  /** Starts the sessions that the waiting connections need. */
  requestSessions: () => void;
  /** Called after a connection was closed at once, so that demand can start another attempt. */
  onFastClose: () => void;
  /** Called when a count shown in the status may have changed. */
  onChange: () => void;
}

export class ConnectionQueue {
  private waiting: WaitingConnection[] = [];
  private accepted = 0;
  /** The lasting start failure that closes connections at once, or null. */
  private failure: BastionlessError | null = null;
  /** Connections closed at once since the failure streak began. */
  private fastClosed = 0;
  /** Connections handed to sessions so far, keep-alive probes included. */
  private handOvers = 0;
  /** Highest hand-over number among closed connections that received bytes from the remote. */
  private latestClosedWithBytes = 0;

  constructor(private readonly deps: ConnectionQueueDependencies) {}

  /** Connections accepted on the listeners, keep-alive probes excluded. */
  get acceptedConnections(): number {
    return this.accepted;
  }

  /** Accepted connections not yet handed to a session or closed. */
  get waitingCount(): number {
    return this.waiting.length;
  }

  /** Connections handed to sessions so far, which also numbers the latest hand-over. */
  get handOverCount(): number {
    return this.handOvers;
  }

  /**
   * Returns true when a connection handed over after hand-over `handOverNumber` received
   * bytes, open or closed by now. Bytes from the session mean the agent reached the remote.
   */
  receivedBytesAfter(handOverNumber: number): boolean {
    return (
      this.latestClosedWithBytes > handOverNumber ||
      this.deps.slots().some((slot) => slot.hasConnectionWithBytesAfter(handOverNumber))
    );
  }

  /** True while new connections without an open session are closed at once. */
  get failingFast(): boolean {
    return this.failure !== null;
  }

  accept(socket: Socket): void {
    // Errors on a waiting socket (client reset) must not crash the daemon. The session
    // installs its own handlers once it owns the socket.
    socket.on('error', () => {});
    if (!this.deps.isRunning()) {
      socket.destroy();
      return;
    }
    this.accepted += 1;
    const slot = this.pickSlot(this.waiting.length + 1);
    if (slot) {
      this.handOver(slot, socket);
    } else if (this.failure !== null && !this.resuming()) {
      this.closeAtOnce(socket);
      this.deps.onFastClose();
    } else if (this.resumesStalled()) {
      // No new session is needed: the stalled ones keep retrying, and when the service has
      // ended one, its end starts the next session.
      this.closeAtOnce(socket);
    } else {
      this.enqueue(socket);
      this.deps.requestSessions();
    }
    this.deps.onChange();
  }

  /** Gives `socket` to the session of `slot` and counts it against that session's load. */
  handOver(slot: SessionSlot, socket: Socket): void {
    this.handOvers += 1;
    const handOverNumber = this.handOvers;
    slot.load += 1;
    slot.trackConnection(socket, handOverNumber);
    slot.session.handleConnection(socket);
    // Registered after handleConnection so the session's own close listener runs first and
    // its activeConnections count is already lower when the change is emitted.
    socket.once('close', () => {
      slot.load -= 1;
      if (socket.bytesWritten > 0) {
        this.latestClosedWithBytes = Math.max(this.latestClosedWithBytes, handOverNumber);
      }
      this.deps.onChange();
    });
  }

  /** Hands waiting connections to sessions, leaving some for sessions still starting. */
  flush(): void {
    while (this.waiting.length > 0) {
      const slot = this.pickSlot(this.waiting.length);
      if (!slot) {
        break;
      }
      const entry = this.waiting.shift() as WaitingConnection;
      this.handOver(slot, this.release(entry));
    }
    if (this.waiting.length > 0) {
      this.deps.requestSessions();
    }
  }

  /** Destroys every waiting connection. */
  dropAll(): void {
    for (const entry of this.waiting) {
      clearTimeout(entry.timer);
      entry.socket.destroy();
    }
    this.waiting = [];
  }

  /**
   * Starts or continues a failure streak: from now on connections that no open session can
   * take are closed at once, and so are the waiting ones. The first call of a streak logs the
   * reason once, and `endFailure` logs how many connections the streak closed.
   */
  beginFailure(error: BastionlessError): void {
    const firstOfStreak = this.failure === null;
    this.failure = error;
    const closed = this.closeWaiting();
    if (firstOfStreak) {
      this.deps.log.warn(
        { code: error.code, reason: error.message, closedConnections: closed },
        'session start failed with a lasting error, closing connections at once until a session opens',
      );
    }
    if (closed > 0) {
      this.deps.onChange();
    }
  }

  /**
   * Closes the waiting connections at once when every session resumes and the latest attempt
   * of each failed with a lasting error, as `beginFailure` does after a lasting start failure.
   * Connections already handed to a session stay. `error` is the latest cause, for the log.
   */
  closeWaitingIfResumesStalled(error: BastionlessError): void {
    if (this.waiting.length === 0 || !this.resumesStalled()) {
      return;
    }
    const closed = this.closeWaiting();
    if (closed > 0) {
      this.deps.log.warn(
        { code: error.code, reason: error.message, closedConnections: closed },
        'resume failed with a lasting error, closed the waiting connections',
      );
      this.deps.onChange();
    }
  }

  /** Ends a failure streak, because a session opened, a transient error followed or the tunnel stops. */
  endFailure(reason: string): void {
    if (this.failure === null) {
      return;
    }
    this.deps.log.info(
      { code: this.failure.code, closedConnections: this.fastClosed, reason },
      'connections wait for sessions again',
    );
    this.failure = null;
    this.fastClosed = 0;
  }

  /**
   * Returns the session for the next connection: an idle one, else undefined while the pool
   * can grow or a starting session can take it, else the least-loaded one. `queued` counts
   * the connections waiting for a session, the one being placed included. During a failure
   * streak no new session is likely, so an open one takes the connection however busy it is.
   * A session that is resuming its websocket takes no new connection: if the service has
   * ended it, its connections die with it, while a waiting one moves to the next session.
   */
  private pickSlot(queued: number): SessionSlot | undefined {
    const slots = this.deps.slots();
    const starting = this.deps.startingCount();
    const best = leastLoaded(slots.filter((slot) => !slot.reconnecting));
    if (best && (best.load === 0 || this.failure !== null)) {
      return best;
    }
    if (slots.length + starting < this.deps.poolSize()) {
      return undefined;
    }
    if (queued <= starting) {
      return undefined;
    }
    return best;
  }

  /**
   * True while a session resumes its websocket and may carry connections again soon, because
   * its latest attempt failed with a transient error or none has failed yet.
   */
  private resuming(): boolean {
    return this.deps.slots().some((slot) => slot.reconnecting && !slot.resumeStalled);
  }

  /**
   * True while every session resumes, the latest attempt of each failed with a lasting error,
   * and no session is starting, so a new connection would wait for nothing likely to come.
   */
  private resumesStalled(): boolean {
    const slots = this.deps.slots();
    return (
      slots.length > 0 &&
      slots.every((slot) => slot.resumeStalled) &&
      this.deps.startingCount() === 0
    );
  }

  /**
   * Moves the waiting connections to open sessions, or closes them without one, and returns
   * the number closed. Connections keep waiting while a session resumes its websocket. It
   * requests no session, unlike `flush`, because the retry timer starts those.
   */
  private closeWaiting(): number {
    const entries = this.waiting;
    const resuming = this.resuming();
    this.waiting = [];
    let closed = 0;
    for (const entry of entries) {
      const slot = this.pickSlot(1);
      if (slot) {
        this.handOver(slot, this.release(entry));
      } else if (resuming) {
        this.waiting.push(entry);
      } else {
        this.closeAtOnce(this.release(entry));
        closed += 1;
      }
    }
    return closed;
  }

  /** Resets the connection, so the client sees a failure rather than an empty reply. */
  private closeAtOnce(socket: Socket): void {
    // Only the closes of a failure streak are counted, because endFailure logs that count.
    if (this.failure !== null) {
      this.fastClosed += 1;
    }
    socket.resetAndDestroy();
  }

  /** Stops the wait of `entry` and returns its socket paused, with the read bytes put back. */
  private release(entry: WaitingConnection): Socket {
    clearTimeout(entry.timer);
    entry.stopReading();
    const { socket } = entry;
    // The session resumes the socket once its own data listener is in place.
    socket.pause();
    if (entry.bytes > 0) {
      socket.unshift(Buffer.concat(entry.chunks, entry.bytes));
    }
    return socket;
  }

  private enqueue(socket: Socket): void {
    const entry: WaitingConnection = {
      socket,
      chunks: [],
      bytes: 0,
      stopReading: () => {},
      timer: setTimeout(() => {
        this.waiting = this.waiting.filter((other) => other !== entry);
        this.deps.log.warn(
          { waitedMs: this.deps.connectionWaitMs },
          'connection closed: no session became ready in time',
        );
        socket.destroy();
        this.deps.onChange();
      }, this.deps.connectionWaitMs),
    };
    entry.timer.unref();
    this.readWhileWaiting(entry);
    socket.once('close', () => {
      clearTimeout(entry.timer);
      if (!this.waiting.includes(entry)) {
        return;
      }
      // A client that gave up while queued lowers the active count, and no other change
      // would announce that.
      this.waiting = this.waiting.filter((other) => other !== entry);
      this.deps.onChange();
    });
    this.waiting.push(entry);
  }

  /**
   * Reads the socket of a waiting connection into `entry.chunks`, so a client that closes
   * while it waits is noticed at once instead of leaving the socket in CLOSE-WAIT.
   */
  private readWhileWaiting(entry: WaitingConnection): void {
    const { socket } = entry;
    const onData = (chunk: Buffer): void => {
      entry.chunks.push(chunk);
      entry.bytes += chunk.length;
      if (entry.bytes >= MAX_WAITING_BYTES) {
        socket.pause();
      }
    };
    // The client is done sending, and a half-closed connection ends the stream on every
    // forwarding path anyway, so its wait ends here. The close listener updates the queue.
    const onEnd = (): void => {
      socket.destroy();
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    entry.stopReading = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
    };
  }
}
