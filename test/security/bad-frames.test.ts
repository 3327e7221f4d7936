// Malformed input from the service side of a live port-forwarding session: broken
// ClientMessage frames written straight onto the emulator's websocket, and bad payloads and
// smux frames sent in sequence through the emulated agent. The session must survive each
// one, or end with a clear reason, and the process must never crash.

import type { WebSocket } from 'ws';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import type { PortForwardSession, SessionEnd } from '../../daemon/portforward/types.js';
import { MessageType, PayloadType, encodeMessage } from '../../daemon/protocol/message.js';
import { SmuxCommand, encodeSmuxFrame } from '../../daemon/smux/frame.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { reliabilityScenario } from '../reliability/harness/daemon-process.js';
import {
  startForwardSession,
  type ForwardSession,
} from '../reliability/harness/forward-session.js';
import { runEcho } from '../reliability/harness/workload.js';
import { WorkloadServer } from '../reliability/harness/workload-server.js';
import { waitFor } from '../tunnel/helpers.js';

/** Offsets of the ClientMessage header fields, from the frame layout. */
const DIGEST_OFFSET = 80;
const PAYLOAD_LENGTH_OFFSET = 116;

let emulator: Emulator;
let target: WorkloadServer;
let session: PortForwardSession;
let forward: ForwardSession | undefined;
let localPort: number;
let protocolErrors: Error[];
let ended: SessionEnd | undefined;

async function startSession(): Promise<void> {
  forward = await startForwardSession(emulator, target.port);
  session = forward.session;
  localPort = forward.port;
  protocolErrors = [];
  ended = undefined;
  const channel = (session as unknown as { channel: NodeJS.EventEmitter }).channel;
  channel.on('protocol-error', (error: Error) => protocolErrors.push(error));
  session.on('ended', (end: SessionEnd) => (ended = end));
}

/** The emulator's live websocket to the client; private, reached only by this test. */
function serviceSocket(): WebSocket {
  const runtime = emulator.session(session.sessionId) as unknown as { websocket: WebSocket };
  return runtime.websocket;
}

function agent() {
  const reliability = emulator.session(session.sessionId)?.agentReliability;
  if (!reliability) {
    throw new Error(`emulated agent of ${session.sessionId} not found`);
  }
  return reliability;
}

async function echoWorks(): Promise<boolean> {
  const result = await runEcho({
    port: localPort,
    connectionId: 1,
    roundTrips: 3,
    maxRequestBytes: 4096,
    readTimeoutMs: 10_000,
  });
  return result.ok;
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

// Checks of what must happen wait for it, because a loaded machine can take longer than
// `settle` to pass a frame through the emulator.
const waitForEnd = () => waitFor(() => ended !== undefined, 15_000, 'the session to end');

beforeAll(async () => {
  emulator = await startEmulator({ pacing: false, scenario: reliabilityScenario() });
  target = new WorkloadServer();
  await target.listen();
});

afterAll(async () => {
  await target?.close();
  await emulator?.close();
});

afterEach(async () => {
  await forward?.close();
});

function outputFrame(
  sequenceNumber: bigint,
  payload: Buffer,
  payloadType = PayloadType.Output,
): Buffer {
  return encodeMessage({
    messageType: MessageType.OutputStreamData,
    sequenceNumber,
    payloadType,
    payload,
  });
}

/** Frames that must be dropped with a protocol error while the session continues. */
const BROKEN_FRAMES: Array<{ name: string; silent?: boolean; frame: () => Buffer }> = [
  { name: 'truncated header', frame: () => outputFrame(0n, Buffer.from('x')).subarray(0, 40) },
  { name: 'empty frame', frame: () => Buffer.alloc(0) },
  {
    name: 'wrong digest',
    frame: () => {
      const frame = outputFrame(BigInt(agent().nextOutgoingSequence), Buffer.from('tampered'));
      frame[DIGEST_OFFSET] = frame[DIGEST_OFFSET]! ^ 0xff;
      return frame;
    },
  },
  {
    name: 'huge PayloadLength',
    frame: () => {
      const frame = outputFrame(BigInt(agent().nextOutgoingSequence), Buffer.from('short'));
      frame.writeUInt32BE(0x7fffffff, PAYLOAD_LENGTH_OFFSET);
      return frame;
    },
  },
  { name: 'negative sequence number', frame: () => outputFrame(-5n, Buffer.from('negative')) },
  { name: 'sequence number above 2^53', frame: () => outputFrame(2n ** 62n, Buffer.from('far')) },
  {
    name: 'garbage JSON in an ack',
    frame: () =>
      encodeMessage({
        messageType: MessageType.Acknowledge,
        payloadType: PayloadType.Undefined,
        payload: Buffer.from('{"AcknowledgedMessageSequenceNumber": not json'),
      }),
  },
  {
    name: 'ack of an unknown sequence number',
    frame: () =>
      encodeMessage({
        messageType: MessageType.Acknowledge,
        payloadType: PayloadType.Undefined,
        payload: Buffer.from(JSON.stringify({ AcknowledgedMessageSequenceNumber: 1e15 })),
      }),
  },
  {
    name: 'unknown message type',
    // Both official peers drop unknown message types without a word, and so does the client.
    silent: true,
    frame: () => encodeMessage({ messageType: 'bogus_message_type', payload: Buffer.from('{}') }),
  },
  {
    name: 'random bytes',
    frame: () => Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37) % 256)),
  },
];

