// ChannelReceiver against a real websocket from the agent peer: ordering of early frames,
// re-acknowledged duplicates, paused delivery and the pause of websocket reads.

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { WebSocketConnection } from '../../daemon/datachannel/connection.js';
import { ChannelReceiver } from '../../daemon/datachannel/receiver.js';
import { createCounters, type DataChannelCounters } from '../../daemon/datachannel/stats.js';
import { MessageType, PayloadType } from '../../daemon/protocol/message.js';
import { MessageEncoder } from '../../daemon/protocol/message-encoder.js';
import { encodeFlag, type PayloadError } from '../../daemon/protocol/payloads.js';
import { AgentPeer, waitFor } from './agent-peer.js';
import { cleanupAfterEach, connectToPeer, sha256, sleep } from './peer-connection.js';

const cleanups = cleanupAfterEach();

interface ReceiverRig {
  receiver: ChannelReceiver;
  peer: AgentPeer;
  connection: WebSocketConnection;
  counters: DataChannelCounters;
  delivered: Buffer[];
  flags: number[];
  /** 'data' or 'flag N' per dispatched payload, in dispatch order. */
  events: string[];
  protocolErrors: PayloadError[];
}

interface ReceiverLimits {
  maxBufferedMessages?: number;
  maxBufferedBytes?: number;
  readPauseThresholdBytes?: number;
}

async function startReceiver(limits: ReceiverLimits = {}): Promise<ReceiverRig> {
  const peer = new AgentPeer({ handshake: false });
  await peer.start();
  cleanups.push(() => peer.stop());
  const delivered: Buffer[] = [];
  const flags: number[] = [];
  const events: string[] = [];
  const protocolErrors: PayloadError[] = [];
  const counters = createCounters();
  let connection: WebSocketConnection | null = null;
  const receiver = new ChannelReceiver({
    options: {
      maxBufferedMessages: limits.maxBufferedMessages ?? 1000,
      maxBufferedBytes: limits.maxBufferedBytes ?? 8 * 1024 * 1024,
      readPauseThresholdBytes: limits.readPauseThresholdBytes ?? 2 * 1024 * 1024,
    },
    encoder: new MessageEncoder(),
    counters,
    connection: () => connection,
    isEnded: () => false,
    onData: (payload) => {
      delivered.push(Buffer.from(payload));
      events.push('data');
    },
    onFlag: (flag) => {
      flags.push(flag);
      events.push(`flag ${flag}`);
    },
    onHandshakeRequest: () => {},
    onHandshakeComplete: () => {},
    onProtocolError: (error) => protocolErrors.push(error),
  });
  const opened = await connectToPeer(peer, (message) => {
    if (message.messageType === MessageType.OutputStreamData) {
      receiver.receive(message);
    }
  });
  connection = opened;
  cleanups.push(() => opened.close());
  return { receiver, peer, connection: opened, counters, delivered, flags, events, protocolErrors };
}

function chunks(count: number, size = 1024): Buffer[] {
  return Array.from({ length: count }, () => randomBytes(size));
}

/** Sends `payloads[sequence]` with that sequence number, in the order `sequences` gives. */
function sendInOrder(peer: AgentPeer, payloads: Buffer[], sequences: number[]): void {
  for (const sequence of sequences) {
    peer.sendRaw(peer.outputFrame(sequence, payloads[sequence]!));
  }
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, index) => index);
}

