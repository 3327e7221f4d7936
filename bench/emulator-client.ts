// Minimal data-channel client used only to measure the emulator's own ceiling, so a slow
// emulator is never mistaken for a slow bastionless client. It opens a session with
// StartSession, does the handshake, acks every agent message at once and runs one smux
// stream per transfer. It does no retransmission and no reordering: the emulator runs on
// loopback, where a gap in sequence numbers means a broken run, and it is counted.

import { createHash } from 'node:crypto';
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { SSMClient, StartSessionCommand } from '@aws-sdk/client-ssm';
import WebSocket from 'ws';
import {
  decodeMessage,
  encodeMessage,
  MessageFlags,
  MessageType,
  PayloadType,
  type ClientMessage,
} from '../daemon/protocol/message.js';
import { encodeSmuxFrame, SmuxCommand, SmuxFrameDecoder } from '../daemon/smux/frame.js';
import { TickCork } from '../test/emulator/tick-cork.js';
import { patternChunk, patternDigest } from './pattern.js';
import { encodeRequestHeader, TargetMode } from './target-server.js';

/** Released plugin version: at least 1.1.70 selects smux, above 1.2.331.0 turns keepalive off. */
const CLIENT_VERSION = '1.2.650.0';
/** Payload bytes per upload message: one full smux frame with its header. */
const UPLOAD_FRAME_DATA = 32 * 1024;

export interface EmulatorEndpoint {
  /** SSM API endpoint of the emulator, e.g. http://127.0.0.1:PORT. */
  ssmEndpoint: string;
  target: string;
}

export interface RawTransfer {
  bytes: number;
  ms: number;
  exact: boolean;
  /** Agent messages ahead of the next expected sequence number (lost or reordered). */
  sequenceGaps: number;
  /** Agent retransmissions of messages already received. */
  duplicates: number;
}

class RawSession {
  private nextInput = 0n;
  private expectedOutput = 0n;
  private readonly smux = new SmuxFrameDecoder();
  private onHandshake?: (message: ClientMessage) => void;
  sequenceGaps = 0;
  duplicates = 0;
  onStreamData?: (streamId: number, data: Buffer) => void;

  // Acks of the messages that arrived together leave in one write, so the client's own
  // per-ack writes do not cap what it measures of the emulator.
  private readonly transportCork: TickCork | undefined;

  constructor(
    private readonly socket: WebSocket,
    transport?: Socket,
  ) {
    this.transportCork = transport ? new TickCork(transport) : undefined;
    socket.on('message', (data: Buffer) => this.receive(decodeMessage(data)));
  }

  private ack(message: ClientMessage): void {
    const body = {
      AcknowledgedMessageType: message.messageType,
      AcknowledgedMessageId: message.messageId,
      AcknowledgedMessageSequenceNumber: Number(message.sequenceNumber),
      IsSequentialMessage: true,
    };
    this.transportCork?.hold();
    this.socket.send(
      encodeMessage({
        messageType: MessageType.Acknowledge,
        flags: MessageFlags.SynFin,
        payload: Buffer.from(JSON.stringify(body)),
      }),
    );
  }

  private receive(message: ClientMessage): void {
    if (message.messageType !== MessageType.OutputStreamData) {
      return;
    }
    if (message.sequenceNumber < this.expectedOutput) {
      // The agent resends when an ack is late; re-ack so it drops the message.
      this.duplicates += 1;
      this.ack(message);
      return;
    }
    if (message.sequenceNumber > this.expectedOutput) {
      this.sequenceGaps += 1;
      return;
    }
    this.expectedOutput += 1n;
    this.ack(message);
    if (message.payloadType === PayloadType.Output) {
      for (const frame of this.smux.push(message.payload)) {
        if (frame.cmd === SmuxCommand.Psh) {
          this.onStreamData?.(frame.streamId, frame.data);
        }
      }
      return;
    }
    this.onHandshake?.(message);
  }

  send(payloadType: number, payload: Buffer): void {
    this.socket.send(
      encodeMessage({
        messageType: MessageType.InputStreamData,
        sequenceNumber: this.nextInput,
        payloadType,
        payload,
      }),
    );
    this.nextInput += 1n;
  }

  /** Resolves once the handshake is complete; rejects after `timeoutMs`. */
  handshake(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('emulator handshake timed out')), timeoutMs);
      this.onHandshake = (message) => {
        if (message.payloadType === PayloadType.HandshakeRequest) {
          const response = {
            ClientVersion: CLIENT_VERSION,
            ProcessedClientActions: [
              { ActionType: 'SessionType', ActionStatus: 1, ActionResult: null, Error: '' },
            ],
            Errors: null,
          };
          this.send(PayloadType.HandshakeResponse, Buffer.from(JSON.stringify(response)));
        } else if (message.payloadType === PayloadType.HandshakeComplete) {
          clearTimeout(timer);
          resolve();
        }
      };
    });
  }

  /** Waits until the websocket has flushed its send buffer below 1 MiB. */
  async drain(): Promise<void> {
    while (this.socket.bufferedAmount > 1024 * 1024) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  close(): void {
    this.send(PayloadType.Flag, Buffer.from([0, 0, 0, 2]));
    this.socket.close();
  }
}

