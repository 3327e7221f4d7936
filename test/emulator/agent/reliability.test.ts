import { describe, expect, it } from 'vitest';
import {
  MessageType,
  PayloadType,
  decodeMessage,
  encodeMessage,
} from '../../../daemon/protocol/message.js';
import { AgentReliability } from './reliability.js';

function harness(process: (seq: number) => boolean = () => true) {
  let now = 1_000_000;
  const sent: { frame: Buffer; kind: string }[] = [];
  const processed: number[] = [];
  const reliability = new AgentReliability({
    now: () => now,
    transmit: (frame, kind) => sent.push({ frame, kind }),
    process: (message) => {
      const ok = process(Number(message.sequenceNumber));
      if (ok) {
        processed.push(Number(message.sequenceNumber));
      }
      return ok;
    },
  });
  const input = (sequence: number) =>
    encodeMessage({
      messageType: MessageType.InputStreamData,
      sequenceNumber: sequence,
      payloadType: PayloadType.Output,
      payload: Buffer.from([sequence]),
    });
  const ack = (sequence: number) =>
    encodeMessage({
      messageType: MessageType.Acknowledge,
      payload: Buffer.from(
        JSON.stringify({
          AcknowledgedMessageType: MessageType.OutputStreamData,
          AcknowledgedMessageId: '00000000-0000-4000-8000-000000000000',
          AcknowledgedMessageSequenceNumber: sequence,
          IsSequentialMessage: true,
        }),
      ),
    });
  const ackedSequences = () =>
    sent
      .filter((s) => s.kind === 'ack')
      .map((s) => JSON.parse(decodeMessage(s.frame).payload.toString()))
      .map((a) => a.AcknowledgedMessageSequenceNumber as number);
  return {
    reliability,
    sent,
    processed,
    input,
    ack,
    ackedSequences,
    advance: (ms: number) => (now += ms),
    tick: () => (reliability as unknown as { resendFront: () => void }).resendFront(),
  };
}

describe('agent reliability', () => {
  it('first message carries SYN', () => {
    const h = harness();
    h.reliability.sendStreamData(PayloadType.HandshakeRequest, Buffer.from('{}'));
    h.reliability.sendStreamData(PayloadType.Output, Buffer.from('x'));
    const [first, second] = h.sent.map((s) => decodeMessage(s.frame));
    expect(first!.flags).toBe(1n);
    expect(first!.sequenceNumber).toBe(0n);
    expect(second!.flags).toBe(0n);
    expect(second!.sequenceNumber).toBe(1n);
    h.reliability.close();
  });

  it('RTO follows the first sample', () => {
    const h = harness();
    h.reliability.sendStreamData(PayloadType.Output, Buffer.from('x'));
    h.advance(50);
    h.reliability.receive(h.ack(0));
    // RTTVAR = 12.5, RTT = 93.75, RTO = 93.75 + max(10, 4 * 12.5).
    expect(h.reliability.retransmissionTimeoutMs).toBeCloseTo(143.75, 6);
    expect(h.reliability.unackedCount).toBe(0);
    h.reliability.close();
  });

  it('resends only the front, spaced by RTO', () => {
    const h = harness();
    h.reliability.sendStreamData(PayloadType.Output, Buffer.from('a'));
    h.reliability.sendStreamData(PayloadType.Output, Buffer.from('b'));
    h.sent.length = 0;
    h.advance(150);
    h.tick();
    expect(h.sent).toHaveLength(0);
    h.advance(100);
    h.tick();
    expect(h.sent.map((s) => decodeMessage(s.frame).sequenceNumber)).toEqual([0n]);
    h.advance(100);
    h.tick();
    expect(h.sent).toHaveLength(1);
    h.reliability.close();
  });

  it('acks are not cumulative', () => {
    const h = harness();
    h.reliability.sendStreamData(PayloadType.Output, Buffer.from('a'));
    h.reliability.sendStreamData(PayloadType.Output, Buffer.from('b'));
    h.reliability.receive(h.ack(1));
    expect(h.reliability.unackedCount).toBe(1);
    h.reliability.close();
  });

  it('re-acks duplicates and buffers gaps', () => {
    const h = harness();
    h.reliability.receive(h.input(0));
    h.reliability.receive(h.input(0));
    h.reliability.receive(h.input(2));
    expect(h.processed).toEqual([0]);
    expect(h.ackedSequences()).toEqual([0, 0, 2]);
    h.reliability.receive(h.input(1));
    expect(h.processed).toEqual([0, 1, 2]);
    expect(h.reliability.expectedSequence).toBe(3);
    h.reliability.close();
  });

  it('not-ready message is neither acked nor consumed', () => {
    let ready = false;
    const h = harness(() => ready);
    h.reliability.receive(h.input(0));
    expect(h.ackedSequences()).toEqual([]);
    expect(h.reliability.expectedSequence).toBe(0);
    ready = true;
    h.reliability.receive(h.input(0));
    expect(h.ackedSequences()).toEqual([0]);
    expect(h.reliability.expectedSequence).toBe(1);
    h.reliability.close();
  });

  it('paused agent buffers without sending', () => {
    const h = harness();
    h.reliability.setPaused(true);
    h.reliability.sendStreamData(PayloadType.Output, Buffer.from('a'));
    h.advance(2000);
    h.tick();
    expect(h.sent).toHaveLength(0);
    h.reliability.setPaused(false);
    h.tick();
    expect(h.sent).toHaveLength(1);
    h.reliability.close();
  });
});
