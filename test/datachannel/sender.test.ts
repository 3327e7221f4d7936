// ChannelSender against a real websocket to the agent peer: the window bound, retransmission
// after the RTO, removal on ack and the drain callback. The test calls resendExpired()
// itself, so every retransmission in these tests comes from an explicit call.

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { WebSocketConnection } from '../../daemon/datachannel/connection.js';
import { ChannelSender } from '../../daemon/datachannel/sender.js';
import { createCounters, type DataChannelCounters } from '../../daemon/datachannel/stats.js';
import { INITIAL_RTO_MS } from '../../daemon/datachannel/rto.js';
import { encodeMessage, MessageType, type ClientMessage } from '../../daemon/protocol/message.js';
import { MessageEncoder } from '../../daemon/protocol/message-encoder.js';
import type { PayloadError } from '../../daemon/protocol/payloads.js';
import { AgentPeer, waitFor, type AgentPeerOptions } from './agent-peer.js';
import { cleanupAfterEach, connectToPeer, sha256, sleep } from './peer-connection.js';

const cleanups = cleanupAfterEach();

interface SenderRig {
  sender: ChannelSender;
  peer: AgentPeer;
  connection: WebSocketConnection;
  counters: DataChannelCounters;
  drains: number;
  protocolErrors: PayloadError[];
  handshakeComplete: boolean;
}

async function startSender(
  options: { windowBytes?: number; maxPayloadBytes?: number } = {},
  peerOptions: AgentPeerOptions = {},
): Promise<SenderRig> {
  const peer = new AgentPeer({ handshake: false, ...peerOptions });
  await peer.start();
  cleanups.push(() => peer.stop());
  const rig = {
    counters: createCounters(),
    drains: 0,
    protocolErrors: [],
    handshakeComplete: true,
    peer,
  } as unknown as SenderRig;
  rig.connection = await connectToPeer(peer, (message) => {
    if (message.messageType === MessageType.Acknowledge) {
      rig.sender.acknowledge(message);
    }
  });
  cleanups.push(() => rig.connection.close());
  rig.sender = new ChannelSender({
    options: {
      windowBytes: options.windowBytes ?? 64 * 1024,
      maxPayloadBytes: options.maxPayloadBytes ?? 1024,
      retransmitBytesPerTick: 256 * 1024,
    },
    encoder: new MessageEncoder(),
    counters: rig.counters,
    connection: () => rig.connection,
    isEnded: () => false,
    isHandshakeComplete: () => rig.handshakeComplete,
    onDrain: () => {
      rig.drains += 1;
    },
    onProtocolError: (error) => rig.protocolErrors.push(error),
  });
  return rig;
}

/** Client stream-data frames the peer received, retransmissions and dropped ones included. */
function inputFrames(peer: AgentPeer): ClientMessage[] {
  return peer.received.filter((message) => message.messageType === MessageType.InputStreamData);
}

/** Builds the agent's ack of one client message; both sides use the same ack format. */
function ackFrame(message: ClientMessage): Buffer {
  return new MessageEncoder().encodeAcknowledge({
    messageType: message.messageType,
    messageId: message.messageId,
    sequenceNumber: Number(message.sequenceNumber),
  });
}

/** Returns peer options that withhold every ack, and the messages whose ack `release` sends. */
function heldAcks(): { options: AgentPeerOptions; held: ClientMessage[] } {
  const held: ClientMessage[] = [];
  return {
    held,
    options: {
      sendAck: (message) => {
        held.push(message);
        return false;
      },
    },
  };
}

function release(peer: AgentPeer, held: ClientMessage[]): void {
  for (const message of held.splice(0)) {
    peer.sendRaw(ackFrame(message));
  }
}

describe('ChannelSender window', () => {
  it('sends no more than the window', async () => {
    const acks = heldAcks();
    const { sender, peer } = await startSender(
      { windowBytes: 4096, maxPayloadBytes: 1024 },
      acks.options,
    );
    const payload = randomBytes(8192);

    expect(sender.send(payload)).toBe(false);
    await waitFor(() => inputFrames(peer).length === 4, 5_000, 'the first window');
    await sleep(100);

    expect(inputFrames(peer).map((message) => Number(message.sequenceNumber))).toEqual([
      0, 1, 2, 3,
    ]);
    expect(sender.unackedBytes).toBe(4096);

    release(peer, acks.held);
    await waitFor(() => inputFrames(peer).length === 8, 5_000, 'the second window');
    release(peer, acks.held);
    await waitFor(() => sender.unackedBytes === 0, 5_000, 'the last acks');

    expect(inputFrames(peer)).toHaveLength(8);
    expect(sha256(peer.clientBytes)).toBe(sha256(payload));
  });

  it('emits drain once the window has room', async () => {
    const acks = heldAcks();
    const rig = await startSender({ windowBytes: 4096, maxPayloadBytes: 1024 }, acks.options);
    const payload = randomBytes(8192);

    expect(rig.sender.send(payload)).toBe(false);
    await waitFor(() => acks.held.length === 4, 5_000, 'the first window');
    expect(rig.drains).toBe(0);

    // Acks for the first window admit the queued second window, which fills it again.
    release(rig.peer, acks.held);
    await waitFor(() => acks.held.length === 4, 5_000, 'the second window');
    expect(rig.drains).toBe(0);

    release(rig.peer, acks.held);
    await waitFor(() => rig.drains === 1, 5_000, 'drain');
    expect(rig.sender.unackedBytes).toBe(0);
    expect(sha256(rig.peer.clientBytes)).toBe(sha256(payload));
  });

  it('emits no drain when send fits', async () => {
    const rig = await startSender({ windowBytes: 4096, maxPayloadBytes: 1024 });

    expect(rig.sender.send(randomBytes(2048))).toBe(true);
    await waitFor(() => rig.sender.unackedBytes === 0, 5_000, 'acks');

    expect(rig.drains).toBe(0);
  });
});

