// Local connections of one tunnel: places each accepted socket on a session, or keeps it
// waiting until a session is ready, and closes it when none becomes ready in time.

import type { Socket } from 'node:net';
import type pino from 'pino';
import { leastLoaded, type SessionSlot } from './session-slot.js';

interface WaitingConnection {
  socket: Socket;
  timer: NodeJS.Timeout;
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
  /** Called when a count shown in the status may have changed. */
  onChange: () => void;
}

export class ConnectionQueue {
  private waiting: WaitingConnection[] = [];
  private accepted = 0;

  constructor(private readonly deps: ConnectionQueueDependencies) {}

  /** Connections accepted on the listeners, keep-alive probes excluded. */
  get acceptedConnections(): number {
    return this.accepted;
  }

  /** Accepted connections not yet handed to a session or closed. */
  get waitingCount(): number {
    return this.waiting.length;
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
    } else {
      this.enqueue(socket);
      this.deps.requestSessions();
    }
    this.deps.onChange();
  }

  /** Gives `socket` to the session of `slot` and counts it against that session's load. */
  handOver(slot: SessionSlot, socket: Socket): void {
    slot.load += 1;
    slot.session.handleConnection(socket);
    // Registered after handleConnection so the session's own close listener runs first and
    // its activeConnections count is already lower when the change is emitted.
    socket.once('close', () => {
      slot.load -= 1;
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
      clearTimeout(entry.timer);
      this.handOver(slot, entry.socket);
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
   * Returns the session for the next connection: an idle one, else undefined while the pool
   * can grow or a starting session can take it, else the least-loaded one. `queued` counts
   * the connections waiting for a session, the one being placed included.
   */
  private pickSlot(queued: number): SessionSlot | undefined {
    const slots = this.deps.slots();
    const starting = this.deps.startingCount();
    const best = leastLoaded(slots);
    if (best && best.load === 0) {
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

  private enqueue(socket: Socket): void {
    const entry: WaitingConnection = {
      socket,
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
}
