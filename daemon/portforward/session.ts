// A started port-forwarding session: the data channel, the forwarder of the chosen mode,
// the statistics and the two-step termination (flag, then API).

import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';

import { BasicForwarder } from './basic.js';
import type { ForwardingChannel, ForwardingCounters } from './channel.js';
import { terminateFlagSupported } from './mode.js';
import { MuxForwarder } from './mux.js';
import type { ForwardingMode, PortForwardSession, SessionEnd, SessionStats } from './types.js';

/** The DataChannel members the session uses. */
export interface SessionChannel extends ForwardingChannel {
  readonly stats: { reconnects: number; rttMs: number | null };
  close(options?: { terminate?: boolean }): Promise<void>;
  ping(timeoutMs: number): Promise<number>;
}

export interface SsmPortForwardSessionOptions {
  sessionId: string;
  agentVersion: string;
  mode: ForwardingMode;
  /** smux keepalive, for mux mode only. */
  keepAlive: boolean;
  channel: SessionChannel;
  /** Calls the TerminateSession API. */
  terminate: () => Promise<void>;
}

export class SsmPortForwardSession extends EventEmitter implements PortForwardSession {
  readonly sessionId: string;
  readonly agentVersion: string;
  readonly mode: ForwardingMode;
  /** True when this client sends smux NOPs, which mux agents up to 3.1.1511.0 expect. */
  readonly smuxKeepAlive: boolean;
  private readonly channel: SessionChannel;
  private readonly forwarder: MuxForwarder | BasicForwarder;
  private readonly counters: ForwardingCounters = {
    bytesIn: 0,
    bytesOut: 0,
    activeConnections: 0,
    totalConnections: 0,
    dialFailures: 0,
  };
  private ending: Promise<void> | null = null;

  constructor(private readonly options: SsmPortForwardSessionOptions) {
    super();
    this.sessionId = options.sessionId;
    this.agentVersion = options.agentVersion;
    this.mode = options.mode;
    this.smuxKeepAlive = options.mode === 'mux' && options.keepAlive;
    this.channel = options.channel;
    if (options.mode === 'mux') {
      const mux = new MuxForwarder(this.channel, this.counters, { keepAlive: options.keepAlive });
      mux.on('dial-failed', () => this.emit('dial-failed'));
      mux.on('failed', (error: Error) => {
        void this.end({ by: 'error', reason: error.message, error }, true);
      });
      this.forwarder = mux;
    } else {
      this.forwarder = new BasicForwarder(this.channel, this.counters);
    }
    this.channel.on('reconnecting', (error: Error) => this.emit('reconnecting', error));
    this.channel.on('reconnect-attempt', (attempt: number) =>
      this.emit('reconnect-attempt', attempt),
    );
    this.channel.on('reconnect-failed', (failure: unknown) =>
      this.emit('reconnect-failed', failure),
    );
    this.channel.on('reconnected', () => this.emit('reconnected'));
    this.channel.once('closed', (end: SessionEnd) => {
      // A channel that died on an error may leave the session open on the service side.
      void this.end(end, end.by === 'error');
    });
  }

  get stats(): SessionStats {
    const channelStats = this.channel.stats;
    return {
      ...this.counters,
      reconnects: channelStats.reconnects,
      rttMs: channelStats.rttMs,
    };
  }

  /** True once the session ended or began to end; new connections are then refused. */
  get ended(): boolean {
    return this.ending !== null;
  }

  handleConnection(socket: Socket): void {
    if (this.ending !== null) {
      socket.resetAndDestroy();
      return;
    }
    this.forwarder.handleConnection(socket);
  }

  /** Pings the data channel's websocket; see `PortForwardSession.ping`. */
  ping(timeoutMs: number): Promise<number> {
    return this.channel.ping(timeoutMs);
  }

  close(reason = 'closed by the client'): Promise<void> {
    return this.end({ by: 'client', reason }, true);
  }

  /**
   * Ends the session once: closes the local connections, sends the TerminateSession flag
   * when the agent honours it, calls the TerminateSession API when `terminateApi` is set,
   * then emits `ended`.
   */
  private end(end: SessionEnd, terminateApi: boolean): Promise<void> {
    if (this.ending === null) {
      this.ending = this.finish(end, terminateApi);
    }
    return this.ending;
  }

  private async finish(end: SessionEnd, terminateApi: boolean): Promise<void> {
    this.forwarder.close();
    const terminate = terminateFlagSupported(this.agentVersion, this.mode);
    await this.channel.close({ terminate });
    if (terminateApi) {
      try {
        await this.options.terminate();
      } catch (error) {
        // The service ends an abandoned session on its idle timeout anyway, so a failed
        // call does not fail close(). Callers see it in the `terminate-failed` event.
        this.emit('terminate-failed', error);
      }
    }
    this.emit('ended', end);
  }
}
