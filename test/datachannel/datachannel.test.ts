import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DataChannel, type DataChannelOptions } from '../../daemon/datachannel/datachannel.js';
import { DataChannelError } from '../../daemon/datachannel/errors.js';
import {
  encodeMessage,
  MessageType,
  PayloadFlag,
  PayloadType,
  type ClientMessage,
} from '../../daemon/protocol/message.js';
import type { SessionEnd } from '../../daemon/portforward/types.js';
import { AgentPeer, waitFor } from './agent-peer.js';

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  while (cleanups.length > 0) {
    await cleanups.pop()!();
  }
});

async function startPeer(
  options: ConstructorParameters<typeof AgentPeer>[0] = {},
): Promise<AgentPeer> {
  const peer = new AgentPeer(options);
  await peer.start();
  cleanups.push(() => peer.stop());
  return peer;
}

function createChannel(peer: AgentPeer, options: Partial<DataChannelOptions> = {}): DataChannel {
  const channel = new DataChannel({
    streamUrl: peer.url,
    tokenValue: 'start-token',
    sessionId: 'session-1',
    resume: async () => ({ tokenValue: 'resumed-token' }),
    reconnectInitialDelayMs: 20,
    // The tests count messages as the agent sends them, 1 KiB each.
    maxPayloadBytes: 1024,
    ...options,
  });
  cleanups.push(() => channel.close());
  return channel;
}

function collect(channel: DataChannel): Buffer[] {
  const chunks: Buffer[] = [];
  channel.on('data', (chunk: Buffer) => chunks.push(chunk));
  return chunks;
}

function closedEvent(channel: DataChannel): Promise<SessionEnd> {
  return new Promise((resolve) => channel.once('closed', resolve));
}

function inputData(peer: AgentPeer): ClientMessage[] {
  return peer.received.filter(
    (message) =>
      message.messageType === MessageType.InputStreamData &&
      message.payloadType === PayloadType.Output,
  );
}

/** Returns an acceptInput filter that loses the first copy of every Output message. */
function loseFirstCopies(): (message: ClientMessage) => boolean {
  const firstSeen = new Set<bigint>();
  return (message) => {
    if (message.payloadType !== PayloadType.Output || firstSeen.has(message.sequenceNumber)) {
      return true;
    }
    firstSeen.add(message.sequenceNumber);
    return false;
  };
}

describe('handshake', () => {
  it('opens with the agent facts', async () => {
    const peer = await startPeer();
    const channel = createChannel(peer, { clientId: 'client-1' });
    const result = await channel.open();
    expect(result.agentVersion).toBe('3.3.987.0');
    expect(result.sessionType).toBe('Port');
    expect(result.properties).toEqual({ portNumber: '5432', type: 'LocalPortForwarding' });
    expect(peer.opens[0]!.TokenValue).toBe('start-token');
    expect(peer.opens[0]!.ClientId).toBe('client-1');
    expect(peer.opens[0]!.ClientVersion).toBe('1.2.707.0');
    await waitFor(() => peer.acked.includes(0) && peer.acked.includes(1), 2_000, 'handshake acks');
  });

  it('answers with a successful SessionType action', async () => {
    const peer = await startPeer();
    const response = new Promise<Record<string, unknown>>((resolve) =>
      peer.once('handshake-response', resolve),
    );
    const channel = createChannel(peer);
    await channel.open();
    expect(await response).toEqual({
      ClientVersion: '1.2.707.0',
      ProcessedClientActions: [
        { ActionType: 'SessionType', ActionStatus: 1, ActionResult: null, Error: '' },
      ],
      Errors: null,
    });
  });

  it('times out with a typed error', async () => {
    const peer = await startPeer({ handshake: false });
    const channel = createChannel(peer, { handshakeTimeoutMs: 300 });
    const closed = closedEvent(channel);
    const error = await channel.open().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DataChannelError);
    expect((error as DataChannelError).code).toBe('ERR_HANDSHAKE_TIMEOUT');
    expect((await closed).by).toBe('error');
  });

  it('fails on a KMS encryption request', async () => {
    const peer = await startPeer({
      actions: [
        {
          ActionType: 'SessionType',
          ActionParameters: { SessionType: 'Port', Properties: { portNumber: '22' } },
        },
        { ActionType: 'KMSEncryption', ActionParameters: { KMSKeyId: 'alias/session' } },
      ],
    });
    const response = new Promise<{ Errors: string[] }>((resolve) =>
      peer.once('handshake-response', resolve),
    );
    const channel = createChannel(peer);
    const error = await channel.open().catch((caught: unknown) => caught);
    expect((error as DataChannelError).code).toBe('ERR_HANDSHAKE_FAILED');
    expect((await response).Errors).toHaveLength(1);
  });

  it('fails open when the URL refuses connections', async () => {
    const peer = await startPeer();
    const url = peer.url;
    await peer.stop();
    cleanups.pop();
    const channel = createChannel({ url } as AgentPeer);
    const error = await channel.open().catch((caught: unknown) => caught);
    expect((error as DataChannelError).code).toBe('ERR_CONNECT_FAILED');
  });
});