describe('ChannelSender retransmission', () => {
  it('resends a lost message after the RTO', async () => {
    let dropped = 0;
    const { sender, peer, counters } = await startSender(
      {},
      {
        acceptInput: () => {
          dropped += 1;
          return dropped > 1;
        },
      },
    );
    const payload = randomBytes(700);

    sender.send(payload);
    await waitFor(() => peer.countInput(0) === 1, 5_000, 'the first copy');
    sender.resendExpired();
    await sleep(50);

    expect(peer.countInput(0)).toBe(1);
    expect(counters.retransmits).toBe(0);

    await sleep(INITIAL_RTO_MS + 50);
    sender.resendExpired();
    await waitFor(() => sender.unackedBytes === 0, 5_000, 'the ack of the retransmission');

    expect(peer.countInput(0)).toBe(2);
    expect(counters.retransmits).toBe(1);
    expect(counters.messagesOut).toBe(1);
    expect(sha256(peer.clientBytes)).toBe(sha256(payload));
    // Karn's algorithm: the ack of a retransmitted message gives no RTT sample.
    expect(sender.rttMs).toBeNull();
  });

  it('drops an acknowledged message', async () => {
    const { sender, peer, counters } = await startSender();
    const payload = randomBytes(3000);

    sender.send(payload);
    await waitFor(() => sender.unackedBytes === 0, 5_000, 'acks');
    await sleep(INITIAL_RTO_MS + 50);
    sender.resendExpired();
    await sleep(50);

    expect(inputFrames(peer)).toHaveLength(3);
    expect(counters.retransmits).toBe(0);
    expect(sender.rttMs).not.toBeNull();
    expect(sha256(peer.clientBytes)).toBe(sha256(payload));
  });

  it('resends every unacknowledged message on resendAll', async () => {
    const acks = heldAcks();
    const { sender, peer, counters } = await startSender({}, acks.options);

    sender.send(randomBytes(2048));
    await waitFor(() => acks.held.length === 2, 5_000, 'two messages');
    sender.resendAll();
    await waitFor(() => inputFrames(peer).length === 4, 5_000, 'the resent messages');

    expect(peer.countInput(0)).toBe(2);
    expect(peer.countInput(1)).toBe(2);
    expect(counters.retransmits).toBe(2);
  });

  it('reports an ack with an invalid payload', async () => {
    const rig = await startSender();
    const bad = encodeMessage({
      messageType: MessageType.Acknowledge,
      payload: Buffer.from('{"AcknowledgedMessageSequenceNumber":"zero"}'),
    });

    rig.peer.sendRaw(bad);
    await waitFor(() => rig.protocolErrors.length === 1, 5_000, 'a protocol error');

    expect(rig.protocolErrors[0]?.code).toBe('ERR_PAYLOAD_INVALID_FIELD');
  });
});

describe('ChannelSender gating', () => {
  it('holds data until the handshake completes', async () => {
    const rig = await startSender();
    rig.handshakeComplete = false;
    const payload = randomBytes(1500);

    rig.sender.send(payload);
    await sleep(100);
    expect(inputFrames(rig.peer)).toHaveLength(0);

    rig.handshakeComplete = true;
    rig.sender.pump();
    await waitFor(() => rig.sender.unackedBytes === 0, 5_000, 'acks');

    expect(sha256(rig.peer.clientBytes)).toBe(sha256(payload));
  });

  it('holds data while publication is paused', async () => {
    const rig = await startSender();
    rig.sender.publicationPaused = true;
    const payload = randomBytes(1500);

    rig.sender.send(payload);
    await sleep(100);
    expect(inputFrames(rig.peer)).toHaveLength(0);

    rig.sender.publicationPaused = false;
    rig.sender.pump();
    await waitFor(() => rig.sender.unackedBytes === 0, 5_000, 'acks');

    expect(sha256(rig.peer.clientBytes)).toBe(sha256(payload));
  });
});
