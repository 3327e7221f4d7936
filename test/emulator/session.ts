// One emulated session: the Message Gateway Service relay between the client's websocket
// and the emulated agent, with the service-side timers (idle, maximum duration,
// keepalive pings) and the per-session fault injection.

import { randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { MessageFlags, MessageType, encodeMessage } from '../../daemon/protocol/message.js';
import { AwsApiError } from './errors.js';
import { createRandom, type Faults } from './faults.js';
import { isForbiddenHost } from './agent/dial.js';
import { peekMessageType } from './agent/agent-frames.js';
import { PortAgent } from './agent/port-agent.js';
import type { FrameKind } from './agent/reliability.js';
import type { SessionRecord } from './state.js';
import { TickCork } from './tick-cork.js';
import { recordSecret } from '../helpers/suite-secrets.js';

/** The agent pings the service every 54 s; the emulator pings the client at the same rate. */
export const WEBSOCKET_PING_INTERVAL_MS = 54_000;
/** Above this many bytes queued on the websocket the agent stops reading its destinations. */
const WEBSOCKET_HIGH_WATER_MARK = 4 * 1024 * 1024;
/** Frames held back by the reorder fault are released after this long without traffic. */
const REORDER_FLUSH_MS = 50;
const CLOSE_CODE_BYE = 1000;

export interface SessionTimingOptions {
  idleTimeoutMs?: number;
  maxSessionDurationMs?: number;
  handshakeTimeoutMs?: number;
  smuxKeepAliveIntervalMs?: number;
  smuxKeepAliveTimeoutMs?: number;
  pingIntervalMs?: number;
}

export interface EmulatedSessionOptions extends SessionTimingOptions {
  record: SessionRecord;
  properties: Record<string, string>;
  dialOverrides?: Record<string, string>;
  pacing: boolean;
  faults: Faults;
  logger?: Logger;
}

/** Identity the client sends in its OpenDataChannelInput text frame. */
export interface OpenDataChannelInput {
  TokenValue?: string;
  ClientId?: string;
  ClientVersion?: string;
  RequestId?: string;
}

type Direction = 'to-client' | 'to-agent';

interface HeldFrame {
  frame: Buffer;
  remaining: number;
  deliver: (frame: Buffer) => void;
}

export class EmulatedSession {
  readonly record: SessionRecord;
  private currentToken = newToken();
  private websocket: WebSocket | null = null;
  /** Batches the writes of one event-loop turn on the TCP socket under `websocket`. */
  private transportCork: TickCork | null = null;
  private agent: PortAgent | null = null;
  private faults: Faults = {};
  private random = createRandom(1);
  private readonly pauseReasons = new Set<'fault' | 'disconnected'>();
  private readonly heldFrames: Record<Direction, HeldFrame[]> = { 'to-client': [], 'to-agent': [] };
  private bytesSinceOpen = 0;
  private lastActivityAt: number;
  private rejectResumeRemaining = 0;
  private rejectResumeUntil = 0;
  private readonly sessionTimers = new Set<NodeJS.Timeout>();
  private readonly socketTimers = new Set<NodeJS.Timeout>();
  private ended = false;

  constructor(private readonly options: EmulatedSessionOptions) {
    this.record = options.record;
    this.lastActivityAt = Date.now();
    this.setFaults(options.faults);
    this.armIdleTimer();
    if (options.maxSessionDurationMs !== undefined) {
      this.addTimer(this.sessionTimers, options.maxSessionDurationMs, () =>
        this.terminate('max-duration', 'Session reached its maximum session duration.'),
      );
    }
  }

  get token(): string {
    return this.currentToken;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  get activeFaults(): Faults {
    return this.faults;
  }

  /** The agent's reliability state, for tests that assert on sequence numbers. */
  get agentReliability() {
    return this.agent?.reliability;
  }

  /** Replaces the token: the previous one no longer opens the data channel. */
  issueToken(): string {
    this.currentToken = newToken();
    return this.currentToken;
  }

  /** Throws the ResumeSession error configured by the `rejectResume` fault, if any. */
  checkResumeFaults(): void {
    const reject = this.faults.rejectResume;
    if (reject === undefined) {
      return;
    }
    const byCount = this.rejectResumeRemaining > 0;
    const byTime = Date.now() < this.rejectResumeUntil;
    if (!byCount && !byTime) {
      return;
    }
    if (byCount) {
      this.rejectResumeRemaining--;
    }
    throw new AwsApiError(
      reject.errorType,
      reject.message ?? `ResumeSession rejected for session ${this.record.sessionId}`,
    );
  }

  /** Replaces this session's faults; `{}` clears them. Timed faults start counting now. */
  setFaults(faults: Faults): void {
    this.faults = { ...faults };
    this.random = createRandom(faults.seed ?? 1);
    this.rejectResumeRemaining = faults.rejectResume?.count ?? 0;
    this.rejectResumeUntil =
      faults.rejectResume?.forMs !== undefined ? Date.now() + faults.rejectResume.forMs : 0;
    if (
      faults.rejectResume &&
      faults.rejectResume.count === undefined &&
      !faults.rejectResume.forMs
    ) {
      this.rejectResumeRemaining = Number.POSITIVE_INFINITY;
    }
    if (faults.pausePublication) {
      const { afterMs = 0, durationMs } = faults.pausePublication;
      this.addTimer(this.sessionTimers, afterMs, () => this.pausePublication(durationMs));
    }
    if (faults.terminateAfterMs !== undefined) {
      this.addTimer(this.sessionTimers, faults.terminateAfterMs, () =>
        this.terminate('admin', 'Session terminated by an administrator.'),
      );
    }
    if (this.websocket) {
      if (faults.silent) {
        this.websocket.pause();
      } else {
        this.websocket.resume();
      }
      this.armSocketTimers(this.websocket);
    }
  }

  /**
   * Takes over a websocket whose OpenDataChannelInput carried the current token.
   * `transport` is the socket under it. Without one, every frame is written on its own.
   */
  attach(websocket: WebSocket, input: OpenDataChannelInput, transport?: Duplex): void {
    const previous = this.websocket;
    this.websocket = websocket;
    this.transportCork = transport ? new TickCork(transport) : null;
    previous?.close(4000, 'replaced by a newer data channel connection');
    this.record.websocketOpens++;
    this.record.state = 'connected';
    this.record.clientId = input.ClientId ?? this.record.clientId;
    this.record.clientVersion = input.ClientVersion ?? this.record.clientVersion;
    this.bytesSinceOpen = 0;
    websocket.on('message', (data, isBinary) => this.fromClient(toBuffer(data), isBinary));
    websocket.on('ping', (data) => {
      if (!this.faults.silent) {
        websocket.pong(data);
      }
    });
    websocket.on('close', () => this.detach(websocket));
    websocket.on('error', (error) => this.options.logger?.warn({ err: error }, 'websocket error'));
    if (this.faults.silent) {
      websocket.pause();
    }
    this.armSocketTimers(websocket);
    this.options.logger?.info(
      { sessionId: this.record.sessionId, websocketOpens: this.record.websocketOpens },
      'data channel opened',
    );
    if (this.agent === null) {
      this.startAgent();
    } else {
      this.setPauseReason('disconnected', false);
    }
  }

  /** Ends the session: channel_closed to the client, websocket closed, agent stopped. */
  terminate(by: string, output = ''): void {
    if (this.ended) {
      return;
    }
    this.ended = true;
    this.record.state = by === 'error' ? 'failed' : 'terminated';
    this.record.terminatedBy = by;
    this.record.endReason = output;
    this.record.endedAt = Date.now();
    this.options.logger?.info({ sessionId: this.record.sessionId, by, output }, 'session ended');
    const websocket = this.websocket;
    if (websocket && !this.faults.silent) {
      websocket.send(this.channelClosedFrame(output));
      websocket.close(CLOSE_CODE_BYE, 'Bye');
    }
    this.dispose();
  }

  /** Closes the websocket with 1000 `Bye`, as the service does about hourly. */
  closeWebsocket(code = CLOSE_CODE_BYE, reason = 'Bye'): boolean {
    if (!this.websocket) {
      return false;
    }
    this.websocket.close(code, reason);
    return true;
  }

  /** Releases timers and sockets without telling the client (emulator shutdown). */
  dispose(): void {
    this.ended = true;
    for (const timer of [...this.sessionTimers, ...this.socketTimers]) {
      clearTimeout(timer);
    }
    this.sessionTimers.clear();
    this.socketTimers.clear();
    this.agent?.stop();
    // terminate() destroys the socket, so frames corked in this tick (channel_closed) go first.
    this.transportCork?.flush();
    this.websocket?.terminate();
    this.websocket = null;
    this.transportCork = null;
  }

  private startAgent(): void {
    const record = this.record;
    // The agent checks the destination when the session starts, before any handshake.
    if (isForbiddenHost(record.host)) {
      this.terminate('error', `Forwarding to IP address ${record.host} is forbidden.`);
      return;
    }
    this.agent = new PortAgent({
      sessionId: record.sessionId,
      agentVersion: record.agentVersion,
      host: record.host,
      port: record.port,
      properties: this.options.properties,
      dialOverrides: this.options.dialOverrides,
      pacing: this.options.pacing,
      handshakeTimeoutMs: this.options.handshakeTimeoutMs,
      smuxKeepAliveIntervalMs: this.options.smuxKeepAliveIntervalMs,
      smuxKeepAliveTimeoutMs: this.options.smuxKeepAliveTimeoutMs,
      transmit: (frame, kind) => this.toClient(frame, kind),
      // A closing websocket drops every frame, and the agent resends only its oldest
      // unacked message per 100 ms tick, so data generated then would stall every stream.
      canSend: () =>
        this.websocket !== null &&
        this.websocket.readyState === this.websocket.OPEN &&
        this.websocket.bufferedAmount < WEBSOCKET_HIGH_WATER_MARK,
      events: {
        onHandshakeComplete: (clientVersion, decision) => {
          record.handshakeClientVersion = clientVersion;
          record.mode = decision.mode;
          record.smuxKeepAlive = decision.mode === 'mux' ? decision.smuxKeepAlive : undefined;
        },
        onStreamData: (direction, bytes) => {
          this.lastActivityAt = Date.now();
          if (direction === 'in') {
            record.bytesFromClient += bytes;
          } else {
            record.bytesToClient += bytes;
          }
        },
        onStreamOpened: () => record.streamsOpened++,
        onDialFailure: (error) => {
          record.dialFailures++;
          this.options.logger?.info({ sessionId: record.sessionId, err: error }, 'dial failed');
        },
        onEnd: (by, reason) => this.terminate(by, by === 'error' ? reason : ''),
        onError: (error) =>
          this.options.logger?.warn({ sessionId: record.sessionId, err: error }, 'agent error'),
      },
    });
    const delayMs = this.faults.handshakeDelayMs ?? 0;
    if (delayMs > 0) {
      this.addTimer(this.sessionTimers, delayMs, () => this.agent?.startHandshake());
    } else {
      this.agent.startHandshake();
    }
  }

  private detach(websocket: WebSocket): void {
    if (this.websocket !== websocket) {
      return;
    }
    this.websocket = null;
    this.transportCork = null;
    for (const timer of this.socketTimers) {
      clearTimeout(timer);
    }
    this.socketTimers.clear();
    if (!this.ended) {
      this.options.logger?.info({ sessionId: this.record.sessionId }, 'data channel closed');
      this.record.state = 'disconnected';
      // The service pauses the agent while the client is away, so it stops reading.
      this.setPauseReason('disconnected', true);
    }
  }

  private setPauseReason(reason: 'fault' | 'disconnected', paused: boolean): void {
    if (paused) {
      this.pauseReasons.add(reason);
    } else {
      this.pauseReasons.delete(reason);
    }
    this.agent?.reliability.setPaused(this.pauseReasons.size > 0);
    if (this.pauseReasons.size === 0) {
      this.agent?.kick();
    }
  }

  /**
   * Pauses the agent for `durationMs` whatever the client sends. NOTE: a real agent also
   * unpauses on any input_stream_data or acknowledge, which this fault deliberately ignores.
   */
  private pausePublication(durationMs: number): void {
    this.sendControl(MessageType.PausePublication);
    this.setPauseReason('fault', true);
    this.addTimer(this.sessionTimers, durationMs, () => {
      this.sendControl(MessageType.StartPublication);
      this.setPauseReason('fault', false);
    });
  }

  private sendControl(messageType: string): void {
    if (this.websocket && !this.faults.silent) {
      this.websocket.send(
        encodeMessage({ messageType, flags: MessageFlags.None, payload: Buffer.from('{}') }),
      );
    }
  }

  private channelClosedFrame(output: string): Buffer {
    const payload = {
      MessageId: randomUUID(),
      CreatedDate: String(Date.now()),
      DestinationId: this.record.target,
      SessionId: this.record.sessionId,
      MessageType: MessageType.ChannelClosed,
      SchemaVersion: 1,
      Output: output,
    };
    return encodeMessage({
      messageType: MessageType.ChannelClosed,
      payload: Buffer.from(JSON.stringify(payload)),
    });
  }

  private fromClient(frame: Buffer, _isBinary: boolean): void {
    if (this.faults.silent || this.ended || this.agent === null) {
      return;
    }
    const agent = this.agent;
    const messageType = peekMessageType(frame);
    if (messageType === MessageType.Acknowledge) {
      if (this.random() < (this.faults.dropAcksToAgentProbability ?? 0)) {
        return;
      }
      agent.reliability.receive(frame);
      return;
    }
    if (messageType === MessageType.InputStreamData) {
      this.countBytes(frame);
      this.applyFrameFaults('to-agent', frame, (f) => agent.reliability.receive(f));
      return;
    }
    agent.reliability.receive(frame);
  }

  private toClient(frame: Buffer, kind: FrameKind): void {
    const websocket = this.websocket;
    if (websocket === null || this.faults.silent) {
      return;
    }
    this.transportCork?.hold();
    if (kind === 'ack') {
      if (this.random() >= (this.faults.dropAcksToClientProbability ?? 0)) {
        websocket.send(frame);
      }
      return;
    }
    this.countBytes(frame);
    this.applyFrameFaults('to-client', frame, (f) => {
      if (this.websocket === websocket) {
        websocket.send(f);
      }
    });
  }

  private countBytes(frame: Buffer): void {
    const limit = this.faults.closeEveryBytes;
    this.bytesSinceOpen += Math.max(0, frame.length - 120);
    if (limit !== undefined && this.bytesSinceOpen >= limit) {
      this.bytesSinceOpen = 0;
      // Closing after the current frame went out keeps it in the stream before the cut.
      setImmediate(() => this.closeWebsocket());
    }
  }

  private applyFrameFaults(
    direction: Direction,
    frame: Buffer,
    deliver: (frame: Buffer) => void,
  ): void {
    const faults = this.faults;
    const scope = faults.frameDirection ?? 'both';
    if (scope !== 'both' && scope !== direction) {
      deliver(frame);
      this.releaseHeld(direction);
      return;
    }
    const dropScope = faults.dropDirection ?? 'both';
    const dropRoll = this.random();
    if (
      (dropScope === 'both' || dropScope === direction) &&
      dropRoll < (faults.dropProbability ?? 0)
    ) {
      return;
    }
    if (this.random() < (faults.delayProbability ?? 0)) {
      this.addTimer(this.sessionTimers, faults.delayMs ?? 100, () => deliver(frame));
      return;
    }
    if (this.random() < (faults.reorderProbability ?? 0)) {
      const window = faults.reorderWindow ?? 3;
      const remaining = 1 + Math.floor(this.random() * window);
      this.heldFrames[direction].push({ frame, remaining, deliver });
      this.addTimer(this.sessionTimers, REORDER_FLUSH_MS, () => this.releaseHeld(direction, true));
      return;
    }
    deliver(frame);
    if (this.random() < (faults.duplicateProbability ?? 0)) {
      deliver(frame);
    }
    this.releaseHeld(direction);
  }

  private releaseHeld(direction: Direction, all = false): void {
    const held = this.heldFrames[direction];
    if (held.length === 0) {
      return;
    }
    const keep: HeldFrame[] = [];
    for (const entry of held) {
      entry.remaining--;
      if (all || entry.remaining <= 0) {
        entry.deliver(entry.frame);
      } else {
        keep.push(entry);
      }
    }
    this.heldFrames[direction] = keep;
  }

  private armSocketTimers(websocket: WebSocket): void {
    for (const timer of this.socketTimers) {
      clearTimeout(timer);
    }
    this.socketTimers.clear();
    const pingEvery = this.options.pingIntervalMs ?? WEBSOCKET_PING_INTERVAL_MS;
    const ping = setInterval(() => {
      if (!this.faults.silent) {
        websocket.ping('keepalive');
      }
    }, pingEvery);
    ping.unref();
    this.socketTimers.add(ping);
    if (this.faults.closeEveryMs !== undefined) {
      this.addTimer(this.socketTimers, this.faults.closeEveryMs, () => this.closeWebsocket());
    }
  }

  private armIdleTimer(): void {
    const idleMs = this.options.idleTimeoutMs;
    if (idleMs === undefined) {
      return;
    }
    const dueIn = this.lastActivityAt + idleMs - Date.now();
    this.addTimer(this.sessionTimers, Math.max(dueIn, 1), () => {
      if (Date.now() - this.lastActivityAt >= idleMs) {
        this.terminate('idle-timeout', 'Session timed out because it was idle.');
      } else {
        this.armIdleTimer();
      }
    });
  }

  private addTimer(set: Set<NodeJS.Timeout>, delayMs: number, run: () => void): void {
    if (this.ended) {
      return;
    }
    const timer = setTimeout(() => {
      set.delete(timer);
      run();
    }, delayMs);
    timer.unref();
    set.add(timer);
  }
}

function newToken(): string {
  const token = randomBytes(96).toString('base64url');
  recordSecret('session-token', token);
  return token;
}

function toBuffer(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Buffer.isBuffer(data)) {
    return data;
  }
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}