describe('receiving', () => {
  it('delivers reordered and duplicated frames in order', async () => {
    const peer = await startPeer();
    const channel = createChannel(peer);
    const chunks = collect(channel);
    await channel.open();
    await waitFor(() => peer.acked.includes(1), 2_000, 'handshake complete ack');

    const payloads = Array.from({ length: 40 }, () => randomBytes(700));
    const first = peer.reserveSequence(payloads.length);
    const order = payloads.map((_, index) => index).reverse();
    for (const index of order) {
      peer.sendRaw(peer.outputFrame(first + index, payloads[index]!));
      if (index % 7 === 0) {
        peer.sendRaw(peer.outputFrame(first + index, payloads[index]!));
      }
    }
    await waitFor(() => chunks.length === payloads.length, 3_000, 'all payloads');
    expect(sha256(Buffer.concat(chunks))).toBe(sha256(Buffer.concat(payloads)));
    expect(channel.stats.messagesIn).toBe(payloads.length);
  });

  it('re-acknowledges duplicates of delivered frames', async () => {
    const peer = await startPeer();
    const channel = createChannel(peer);
    const chunks = collect(channel);
    await channel.open();
    const sequenceNumber = peer.sendOutput(Buffer.from('once'));
    await waitFor(() => peer.acked.includes(sequenceNumber), 2_000, 'first ack');
    const acksBefore = peer.acked.filter((acked) => acked === sequenceNumber).length;
    peer.sendRaw(peer.outputFrame(sequenceNumber, Buffer.from('once')));
    await waitFor(
      () => peer.acked.filter((acked) => acked === sequenceNumber).length === acksBefore + 1,
      2_000,
      'second ack',
    );
    expect(channel.stats.duplicates).toBe(1);
    expect(Buffer.concat(chunks).toString()).toBe('once');
  });

  it('passes 0x0A and 0x0D payloads unchanged', async () => {
    const peer = await startPeer();
    const channel = createChannel(peer);
    const chunks = collect(channel);
    await channel.open();
    peer.sendOutput(Buffer.from([0x0a]));
    peer.sendOutput(Buffer.from([0x0d]));
    channel.send(Buffer.from([0x0a]));
    await waitFor(() => chunks.length === 2 && peer.clientStream.length === 1, 2_000, 'bytes');
    expect(Buffer.concat(chunks).toString('hex')).toBe('0a0d');
    expect(peer.clientBytes.toString('hex')).toBe('0a');
  });

  it('emits flags', async () => {
    const peer = await startPeer();
    const channel = createChannel(peer);
    const flags: number[] = [];
    channel.on('flag', (flag: number) => flags.push(flag));
    await channel.open();
    peer.sendOutput(Buffer.from([0, 0, 0, 3]), PayloadType.Flag);
    await waitFor(() => flags.length === 1, 2_000, 'flag');
    expect(flags).toEqual([PayloadFlag.ConnectToPortError]);
  });

  it('holds data while delivery is paused', async () => {
    const peer = await startPeer();
    const channel = createChannel(peer);
    const chunks = collect(channel);
    await channel.open();
    channel.pauseDelivery();
    const payloads = Array.from({ length: 5 }, (_, index) => Buffer.from(`part-${index};`));
    const sequences = payloads.map((payload) => peer.sendOutput(payload));
    await waitFor(() => sequences.every((seq) => peer.acked.includes(seq)), 2_000, 'stored acks');
    expect(chunks).toHaveLength(0);
    channel.resumeDelivery();
    expect(Buffer.concat(chunks).toString()).toBe(Buffer.concat(payloads).toString());
  });

  it('stops reading instead of dropping while paused', async () => {
    // The peer never retransmits here, so a single frame dropped unacknowledged would
    // keep the transfer from completing.
    const peer = await startPeer({ resendMs: 60_000 });
    const channel = createChannel(peer, {
      maxBufferedMessages: 1_000,
      readPauseThresholdBytes: 128 * 1024,
    });
    const chunks = collect(channel);
    await channel.open();
    await waitFor(() => peer.acked.includes(1), 2_000, 'handshake complete ack');
    channel.pauseDelivery();
    const data = randomBytes(12_000 * 1024);
    for (let offset = 0; offset < data.length; offset += 1024) {
      peer.sendOutput(data.subarray(offset, offset + 1024));
    }
    await waitFor(() => (peer.socket?.bufferedAmount ?? 0) > 0, 5_000, 'peer send backlog');
    await new Promise((resolve) => setTimeout(resolve, 200));

    expect(chunks).toHaveLength(0);
    expect(peer.acked.length).toBeLessThan(1_000);
    channel.resumeDelivery();
    await waitFor(() => Buffer.concat(chunks).length === data.length, 5_000, 'every byte');
    expect(sha256(Buffer.concat(chunks))).toBe(sha256(data));
    expect(channel.stats.droppedMessages).toBe(0);
  });
});

