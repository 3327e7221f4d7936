// A port-forwarding session stand-in for tunnel tests: it carries each local connection
// to a real TCP server on 127.0.0.1 directly, and records the calls the tunnel makes.

import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import type {
  PortForwardSession,
  PortForwardSessionOptions,
  SessionEnd,
  SessionStats,
} from '../../daemon/portforward/types.js';

export class FakeSession extends EventEmitter implements PortForwardSession {
  readonly sessionId: string;
  readonly agentVersion = '3.3.0.0';
  readonly mode = 'mux' as const;
  readonly stats: SessionStats = {
    bytesIn: 0,
    bytesOut: 0,
    activeConnections: 0,
    totalConnections: 0,
    dialFailures: 0,
    reconnects: 0,
    rttMs: null,
  };
  closed = false;
  closeReason: string | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(
    sessionId: string,
    private readonly remotePort: number,
  ) {
    super();
    this.sessionId = sessionId;
  }

  handleConnection(socket: Socket): void {
    this.stats.activeConnections += 1;
    this.stats.totalConnections += 1;
    this.sockets.add(socket);
    const remote = connect({ host: '127.0.0.1', port: this.remotePort });
    this.sockets.add(remote);
    remote.on('error', () => {
      this.stats.dialFailures += 1;
      this.emit('dial-failed');
      socket.destroy();
    });
    socket.on('error', () => remote.destroy());
    socket.on('data', (chunk: Buffer) => {
      this.stats.bytesOut += chunk.length;
    });
    remote.on('data', (chunk: Buffer) => {
      this.stats.bytesIn += chunk.length;
    });
    socket.pipe(remote);
    remote.pipe(socket);
    socket.once('close', () => {
      this.stats.activeConnections -= 1;
      this.sockets.delete(socket);
      remote.destroy();
    });
    remote.once('close', () => this.sockets.delete(remote));
  }

  /** Ends the session as the service would after an idle timeout. */
  endByService(reason: string): void {
    this.destroySockets();
    this.emit('ended', { by: 'service', reason } satisfies SessionEnd);
  }

  async close(reason?: string): Promise<void> {
    this.closed = true;
    this.closeReason = reason;
    this.destroySockets();
    this.emit('ended', { by: 'client', reason: reason ?? 'closed' } satisfies SessionEnd);
  }

  private destroySockets(): void {
    for (const socket of this.sockets) {
      socket.destroy();
    }
    this.sockets.clear();
  }
}

/** A session starter that creates FakeSessions and records every call. */
export class FakeStarter {
  readonly calls: PortForwardSessionOptions[] = [];
  readonly sessions: FakeSession[] = [];
  /** Errors thrown by the next calls, one per call, before sessions start succeeding. */
  failures: unknown[] = [];
  private counter = 0;

  constructor(private readonly remotePort: () => number) {}

  start = async (options: PortForwardSessionOptions): Promise<PortForwardSession> => {
    this.calls.push(options);
    const failure = this.failures.shift();
    if (failure !== undefined) {
      throw failure;
    }
    this.counter += 1;
    const session = new FakeSession(`fake-session-${this.counter}`, this.remotePort());
    this.sessions.push(session);
    return session;
  };
}
