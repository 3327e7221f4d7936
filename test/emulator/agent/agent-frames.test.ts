import { describe, expect, it } from 'vitest';
import {
  MessageFlags,
  MessageType,
  PayloadType,
  decodeMessage,
  encodeMessage,
} from '../../../daemon/protocol/message.js';
import {
  AckDecodeError,
  encodeAgentMessage,
  peekMessageType,
  readAckSequence,
} from './agent-frames.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function ackFrame(payload: string): Buffer {
  return encodeMessage({
    messageType: MessageType.Acknowledge,
    flags: MessageFlags.SynFin,
    payload: Buffer.from(payload),
  });
}

describe('encodeAgentMessage', () => {
  it('decodes with a valid digest', () => {
    const payload = Buffer.from('x'.repeat(1024));
    const before = Date.now();
    const frame = encodeAgentMessage({
      messageType: MessageType.OutputStreamData,
      sequenceNumber: 2 ** 40 + 7,
      flags: MessageFlags.Syn,
      payloadType: PayloadType.Output,
      payload,
    });
    const message = decodeMessage(frame);
    expect(message.messageType).toBe(MessageType.OutputStreamData);
    expect(message.sequenceNumber).toBe(BigInt(2 ** 40 + 7));
    expect(message.flags).toBe(MessageFlags.Syn);
    expect(message.payloadType).toBe(PayloadType.Output);
    expect(message.payload.equals(payload)).toBe(true);
    expect(message.schemaVersion).toBe(1);
    expect(message.createdDate).toBeGreaterThanOrEqual(before);
    expect(message.messageId).toMatch(UUID_V4);
  });

  it('matches encodeMessage outside date and id', () => {
    const fields = {
      messageType: MessageType.Acknowledge,
      sequenceNumber: 5,
      flags: MessageFlags.SynFin,
      payloadType: PayloadType.Undefined,
      payload: Buffer.from('{"AcknowledgedMessageSequenceNumber":5}'),
    };
    const fast = encodeAgentMessage(fields);
    const reference = encodeMessage(fields);
    expect(fast.length).toBe(reference.length);
    expect(fast.subarray(0, 40).equals(reference.subarray(0, 40))).toBe(true);
    expect(fast.subarray(48, 64).equals(reference.subarray(48, 64))).toBe(true);
    expect(fast.subarray(80).equals(reference.subarray(80))).toBe(true);
  });

  it('draws a new message id each time', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const frame = encodeAgentMessage({ messageType: MessageType.OutputStreamData });
      ids.add(decodeMessage(frame).messageId);
    }
    expect(ids.size).toBe(10_000);
  });

  it('keeps a given message id and date', () => {
    const messageId = '01234567-89ab-4def-8123-456789abcdef';
    const frame = encodeAgentMessage({
      messageType: MessageType.OutputStreamData,
      messageId,
      createdDate: 1234,
    });
    const message = decodeMessage(frame);
    expect(message.messageId).toBe(messageId);
    expect(message.createdDate).toBe(1234);
  });
});

describe('peekMessageType', () => {
  it('reads space-padded known types', () => {
    for (const type of Object.values(MessageType)) {
      expect(peekMessageType(encodeMessage({ messageType: type }))).toBe(type);
    }
  });

  it('reads NUL-padded and unknown types', () => {
    const frame = encodeMessage({ messageType: MessageType.Acknowledge });
    frame.fill(0, 4 + MessageType.Acknowledge.length, 36);
    expect(peekMessageType(frame)).toBe(MessageType.Acknowledge);
    expect(peekMessageType(encodeMessage({ messageType: 'interactive_shell' }))).toBe(
      'interactive_shell',
    );
  });

  it('returns empty for a short frame', () => {
    expect(peekMessageType(Buffer.alloc(20))).toBe('');
  });
});

describe('readAckSequence', () => {
  it('reads the acknowledged sequence number', () => {
    const frame = ackFrame(
      JSON.stringify({
        AcknowledgedMessageType: MessageType.OutputStreamData,
        AcknowledgedMessageId: '01234567-89ab-4def-8123-456789abcdef',
        AcknowledgedMessageSequenceNumber: 42,
        IsSequentialMessage: true,
      }),
    );
    expect(readAckSequence(frame)).toBe(42);
  });

  it('returns NaN without a sequence number', () => {
    expect(readAckSequence(ackFrame('{}'))).toBeNaN();
    expect(readAckSequence(ackFrame('null'))).toBeNaN();
  });

  it('rejects invalid frames', () => {
    expect(() => readAckSequence(Buffer.alloc(50))).toThrow(AckDecodeError);
    const badHeader = ackFrame('{}');
    badHeader.writeUInt32BE(100, 0);
    expect(() => readAckSequence(badHeader)).toThrow(/HeaderLength is 100/);
    const badLength = ackFrame('{}');
    badLength.writeUInt32BE(9, 116);
    expect(() => readAckSequence(badLength)).toThrow(/PayloadLength is 9/);
    expect(() => readAckSequence(ackFrame('{not json'))).toThrow(/not valid JSON/);
  });
});
