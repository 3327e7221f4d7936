// One session of a tunnel's pool, with the connection count used to place new connections.

import type { Socket } from 'node:net';
import type { ReconnectAttemptFailure } from '../datachannel/reconnect.js';
import type { BastionlessError } from '../errors.js';
import type { PortForwardSession, SessionEnd } from '../portforward/types.js';
import type { ReconnectFailure } from './reconnect-failure.js';
import type { SessionRoute } from './session-launcher.js';

export interface SessionSlotEvents {
  reconnecting(slot: SessionSlot, error: Error): void;
  /** Called as each resume attempt begins; optional, so listeners without it keep working. */
  reconnectAttempt?(slot: SessionSlot, attempt: number): void;
  /** Called after each failed resume attempt; optional, so listeners without it keep working. */
  reconnectFailed?(slot: SessionSlot, failure: ReconnectAttemptFailure): void;
  reconnected(slot: SessionSlot): void;
  dialFailed(slot: SessionSlot): void;
  ended(slot: SessionSlot, end: SessionEnd): void;
}

/** A started session and the tunnel's view of it, subscribed to the session's events. */
export class SessionSlot {
  readonly session: PortForwardSession;
  /** Target and remote endpoint the session forwards to. */
  readonly route: SessionRoute;
  /** Time the session became ready, in epoch milliseconds. */
  readonly startedAt: number;
  /**
   * Connections handed to this session and still open. The tunnel counts them itself,
   * because the session's own stats change only once its stream opens.
   */
  load = 0;
  reconnecting = false;
  /**
   * The latest failed attempt of the current resume, set by the pool. It is cleared when the
   * websocket is lost again, and after the `reconnected` handlers ran.
   */
  reconnectFailure: ReconnectFailure | null = null;
  /** The latest error a resume of this session made the tunnel's last error, or null. */
  resumeError: BastionlessError | null = null;
  /** True from the start of a resume attempt until it fails or the session resumes or ends. */
  resumeAttemptRunning = false;
  /** Local sockets handed to this session and not closed yet, each with its hand-over number. */
  private readonly sockets = new Map<Socket, number>();
  private readonly unsubscribe: () => void;

  constructor(
    session: PortForwardSession,
    route: SessionRoute,
    startedAt: number,
    events: SessionSlotEvents,
  ) {
    this.session = session;
    this.route = route;
    this.startedAt = startedAt;
    const onReconnecting = (error: Error): void => {
      this.reconnecting = true;
      this.reconnectFailure = null;
      this.resumeAttemptRunning = false;
      events.reconnecting(this, error);
    };
    const onReconnectAttempt = (attempt: number): void => {
      this.resumeAttemptRunning = true;
      events.reconnectAttempt?.(this, attempt);
    };
    const onReconnectFailed = (failure: ReconnectAttemptFailure): void => {
      this.resumeAttemptRunning = false;
      events.reconnectFailed?.(this, failure);
    };
    const onReconnected = (): void => {
      this.reconnecting = false;
      this.resumeAttemptRunning = false;
      events.reconnected(this);
      this.reconnectFailure = null;
    };
    const onDialFailed = (): void => events.dialFailed(this);
    const onEnded = (end: SessionEnd): void => {
      this.resumeAttemptRunning = false;
      this.detach();
      events.ended(this, end);
    };
    session.on('reconnecting', onReconnecting);
    session.on('reconnect-attempt', onReconnectAttempt);
    session.on('reconnect-failed', onReconnectFailed);
    session.on('reconnected', onReconnected);
    session.on('dial-failed', onDialFailed);
    session.once('ended', onEnded);
    this.unsubscribe = () => {
      session.off('reconnecting', onReconnecting);
      session.off('reconnect-attempt', onReconnectAttempt);
      session.off('reconnect-failed', onReconnectFailed);
      session.off('reconnected', onReconnected);
      session.off('dial-failed', onDialFailed);
      session.off('ended', onEnded);
    };
  }

  get sessionId(): string {
    return this.session.sessionId;
  }

  /** True while the session resumes and its latest attempt failed with a lasting error. */
  get resumeStalled(): boolean {
    return this.reconnecting && this.reconnectFailure?.lasting === true;
  }

  /**
   * Counts `socket` as a connection of this session until it closes. `handOverNumber` numbers
   * the hand-overs of the tunnel's connection queue, from 1.
   */
  trackConnection(socket: Socket, handOverNumber: number): void {
    this.sockets.set(socket, handOverNumber);
    socket.once('close', () => this.sockets.delete(socket));
  }

  /**
   * Returns true when an open connection handed over after hand-over `handOverNumber` has
   * received bytes, which proves that the agent reached the remote host for it.
   */
  hasConnectionWithBytesAfter(handOverNumber: number): boolean {
    for (const [socket, number] of this.sockets) {
      if (number > handOverNumber && socket.bytesWritten > 0) {
        return true;
      }
    }
    return false;
  }

  /**
   * Resets every open connection of this session (TCP RST), so their clients see an error
   * instead of waiting for a resume that will not come. Returns the number reset.
   */
  resetConnections(): number {
    const sockets = [...this.sockets.keys()];
    this.sockets.clear();
    for (const socket of sockets) {
      // A socket whose remote already finished is half-closed: the reset fails with EINVAL
      // there and leaves the descriptor open, and its download is complete anyway.
      if (socket.writableEnded) {
        socket.destroy();
      } else {
        socket.resetAndDestroy();
      }
    }
    return sockets.length;
  }

  /** Stops forwarding the session's events, for example before the tunnel closes it. */
  detach(): void {
    this.unsubscribe();
  }
}

/** Returns the slot with the fewest open connections, preferring ones not reconnecting. */
export function leastLoaded(slots: readonly SessionSlot[]): SessionSlot | undefined {
  let best: SessionSlot | undefined;
  for (const slot of slots) {
    const better =
      !best ||
      (best.reconnecting && !slot.reconnecting) ||
      (best.reconnecting === slot.reconnecting && slot.load < best.load);
    if (better) {
      best = slot;
    }
  }
  return best;
}

/**
 * Optional health check a session may offer: resolves with the round-trip time once the
 * agent replies, and rejects when the data channel is dead.
 */
export interface PingableSession extends PortForwardSession {
  ping(timeoutMs: number): Promise<number>;
}

export function isPingable(session: PortForwardSession): session is PingableSession {
  return typeof (session as Partial<PingableSession>).ping === 'function';
}
