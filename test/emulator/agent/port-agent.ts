// The SSM agent's side of one port-forwarding session: handshake, mode choice, then an
// smux server dialing one TCP connection per stream (mux) or a single forwarded TCP
// connection with lazy re-dial (basic).

import type { Socket } from 'node:net';
import { PayloadFlag, PayloadType, type ClientMessage } from '../../../daemon/protocol/message.js';
import { dialTcp, resolveDialAddress } from './dial.js';
import { OutboundPipe } from './outbound-pipe.js';
import { AgentReliability, type FrameKind } from './reliability.js';
import { SmuxServerSession, type SmuxServerStream } from './smux-server.js';
import { decideMode, type ModeDecision } from './versions.js';

/** The agent fails the session when no HandshakeResponse arrives within 15 s. */
export const HANDSHAKE_TIMEOUT_MS = 15_000;
const HANDSHAKE_TIMEOUT_MESSAGE =
  'Handshake timed out. Please ensure that you have the latest version of the session manager plugin.';

export interface PortAgentOptions {
  sessionId: string;
  agentVersion: string;
  /** Destination as requested; empty for AWS-StartPortForwardingSession. */
  host: string;
  port: number;
  /** Session document properties sent in the HandshakeRequest (all string values). */
  properties: Record<string, string>;
  dialOverrides?: Record<string, string>;
  pacing: boolean;
  handshakeTimeoutMs?: number;
  smuxKeepAliveIntervalMs?: number;
  smuxKeepAliveTimeoutMs?: number;
  transmit: (frame: Buffer, kind: FrameKind) => void;
  /** False while the websocket toward the client is congested or absent. */
  canSend: () => boolean;
  events: PortAgentEvents;
}

export interface PortAgentEvents {
  onHandshakeComplete: (clientVersion: string, decision: ModeDecision) => void;
  /** PayloadType 1 bytes: `in` from the client, `out` toward the client. */
  onStreamData: (direction: 'in' | 'out', bytes: number) => void;
  onStreamOpened: () => void;
  onDialFailure: (error: Error) => void;
  /** The agent ended the session: client flag, failure, or smux session death. */
  onEnd: (by: 'client-flag' | 'error', reason: string) => void;
  onError: (error: Error) => void;
}

interface HandshakeResponse {
  ClientVersion?: string;
  ProcessedClientActions?: { ActionType?: string; ActionStatus?: number; Error?: string }[];
}

export class PortAgent {
  readonly reliability: AgentReliability;
  private readonly pipe: OutboundPipe;
  private handshakeSentAt = 0;
  private handshakeDone = false;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private smux: SmuxServerSession | undefined;
  private basicReady = false;
  private basicSocket: Socket | null = null;
  private readonly sockets = new Set<Socket>();
  private stopped = false;

  constructor(private readonly options: PortAgentOptions) {
    this.reliability = new AgentReliability({
      transmit: options.transmit,
      process: (message) => this.process(message),
      onError: options.events.onError,
    });
    this.pipe = new OutboundPipe({
      pacing: options.pacing,
      canSend: () => !this.reliability.isPaused && options.canSend(),
      send: (chunk) => {
        this.reliability.sendStreamData(PayloadType.Output, chunk);
        options.events.onStreamData('out', chunk.length);
      },
    });
    this.pipe.setMaxListeners(0);
  }

  get handshakeComplete(): boolean {
    return this.handshakeDone;
  }

  /** Sends the HandshakeRequest (seq 0) and starts the handshake timeout. */
  startHandshake(): void {
    const request = {
      AgentVersion: this.options.agentVersion,
      RequestedClientActions: [
        {
          ActionType: 'SessionType',
          ActionParameters: { SessionType: 'Port', Properties: this.sortedProperties() },
        },
      ],
    };
    this.handshakeSentAt = performance.now();
    this.reliability.sendStreamData(
      PayloadType.HandshakeRequest,
      Buffer.from(JSON.stringify(request)),
    );
    this.handshakeTimer = setTimeout(() => {
      this.options.events.onEnd('error', HANDSHAKE_TIMEOUT_MESSAGE);
    }, this.options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS);
    this.handshakeTimer.unref();
  }

  /** Resumes the outbound pump after a pause or a websocket change. */
  kick(): void {
    this.pipe.kick();
  }

  stop(): void {
    if (this.stopped) {
      return;
    }
    this.stopped = true;
    clearTimeout(this.handshakeTimer);
    this.reliability.close();
    this.pipe.close();
    this.smux?.close();
    for (const socket of this.sockets) {
      socket.destroy();
    }
    this.sockets.clear();
  }

  private sortedProperties(): Record<string, string> {
    // The agent marshals a Go map, so the keys come out sorted.
    const sorted: Record<string, string> = {};
    for (const key of Object.keys(this.options.properties).sort()) {
      sorted[key] = this.options.properties[key]!;
    }
    return sorted;
  }

  private process(message: ClientMessage): boolean | Promise<boolean> {
    if (this.stopped) {
      return false;
    }
    if (message.payloadType === PayloadType.HandshakeResponse) {
      if (!this.handshakeDone) {
        this.handleHandshakeResponse(message.payload);
      }
      return true;
    }
    // Client data that arrives before the handshake completes is acked and thrown away.
    if (!this.handshakeDone) {
      return true;
    }
    if (message.payloadType === PayloadType.Flag) {
      this.handleFlag(message.payload);
      return true;
    }
    if (message.payloadType !== PayloadType.Output) {
      return true;
    }
    if (this.smux) {
      this.options.events.onStreamData('in', message.payload.length);
      this.smux.push(message.payload);
      return true;
    }
    return this.writeBasic(message.payload);
  }