/**
 * Sends three one-byte messages after the handshake and never the one before them, as when
 * the agent dropped it from its resend buffer. Returns the missing sequence number.
 */
async function sendBehindGap(peer: AgentPeer): Promise<number> {
  await waitFor(() => peer.acked.includes(1), 2_000, 'handshake complete ack');
  const first = peer.reserveSequence(4);
  for (const offset of [1, 2, 3]) {
    peer.sendRaw(peer.outputFrame(first + offset, Buffer.from([offset])));
  }
  return first;
}

describe('stalled gap', () => {
  it('ends with ERR_STREAM_STALLED', async () => {
    const peer = await startPeer();
    const channel = createChannel(peer, { stallTimeoutMs: 500 });
    const chunks = collect(channel);
    const closed = closedEvent(channel);
    await channel.open();
    const first = await sendBehindGap(peer);
    const startedMs = Date.now();

    const end = await closed;
    const error = end.error as DataChannelError;
    expect(end.by).toBe('error');
    expect(error.code).toBe('ERR_STREAM_STALLED');
    expect(error.message).toContain(`sequence number ${first},`);
    expect(error.message).toContain('with 3 messages (3 bytes) stored ahead');
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(450);
    expect(Date.now() - startedMs).toBeLessThan(3_000);
    expect(channel.stats.stalls).toBe(1);
    expect(chunks).toHaveLength(0);
  });

  it('ends when a full store drops a frame', async () => {
    const peer = await startPeer();
    const channel = createChannel(peer, { maxBufferedMessages: 2 });
    const closed = closedEvent(channel);
    await channel.open();
    const first = await sendBehindGap(peer);

    const end = await closed;
    const error = end.error as DataChannelError;
    expect(error.code).toBe('ERR_STREAM_STALLED');
    expect(error.message).toContain('reorder buffer is full');
    expect(error.message).toContain(`sequence number ${first} is missing with 2 messages`);
    expect(channel.stats.droppedMessages).toBe(1);
    expect(peer.acked.includes(first + 1)).toBe(true);
    expect(peer.acked.includes(first + 2)).toBe(true);
    expect(peer.acked.includes(first + 3)).toBe(false);
  });

  it('stays open while the gap is repaired', async () => {
    const peer = await startPeer();
    const channel = createChannel(peer, { stallTimeoutMs: 600 });
    const chunks = collect(channel);
    await channel.open();
    await waitFor(() => peer.acked.includes(1), 2_000, 'handshake complete ack');
    const payloads = Array.from({ length: 6 }, (_, index) => Buffer.from([index]));
    const first = peer.reserveSequence(payloads.length);
    for (let index = 1; index < payloads.length; index++) {
      peer.sendRaw(peer.outputFrame(first + index, payloads[index]!));
    }
    // Each gap is filled after 300 ms, as by an agent that resends its oldest message at a
    // high RTO. The stream makes progress, so 900 ms pass, more than stallTimeoutMs, without a stall.
    for (let index = 0; index < payloads.length; index += 2) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      peer.sendRaw(peer.outputFrame(first + index, payloads[index]!));
      if (index + 1 < payloads.length) {
        peer.sendRaw(peer.outputFrame(first + index + 1, payloads[index + 1]!));
      }
    }
    await waitFor(() => chunks.length === payloads.length, 2_000, 'all payloads');
    expect(Buffer.concat(chunks).toString('hex')).toBe('000102030405');
    expect(channel.stats.stalls).toBe(0);
  });

  it('stays open while paused delivery holds data', async () => {
    const peer = await startPeer();
    const channel = createChannel(peer, { stallTimeoutMs: 300 });
    const chunks = collect(channel);
    await channel.open();
    channel.pauseDelivery();
    const sequences = [0, 1, 2].map((index) => peer.sendOutput(Buffer.from([index])));
    await waitFor(() => sequences.every((seq) => peer.acked.includes(seq)), 2_000, 'stored acks');
    await new Promise((resolve) => setTimeout(resolve, 800));
    channel.resumeDelivery();
    expect(Buffer.concat(chunks).toString('hex')).toBe('000102');
    expect(channel.stats.stalls).toBe(0);
  });
});