async function openSession(
  endpoint: EmulatorEndpoint,
  targetPort: number,
  timeoutMs: number,
): Promise<RawSession> {
  const ssm = new SSMClient({
    region: 'us-east-1',
    endpoint: endpoint.ssmEndpoint,
    credentials: { accessKeyId: 'AKIABENCH', secretAccessKey: 'bench' },
  });
  const started = await ssm.send(
    new StartSessionCommand({
      Target: endpoint.target,
      DocumentName: 'AWS-StartPortForwardingSessionToRemoteHost',
      Parameters: {
        host: ['127.0.0.1'],
        portNumber: [String(targetPort)],
        localPortNumber: ['0'],
      },
    }),
  );
  ssm.destroy();
  if (!started.StreamUrl || !started.TokenValue) {
    throw new Error(`StartSession on ${endpoint.ssmEndpoint} returned no StreamUrl or token`);
  }
  const socket = new WebSocket(started.StreamUrl);
  let transport: Socket | undefined;
  socket.once('upgrade', (response) => {
    transport = response.socket as Socket;
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  const session = new RawSession(socket, transport);
  const handshake = session.handshake(timeoutMs);
  socket.send(
    JSON.stringify({
      MessageSchemaVersion: '1.0',
      RequestId: randomUUID(),
      TokenValue: started.TokenValue,
      ClientId: randomUUID(),
      ClientVersion: CLIENT_VERSION,
    }),
  );
  await handshake;
  return session;
}

/**
 * Downloads `bytes` on each of `streams` smux streams of one emulator session. The result
 * is the aggregate, and `exact` is true only if every stream matched its SHA-256.
 */
export async function emulatorDownload(
  endpoint: EmulatorEndpoint,
  targetPort: number,
  bytes: number,
  streams: number,
  timeoutMs: number,
): Promise<RawTransfer> {
  const session = await openSession(endpoint, targetPort, timeoutMs);
  try {
    const hashes = new Map<number, { hash: ReturnType<typeof createHash>; received: number }>();
    let finished = 0;
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`emulator download of ${bytes} bytes timed out`)),
        timeoutMs,
      );
      session.onStreamData = (streamId, data) => {
        const state = hashes.get(streamId);
        if (!state) {
          return;
        }
        state.hash.update(data);
        state.received += data.length;
        if (state.received === bytes) {
          finished += 1;
          if (finished === streams) {
            clearTimeout(timer);
            resolve();
          }
        }
      };
    });
    const start = process.hrtime.bigint();
    for (let index = 0; index < streams; index++) {
      const streamId = 3 + index * 2;
      hashes.set(streamId, { hash: createHash('sha256'), received: 0 });
      const header = encodeRequestHeader(TargetMode.Source, streamId, bytes);
      session.send(
        PayloadType.Output,
        Buffer.concat([
          encodeSmuxFrame(SmuxCommand.Syn, streamId),
          encodeSmuxFrame(SmuxCommand.Psh, streamId, header),
        ]),
      );
    }
    await done;
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    let exact = true;
    for (const [streamId, state] of hashes) {
      exact = exact && state.hash.digest('hex') === patternDigest(streamId, bytes);
    }
    return {
      bytes: bytes * streams,
      ms,
      exact,
      sequenceGaps: session.sequenceGaps,
      duplicates: session.duplicates,
    };
  } finally {
    session.close();
  }
}

/** Uploads `bytes` on one smux stream in 32 KiB messages; done when the digest returns. */
export async function emulatorUpload(
  endpoint: EmulatorEndpoint,
  targetPort: number,
  bytes: number,
  timeoutMs: number,
): Promise<RawTransfer> {
  const session = await openSession(endpoint, targetPort, timeoutMs);
  const streamId = 3;
  const seed = 11;
  try {
    const reply: Buffer[] = [];
    const digest = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`emulator upload of ${bytes} bytes timed out`)),
        timeoutMs,
      );
      session.onStreamData = (_streamId, data) => {
        reply.push(data);
        const all = Buffer.concat(reply);
        if (all.length >= 32) {
          clearTimeout(timer);
          resolve(all.subarray(0, 32).toString('hex'));
        }
      };
    });
    const start = process.hrtime.bigint();
    session.send(
      PayloadType.Output,
      Buffer.concat([
        encodeSmuxFrame(SmuxCommand.Syn, streamId),
        encodeSmuxFrame(SmuxCommand.Psh, streamId, encodeRequestHeader(TargetMode.Sink, 0, bytes)),
      ]),
    );
    let offset = 0;
    while (offset < bytes) {
      const chunk = patternChunk(seed, offset, Math.min(UPLOAD_FRAME_DATA, bytes - offset));
      offset += chunk.length;
      session.send(PayloadType.Output, encodeSmuxFrame(SmuxCommand.Psh, streamId, chunk));
      await session.drain();
    }
    const received = await digest;
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    return {
      bytes,
      ms,
      exact: received === patternDigest(seed, bytes),
      sequenceGaps: session.sequenceGaps,
      duplicates: session.duplicates,
    };
  } finally {
    session.close();
  }
}