describe('broken frames from the service', () => {
  it.each(BROKEN_FRAMES)('survives $name', { timeout: 60_000 }, async ({ name, silent, frame }) => {
    await startSession();
    expect(await echoWorks()).toBe(true);
    serviceSocket().send(frame());
    await settle();
    const reachable = await echoWorks();
    console.log(
      JSON.stringify({ name, protocolErrors: protocolErrors.map((e) => e.message), ended }),
    );

    expect(ended).toBeUndefined();
    expect(reachable).toBe(true);
    expect(protocolErrors.length > 0).toBe(!silent);
  });

  it.each([
    { name: 'not JSON', payload: '\u0000{{{' },
    { name: 'wrong field types', payload: '{"Output": 42, "SessionId": []}' },
  ])('ends with a reason on channel_closed $name', { timeout: 30_000 }, async ({ payload }) => {
    await startSession();
    serviceSocket().send(
      encodeMessage({ messageType: MessageType.ChannelClosed, payload: Buffer.from(payload) }),
    );
    await waitForEnd();
    // channel_closed means the service is done with the session, so ending is correct even
    // when its text is unreadable, as long as the end carries a reason.
    expect(ended?.by).toBe('service');
    expect(ended?.reason).toMatch(/closed the channel/);
  });
});

describe('bad payloads in sequence from the agent', () => {
  it('ignores an unknown payload type', { timeout: 30_000 }, async () => {
    await startSession();
    agent().sendStreamData(99, Buffer.from('unknown payload type'));
    await settle();
    expect(ended).toBeUndefined();
    expect(await echoWorks()).toBe(true);
  });

  it('ignores an empty payload', { timeout: 30_000 }, async () => {
    await startSession();
    agent().sendStreamData(PayloadType.Output, Buffer.alloc(0));
    await settle();
    expect(ended).toBeUndefined();
    expect(await echoWorks()).toBe(true);
  });

  it('reports a garbage flag payload', { timeout: 30_000 }, async () => {
    await startSession();
    agent().sendStreamData(PayloadType.Flag, Buffer.from('not a flag'));
    await waitFor(() => protocolErrors.length > 0, 15_000, 'a protocol error');
    await settle();
    expect(protocolErrors.length).toBeGreaterThan(0);
    expect(ended).toBeUndefined();
    expect(await echoWorks()).toBe(true);
  });

  it('ignores a late garbage HandshakeRequest', { timeout: 30_000 }, async () => {
    await startSession();
    agent().sendStreamData(PayloadType.HandshakeRequest, Buffer.from('{"AgentVersion": [}'));
    await settle();
    expect(ended).toBeUndefined();
    expect(await echoWorks()).toBe(true);
  });

  it('ignores smux data for an unknown stream', { timeout: 30_000 }, async () => {
    await startSession();
    agent().sendStreamData(
      PayloadType.Output,
      encodeSmuxFrame(SmuxCommand.Psh, 4242, Buffer.from('nobody listens')),
    );
    await settle();
    expect(ended).toBeUndefined();
    expect(await echoWorks()).toBe(true);
  });

  it('ends with a reason on a bad smux version', { timeout: 30_000 }, async () => {
    await startSession();
    const frame = encodeSmuxFrame(SmuxCommand.Psh, 1, Buffer.from('bad version'));
    frame[0] = 9;
    agent().sendStreamData(PayloadType.Output, frame);
    await waitForEnd();
    expect(ended?.by).toBe('error');
    expect(ended?.reason).toMatch(/smux/i);
  });

  it('ends with a reason on a bad smux command', { timeout: 30_000 }, async () => {
    await startSession();
    const frame = encodeSmuxFrame(SmuxCommand.Nop, 0);
    frame[1] = 77;
    agent().sendStreamData(PayloadType.Output, frame);
    await waitForEnd();
    expect(ended?.by).toBe('error');
    expect(ended?.reason).toMatch(/smux/i);
  });
});