describe('sending', () => {
  it('splits by maxPayloadBytes and delivers in order', async () => {
    const peer = await startPeer();
    const channel = createChannel(peer, { maxPayloadBytes: undefined });
    await channel.open();
    const data = randomBytes(100_000);
    channel.send(data);
    await waitFor(() => peer.clientBytes.length === data.length, 5_000, 'all bytes');
    expect(sha256(peer.clientBytes)).toBe(sha256(data));
    expect(Math.max(...inputData(peer).map((message) => message.payload.length))).toBe(32 * 1024);
    expect(channel.stats.bytesOut).toBe(data.length);
  });

  it('retransmits every expired message, not only the oldest', async () => {
    const peer = await startPeer({ acceptInput: loseFirstCopies() });
    const channel = createChannel(peer);
    await channel.open();

    const data = randomBytes(20 * 1024);
    channel.send(data);
    await waitFor(() => peer.clientBytes.length === data.length, 3_000, 'recovered bytes');
    expect(sha256(peer.clientBytes)).toBe(sha256(data));

    expect(channel.stats.retransmits).toBeGreaterThanOrEqual(20);
    const seen = new Set<bigint>();
    const resends: Array<{ sequenceNumber: bigint; at: number }> = [];
    for (const [index, message] of peer.received.entries()) {
      if (message.payloadType !== PayloadType.Output) {
        continue;
      }
      if (seen.has(message.sequenceNumber)) {
        resends.push({ sequenceNumber: message.sequenceNumber, at: peer.receivedAt[index]! });
      }
      seen.add(message.sequenceNumber);
    }
    // Front-only resending sends one message per 100 ms tick, so it cannot produce a burst
    // of more than 10 distinct sequence numbers within 50 ms.
    const burst = resends.filter((resend) => resend.at - resends[0]!.at < 50);
    expect(new Set(burst.map((resend) => resend.sequenceNumber)).size).toBeGreaterThan(10);
  });

  it('backs off retransmissions per message', async () => {
    let acking = false;
    const peer = await startPeer({
      sendAck: (message) => acking || message.payloadType !== PayloadType.Output,
    });
    const channel = createChannel(peer);
    await channel.open();
    const data = randomBytes(64 * 1024);
    channel.send(data);
    await new Promise((resolve) => setTimeout(resolve, 1_500));

    // Resending all 64 messages on every 100 ms tick would reach about 800 copies in 1.5 s.
    // With timeouts doubling from about 200 ms, each message goes out at most four times.
    const retransmitted = channel.stats.retransmits;
    let previous = -1n;
    let rounds = 0;
    for (const message of inputData(peer).slice(64)) {
      if (message.sequenceNumber <= previous) {
        rounds += 1;
      }
      previous = message.sequenceNumber;
    }
    expect(retransmitted).toBeLessThanOrEqual(3 * 64);
    expect(rounds).toBeLessThanOrEqual(2);
    // A loaded machine runs timers late, so the first full round may come after the 1.5 s.
    await waitFor(() => channel.stats.retransmits >= 64, 10_000, 'one retransmission each');
    expect(channel.stats.retransmits).toBeGreaterThanOrEqual(64);
    acking = true;
    await waitFor(() => channel.stats.unackedBytes === 0, 5_000, 'acks after the outage');
    expect(sha256(peer.clientBytes)).toBe(sha256(data));
  });

  it('limits retransmitted bytes per tick', async () => {
    const peer = await startPeer({ acceptInput: loseFirstCopies() });
    const channel = createChannel(peer, { retransmitBytesPerTick: 8 * 1024 });
    await channel.open();
    const data = randomBytes(64 * 1024);
    channel.send(data);
    await waitFor(() => peer.clientBytes.length === data.length, 5_000, 'recovered bytes');

    expect(sha256(peer.clientBytes)).toBe(sha256(data));
    const resendTimes: number[] = [];
    const seen = new Set<bigint>();
    for (const [index, message] of peer.received.entries()) {
      if (message.payloadType === PayloadType.Output && seen.has(message.sequenceNumber)) {
        resendTimes.push(peer.receivedAt[index]!);
      }
      seen.add(message.sequenceNumber);
    }
    // 64 lost messages at 8 per tick need at least 8 ticks of 100 ms.
    expect(resendTimes.at(-1)! - resendTimes[0]!).toBeGreaterThanOrEqual(600);
  });

  it('recovers lost acks by retransmission', async () => {
    const ackLost = new Set<bigint>();
    const peer = await startPeer({
      sendAck: (message) => {
        if (message.payloadType !== PayloadType.Output || ackLost.has(message.sequenceNumber)) {
          return true;
        }
        ackLost.add(message.sequenceNumber);
        return false;
      },
    });
    const channel = createChannel(peer);
    await channel.open();
    const data = randomBytes(8 * 1024);
    channel.send(data);
    await waitFor(() => channel.stats.unackedBytes === 0 && ackLost.size === 8, 3_000, 'acks');
    expect(sha256(peer.clientBytes)).toBe(sha256(data));
    expect(channel.stats.retransmits).toBeGreaterThanOrEqual(8);
  });

  it('stops at the window and drains after acks', async () => {
    let acking = false;
    const peer = await startPeer({
      acceptInput: (message) => acking || message.payloadType !== PayloadType.Output,
    });
    const channel = createChannel(peer, { windowBytes: 4096 });
    await channel.open();
    const data = randomBytes(10_000);
    expect(channel.send(data)).toBe(false);
    const sentSequences = () => new Set(inputData(peer).map((message) => message.sequenceNumber));
    await waitFor(() => sentSequences().size >= 4, 5_000, 'a full window');
    // Gives a sender that ignores the window time to send a fifth message.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sentSequences().size).toBe(4);
    expect(channel.stats.unackedBytes).toBe(4096);
    const drained = new Promise<void>((resolve) => channel.once('drain', resolve));
    acking = true;
    await drained;
    await waitFor(() => peer.clientBytes.length === data.length, 3_000, 'all bytes');
    expect(sha256(peer.clientBytes)).toBe(sha256(data));
  });

  it('honours pause_publication until start_publication', async () => {
    const peer = await startPeer();
    const channel = createChannel(peer);
    await channel.open();
    await waitFor(() => peer.acked.includes(1), 2_000, 'handshake complete ack');
    peer.sendControl(MessageType.PausePublication);
    // The pong follows pause_publication on the same socket, so once it is back the channel
    // has handled the pause, however slow the machine.
    await channel.ping(5_000);
    channel.send(Buffer.from('held back'));
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(inputData(peer)).toHaveLength(0);
    peer.sendControl(MessageType.StartPublication);
    await waitFor(() => peer.clientBytes.toString() === 'held back', 2_000, 'released data');
  });

  it('sends TerminateSession on close', async () => {
    const peer = await startPeer();
    const channel = createChannel(peer);
    await channel.open();
    const closed = closedEvent(channel);
    await channel.close({ terminate: true });
    await waitFor(() => peer.clientFlags.length === 1, 2_000, 'flag');
    expect(peer.clientFlags).toEqual([PayloadFlag.TerminateSession]);
    expect(await closed).toEqual({ by: 'client', reason: 'session terminated by the client' });
  });
});