describe('ChannelReceiver ordering', () => {
  it('delivers early frames in order once', async () => {
    const rig = await startReceiver();
    const payloads = chunks(20);
    // Each half arrives in reverse, so frames 1 to 9 wait in the reorder buffer until 0
    // arrives, and 11 to 19 until 10 does.
    const arrival = [...range(10).reverse(), ...range(10).map((index) => 19 - index)];

    sendInOrder(rig.peer, payloads, arrival);
    await waitFor(() => rig.peer.acked.length === 20, 5_000, 'acks of all 20 frames');
    await waitFor(() => rig.delivered.length === 20, 5_000, 'delivery of 20 frames');

    expect(sha256(Buffer.concat(rig.delivered))).toBe(sha256(Buffer.concat(payloads)));
    expect([...rig.peer.acked].sort((a, b) => a - b)).toEqual(range(20));
    expect(rig.counters.messagesIn).toBe(20);
    expect(rig.counters.bytesIn).toBe(20 * 1024);
    expect(rig.counters.duplicates).toBe(0);
  });

  it('re-acks duplicates without delivering them', async () => {
    const rig = await startReceiver();
    const payloads = chunks(2);

    sendInOrder(rig.peer, payloads, [0, 1]);
    await waitFor(() => rig.delivered.length === 2, 5_000, 'delivery of two frames');
    sendInOrder(rig.peer, payloads, [0, 1]);
    await waitFor(() => rig.peer.acked.length === 4, 5_000, 'acks of the duplicates');
    await sleep(50);

    expect(rig.peer.acked).toEqual([0, 1, 0, 1]);
    expect(rig.delivered).toHaveLength(2);
    expect(rig.counters.duplicates).toBe(2);
    expect(sha256(Buffer.concat(rig.delivered))).toBe(sha256(Buffer.concat(payloads)));
  });

  it('re-acks an early frame sent twice', async () => {
    const rig = await startReceiver();
    const payloads = chunks(3);

    sendInOrder(rig.peer, payloads, [2, 2, 1]);
    await waitFor(() => rig.peer.acked.length === 3, 5_000, 'acks of the early frames');

    expect(rig.delivered).toHaveLength(0);

    sendInOrder(rig.peer, payloads, [0]);
    await waitFor(() => rig.delivered.length === 3, 5_000, 'delivery of three frames');
    await sleep(50);

    expect(rig.delivered).toHaveLength(3);
    expect(sha256(Buffer.concat(rig.delivered))).toBe(sha256(Buffer.concat(payloads)));
  });

  it('dispatches flags in sequence order', async () => {
    const rig = await startReceiver();
    const data = randomBytes(100);

    rig.peer.sendRaw(rig.peer.outputFrame(1, encodeFlag(2), PayloadType.Flag));
    rig.peer.sendRaw(rig.peer.outputFrame(0, data));
    await waitFor(() => rig.flags.length === 1, 5_000, 'the flag');

    expect(rig.events).toEqual(['data', 'flag 2']);
    expect(rig.flags).toEqual([2]);
    expect(sha256(rig.delivered[0]!)).toBe(sha256(data));
  });

  it('reports a flag of the wrong length', async () => {
    const rig = await startReceiver();

    rig.peer.sendRaw(rig.peer.outputFrame(0, Buffer.from([1, 2]), PayloadType.Flag));
    await waitFor(() => rig.protocolErrors.length === 1, 5_000, 'a protocol error');

    expect(rig.protocolErrors[0]?.code).toBe('ERR_PAYLOAD_FLAG_LENGTH');
    expect(rig.peer.acked).toEqual([0]);
  });

  it('drops a frame the full store cannot take', async () => {
    const rig = await startReceiver({ maxBufferedMessages: 2 });
    const payloads = chunks(4);

    sendInOrder(rig.peer, payloads, [1, 2, 3]);
    await waitFor(() => rig.counters.droppedMessages === 1, 5_000, 'a dropped frame');

    expect(rig.peer.acked).toEqual([1, 2]);

    // The agent resends a frame it never saw acked, so the stream still completes.
    sendInOrder(rig.peer, payloads, [0, 3]);
    await waitFor(() => rig.delivered.length === 4, 5_000, 'delivery of four frames');

    expect(sha256(Buffer.concat(rig.delivered))).toBe(sha256(Buffer.concat(payloads)));
  });
});

describe('ChannelReceiver paused delivery', () => {
  it('stores while paused and delivers on resume', async () => {
    const rig = await startReceiver();
    const payloads = chunks(5);

    rig.receiver.pauseDelivery();
    sendInOrder(rig.peer, payloads, range(5));
    await waitFor(() => rig.peer.acked.length === 5, 5_000, 'acks while paused');
    await sleep(50);

    expect(rig.delivered).toHaveLength(0);

    rig.receiver.resumeDelivery();

    expect(rig.delivered).toHaveLength(5);
    expect(sha256(Buffer.concat(rig.delivered))).toBe(sha256(Buffer.concat(payloads)));
  });

  it('stops reading past the pause threshold', async () => {
    const rig = await startReceiver({ readPauseThresholdBytes: 4096 });
    const payloads = chunks(10);

    rig.receiver.pauseDelivery();
    // One frame at a time, so the pause takes effect before the next frame is read.
    for (const sequence of range(4)) {
      sendInOrder(rig.peer, payloads, [sequence]);
      await waitFor(() => rig.peer.acked.length === sequence + 1, 5_000, `ack of ${sequence}`);
    }

    expect(rig.receiver.readingPaused).toBe(true);

    sendInOrder(rig.peer, payloads, range(10).slice(4));
    await sleep(200);

    expect(rig.peer.acked).toHaveLength(4);
    expect(rig.delivered).toHaveLength(0);

    rig.receiver.resumeDelivery();
    await waitFor(() => rig.delivered.length === 10, 5_000, 'delivery of ten frames');

    expect(rig.receiver.readingPaused).toBe(false);
    expect(rig.peer.acked).toEqual(range(10));
    expect(sha256(Buffer.concat(rig.delivered))).toBe(sha256(Buffer.concat(payloads)));
  });
});