  private handleHandshakeResponse(payload: Buffer): void {
    const response = this.parseHandshakeResponse(payload);
    if (response === undefined) {
      return;
    }
    clearTimeout(this.handshakeTimer);
    const failed = (response.ProcessedClientActions ?? []).find((a) => a.ActionStatus !== 1);
    if (failed) {
      const detail = failed.Error ? `: ${failed.Error}` : '';
      this.options.events.onEnd(
        'error',
        `client failed action ${failed.ActionType} with status ${failed.ActionStatus}${detail}`,
      );
      return;
    }

    this.handshakeDone = true;
    const elapsedNs = Math.round((performance.now() - this.handshakeSentAt) * 1e6);
    this.reliability.sendStreamData(
      PayloadType.HandshakeComplete,
      Buffer.from(JSON.stringify({ HandshakeTimeToComplete: elapsedNs, CustomerMessage: '' })),
    );

    const clientVersion = response.ClientVersion ?? '';
    const decision = decideMode(clientVersion, this.options.agentVersion);
    this.options.events.onHandshakeComplete(clientVersion, decision);
    if (decision.mode === 'mux') {
      this.startMux(decision.smuxKeepAlive);
    } else {
      void this.startBasic();
    }
  }

  private parseHandshakeResponse(payload: Buffer): HandshakeResponse | undefined {
    try {
      return JSON.parse(payload.toString('utf8')) as HandshakeResponse;
    } catch (error) {
      this.options.events.onEnd('error', `invalid HandshakeResponse: ${(error as Error).message}`);
      return undefined;
    }
  }

  private handleFlag(payload: Buffer): void {
    if (payload.length < 4) {
      return;
    }
    const flag = payload.readUInt32BE(0);
    if (flag === PayloadFlag.TerminateSession) {
      this.options.events.onEnd('client-flag', 'client sent the TerminateSession flag');
    } else if (flag === PayloadFlag.DisconnectToPort && !this.smux) {
      this.basicSocket?.destroy();
      this.basicSocket = null;
    }
  }

  private startMux(keepAlive: boolean): void {
    this.smux = new SmuxServerSession({
      keepAlive,
      keepAliveIntervalMs: this.options.smuxKeepAliveIntervalMs,
      keepAliveTimeoutMs: this.options.smuxKeepAliveTimeoutMs,
      write: (bytes) => this.pipe.write(bytes),
      accept: (stream) => this.acceptStream(stream),
      onClose: (error) => {
        if (!this.stopped) {
          this.options.events.onEnd('error', `smux session closed: ${error?.message ?? 'closed'}`);
        }
      },
    });
  }

  /** Dials inside the accept loop, so a slow dial delays every later stream as in the agent. */
  private async acceptStream(stream: SmuxServerStream): Promise<void> {
    this.options.events.onStreamOpened();
    let socket: Socket;
    try {
      const address = resolveDialAddress(
        this.options.host,
        this.options.port,
        this.options.dialOverrides,
      );
      socket = await dialTcp(address);
    } catch (error) {
      this.options.events.onDialFailure(error as Error);
      const flag = Buffer.alloc(4);
      flag.writeUInt32BE(PayloadFlag.ConnectToPortError);
      this.reliability.sendStreamData(PayloadType.Flag, flag);
      stream.close();
      return;
    }
    if (this.stopped || stream.isClosed) {
      socket.destroy();
      return;
    }
    this.track(socket);
    stream.attach({
      onData: (data) => socket.write(data),
      // smux close is a full close: the destination loses anything it still sends.
      onEnd: () => {
        stream.close();
        socket.end(() => socket.destroy());
      },
    });
    socket.on('data', (data: Buffer) => {
      if (stream.isClosed) {
        return;
      }
      if (!stream.write(data)) {
        socket.pause();
        this.pipe.once('drain', () => socket.resume());
      }
    });
    socket.on('close', () => stream.close());
    socket.on('error', () => stream.close());
  }

  private async startBasic(): Promise<void> {
    try {
      this.basicSocket = await this.dialBasic();
      this.basicReady = true;
    } catch (error) {
      if (this.stopped) {
        return;
      }
      this.options.events.onDialFailure(error as Error);
      this.options.events.onEnd(
        'error',
        `Unable to connect to specified port: ${(error as Error).message}`,
      );
    }
  }

  private async dialBasic(): Promise<Socket> {
    const address = resolveDialAddress(
      this.options.host,
      this.options.port,
      this.options.dialOverrides,
    );
    const socket = await dialTcp(address);
    if (this.stopped) {
      socket.destroy();
      throw new Error('session ended while dialing');
    }
    this.track(socket);
    socket.on('data', (data: Buffer) => {
      if (!this.pipe.write(data)) {
        socket.pause();
        this.pipe.once('drain', () => socket.resume());
      }
    });
    // The client gets no signal when the destination closes, so the next client data re-dials.
    socket.on('close', () => {
      if (this.basicSocket === socket) {
        this.basicSocket = null;
      }
    });
    socket.on('error', () => socket.destroy());
    return socket;
  }

  private writeBasic(payload: Buffer): boolean | Promise<boolean> {
    if (!this.basicReady) {
      return false;
    }
    if (this.basicSocket) {
      this.options.events.onStreamData('in', payload.length);
      this.basicSocket.write(payload);
      return true;
    }
    return this.dialBasic().then(
      (socket) => {
        this.basicSocket = socket;
        this.options.events.onStreamData('in', payload.length);
        socket.write(payload);
        return true;
      },
      (error: Error) => {
        this.options.events.onDialFailure(error);
        return false;
      },
    );
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }
}