describe('connection loss', () => {
  it('measures a ping round trip', async () => {
    const peer = await startPeer();
    const channel = createChannel(peer);
    await channel.open();
    const rttMs = await channel.ping(1_000);
    expect(rttMs).toBeGreaterThanOrEqual(0);
    expect(rttMs).toBeLessThan(1_000);
  });

  it('rejects a ping without pong', async () => {
    const peer = await startPeer({ autoPong: false });
    const channel = createChannel(peer);
    await channel.open();
    await expect(channel.ping(200)).rejects.toMatchObject({ code: 'ERR_PING_TIMEOUT' });
  });

  it('rejects a ping after close', async () => {
    const peer = await startPeer();
    const channel = createChannel(peer);
    await channel.open();
    await channel.close();
    await expect(channel.ping(200)).rejects.toMatchObject({ code: 'ERR_CONNECTION_LOST' });
  });

  it('detects a silent peer by the pong deadline', async () => {
    const peer = await startPeer({ autoPong: false });
    const channel = createChannel(peer, { pingIntervalMs: 100, pongTimeoutMs: 200 });
    await channel.open();
    const error = await new Promise<DataChannelError>((resolve) =>
      channel.once('reconnecting', resolve),
    );
    expect(error.code).toBe('ERR_PONG_TIMEOUT');
  });

  it('detects a silent peer within 25 s by default', { timeout: 40_000 }, async () => {
    const peer = await startPeer({ autoPong: false });
    const channel = createChannel(peer);
    await channel.open();
    const openedMs = Date.now();
    const error = await new Promise<DataChannelError>((resolve) =>
      channel.once('reconnecting', resolve),
    );
    const detectedMs = Date.now() - openedMs;
    expect(error.code).toBe('ERR_PONG_TIMEOUT');
    // The first ping goes out 15 s after the open and its pong is due 10 s later.
    expect(detectedMs).toBeGreaterThanOrEqual(24_000);
    expect(detectedMs).toBeLessThan(26_000);
  });

  it('ends when resumed websockets stay silent', async () => {
    const peer = await startPeer({ autoPong: false });
    const channel = createChannel(peer, { pingIntervalMs: 100, pongTimeoutMs: 200 });
    const losses: DataChannelError[] = [];
    channel.on('reconnecting', (error: DataChannelError) => losses.push(error));
    let reconnectedEvents = 0;
    channel.on('reconnected', () => reconnectedEvents++);
    let end: SessionEnd | undefined;
    channel.once('closed', (closed: SessionEnd) => (end = closed));
    await channel.open();

    await waitFor(() => end !== undefined, 5_000, 'channel end');
    expect(end!.by).toBe('error');
    expect((end!.error as DataChannelError).code).toBe('ERR_PEER_SILENT');
    expect(end!.reason).toContain('session-1');
    expect(losses.map((error) => error.code)).toEqual(['ERR_PONG_TIMEOUT']);
    expect(peer.opens).toHaveLength(2);
    expect(reconnectedEvents).toBe(0);
    expect(channel.stats.reconnects).toBe(0);
  });

  it('confirms a resume at the first message', async () => {
    const peer = await startPeer({ autoPong: false });
    const channel = createChannel(peer, { pingIntervalMs: 100, pongTimeoutMs: 1_000 });
    const chunks = collect(channel);
    let end: SessionEnd | undefined;
    channel.once('closed', (closed: SessionEnd) => (end = closed));
    await channel.open();
    await waitFor(() => peer.opens.length === 2, 5_000, 'first resume');
    expect(channel.stats.reconnects).toBe(0);

    peer.sendOutput(Buffer.from('alive'));
    await waitFor(() => channel.stats.reconnects === 1, 900, 'resume confirmed by a message');
    expect(Buffer.concat(chunks).toString()).toBe('alive');

    // The message came between the two pong timeouts, so the next one resumes again, and
    // only the silent websocket after it ends the channel.
    await waitFor(() => end !== undefined, 10_000, 'channel end');
    expect((end!.error as DataChannelError).code).toBe('ERR_PEER_SILENT');
    expect(peer.opens).toHaveLength(3);
    expect(channel.stats.reconnects).toBe(1);
  });

  it('resumes after close 1000 without loss', async () => {
    const peer = await startPeer();
    const channel = createChannel(peer);
    const chunks = collect(channel);
    await channel.open();
    const upstream = randomBytes(300_000);
    const downstream = Array.from({ length: 200 }, () => randomBytes(1024));
    channel.send(upstream);
    for (const [index, payload] of downstream.entries()) {
      peer.sendOutput(payload);
      if (index === 100) {
        peer.socket!.close(1000, 'Bye');
      }
    }

    await waitFor(() => channel.stats.reconnects === 1, 3_000, 'reconnect');
    await waitFor(
      () =>
        peer.clientBytes.length === upstream.length && Buffer.concat(chunks).length === 200 * 1024,
      10_000,
      'both directions',
    );
    expect(sha256(peer.clientBytes)).toBe(sha256(upstream));
    expect(sha256(Buffer.concat(chunks))).toBe(sha256(Buffer.concat(downstream)));

    expect(peer.opens).toHaveLength(2);
    expect(peer.opens[1]!.TokenValue).toBe('resumed-token');
    expect(peer.opens[1]!.ClientId).toBe(peer.opens[0]!.ClientId);
    expect(peer.opens[1]!.RequestId).not.toBe(peer.opens[0]!.RequestId);
    const handshakeResponses = peer.received.filter(
      (message) => message.payloadType === PayloadType.HandshakeResponse,
    );
    expect(new Set(handshakeResponses.map((message) => message.sequenceNumber))).toEqual(
      new Set([0n]),
    );
  });

  it('retries a failing resume until it succeeds', async () => {
    const peer = await startPeer();
    let calls = 0;
    const channel = createChannel(peer, {
      resume: async () => {
        calls += 1;
        if (calls <= 3) {
          throw new Error(`ResumeSession failed (attempt ${calls})`);
        }
        return { tokenValue: 'fourth-token' };
      },
    });
    await channel.open();
    const reconnected = new Promise<void>((resolve) => channel.once('reconnected', resolve));
    peer.socket!.close(1000, 'Bye');
    await reconnected;
    expect(calls).toBe(4);
    await waitFor(() => peer.opens.length === 2, 2_000, 'second open');
    expect(peer.opens[1]!.TokenValue).toBe('fourth-token');
    channel.send(Buffer.from('after resume'));
    await waitFor(() => peer.clientBytes.toString() === 'after resume', 2_000, 'data');
  });

  it('ends the session on an empty token', async () => {
    const peer = await startPeer();
    const channel = createChannel(peer, { resume: async () => ({ tokenValue: '' }) });
    await channel.open();
    const closed = closedEvent(channel);
    peer.socket!.close(1000, 'Bye');
    const end = await closed;
    expect(end.by).toBe('service');
    expect(end.reason).toMatch(/no token/);
  });

  it('stops on a non-retryable resume error', async () => {
    const peer = await startPeer();
    const channel = createChannel(peer, {
      resume: async () => {
        throw Object.assign(new Error('DoesNotExistException'), { retryable: false });
      },
    });
    await channel.open();
    const closed = closedEvent(channel);
    peer.socket!.close(1000, 'Bye');
    const end = await closed;
    expect(end.by).toBe('error');
    expect((end.error as DataChannelError).code).toBe('ERR_RESUME_FAILED');
  });

  it('gives up after reconnectForMs', async () => {
    const peer = await startPeer();
    const channel = createChannel(peer, {
      reconnectForMs: 300,
      resume: async () => {
        throw new Error('InternalServerError');
      },
    });
    await channel.open();
    const closed = closedEvent(channel);
    peer.socket!.close(1000, 'Bye');
    const end = await closed;
    expect((end.error as DataChannelError).code).toBe('ERR_RECONNECT_TIMEOUT');
    expect(end.reason).toMatch(/InternalServerError/);
  });

  it('stops reconnecting on close', async () => {
    const peer = await startPeer();
    let calls = 0;
    const channel = createChannel(peer, {
      resume: async () => {
        calls += 1;
        throw new Error('InternalServerError');
      },
    });
    await channel.open();
    const reconnecting = new Promise((resolve) => channel.once('reconnecting', resolve));
    peer.socket!.close(1000, 'Bye');
    await reconnecting;
    await waitFor(() => calls >= 1, 2_000, 'first resume');
    const closed = closedEvent(channel);
    await channel.close();
    expect((await closed).by).toBe('client');
    const callsAtClose = calls;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(calls).toBe(callsAtClose);
  });

  it('ends with the channel_closed Output', async () => {
    const peer = await startPeer();
    const channel = createChannel(peer);
    await channel.open();
    const closed = closedEvent(channel);
    peer.sendChannelClosed('Session idle timeout reached');
    expect(await closed).toEqual({ by: 'service', reason: 'Session idle timeout reached' });
  });
});

describe('garbage frames', () => {
  it('survives fuzzed frames', async () => {
    const peer = await startPeer();
    const channel = createChannel(peer);
    const chunks = collect(channel);
    const errors: Error[] = [];
    channel.on('protocol-error', (error: Error) => errors.push(error));
    await channel.open();
    const valid = encodeMessage({
      messageType: MessageType.OutputStreamData,
      // Far ahead, so a mutation that still decodes is stored and never delivered.
      sequenceNumber: 1_000_000_000,
      payloadType: PayloadType.Output,
      payload: Buffer.from('valid'),
    });
    const garbage = fc.sample(
      fc.oneof(
        fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
        fc
          .array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), {
            minLength: 1,
            maxLength: 6,
          })
          .map((flips) => {
            const frame = Buffer.from(valid);
            for (const [position, value] of flips) {
              frame[position] = value;
            }
            return frame;
          }),
      ),
      500,
    );

    for (const frame of garbage) {
      peer.sendRaw(frame);
    }
    peer.sendRaw(
      encodeMessage({
        messageType: MessageType.Acknowledge,
        payload: Buffer.from('{"AcknowledgedMessageSequenceNumber":"x"}'),
      }),
    );

    const before = Buffer.concat(chunks).length;
    const sequenceNumber = peer.sendOutput(Buffer.from('still alive'));
    await waitFor(() => peer.acked.includes(sequenceNumber), 3_000, 'valid frame ack');
    expect(Buffer.concat(chunks).subarray(before).toString()).toContain('still alive');
    expect(channel.stats.protocolErrors).toBeGreaterThan(0);
    expect(errors.length).toBe(channel.stats.protocolErrors);
  });
});
