import { describe, expect, it } from 'vitest';
import fc from 'fast-check';

import { MessageEncoder } from '../../daemon/protocol/message-encoder.js';
import {
  decodeMessage,
  encodeMessage,
  MessageFlags,
  MessageType,
  PayloadType,
} from '../../daemon/protocol/message.js';
import { encodeAcknowledge } from '../../daemon/protocol/payloads.js';

const ACKED_ID = 'dd01e56b-ff48-483e-a508-b5f073f31b16';
const CREATED_DATE = 1503434274949;

/** Encodes the ack the general encoder writes, with the MessageId the fast one chose. */
function referenceAck(frame: Buffer, messageType: string, sequenceNumber: number): Buffer {
  return encodeMessage({
    messageType: MessageType.Acknowledge,
    sequenceNumber: 0n,
    flags: MessageFlags.SynFin,
    messageId: decodeMessage(frame).messageId,
    createdDate: CREATED_DATE,
    payloadType: PayloadType.Undefined,
    payload: encodeAcknowledge({
      AcknowledgedMessageType: messageType,
      AcknowledgedMessageId: ACKED_ID,
      AcknowledgedMessageSequenceNumber: sequenceNumber,
      IsSequentialMessage: true,
    }),
  });
}

describe('MessageEncoder acknowledge', () => {
  it('matches encodeMessage byte for byte', () => {
    const encoder = new MessageEncoder();
    const acked = { messageType: 'input_stream_data', messageId: ACKED_ID, sequenceNumber: 2 };
    const frame = encoder.encodeAcknowledge(acked, CREATED_DATE);
    expect(frame.toString('hex')).toBe(referenceAck(frame, 'input_stream_data', 2).toString('hex'));
  });

  it('decodes with a valid digest and ack fields', () => {
    const encoder = new MessageEncoder();
    const frame = encoder.encodeAcknowledge({
      messageType: MessageType.OutputStreamData,
      messageId: ACKED_ID,
      sequenceNumber: 7,
    });
    const message = decodeMessage(frame);
    expect(message.messageType).toBe(MessageType.Acknowledge);
    expect(message.sequenceNumber).toBe(0n);
    expect(message.flags).toBe(MessageFlags.SynFin);
    expect(message.payloadType).toBe(PayloadType.Undefined);
    expect(JSON.parse(message.payload.toString())).toEqual({
      AcknowledgedMessageType: 'output_stream_data',
      AcknowledgedMessageId: ACKED_ID,
      AcknowledgedMessageSequenceNumber: 7,
      IsSequentialMessage: true,
    });
  });

  it('escapes unusual message types like Go', () => {
    const encoder = new MessageEncoder();
    const frame = encoder.encodeAcknowledge(
      { messageType: 'a<b"c', messageId: ACKED_ID, sequenceNumber: 3 },
      CREATED_DATE,
    );
    expect(frame.toString('hex')).toBe(referenceAck(frame, 'a<b"c', 3).toString('hex'));
    expect(decodeMessage(frame).payload.toString()).toContain('"a\\u003cb\\"c"');
  });

  it('matches encodeMessage for any sequence number', () => {
    const encoder = new MessageEncoder();
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (sequenceNumber) => {
        const frame = encoder.encodeAcknowledge(
          { messageType: 'output_stream_data', messageId: ACKED_ID, sequenceNumber },
          CREATED_DATE,
        );
        const reference = referenceAck(frame, 'output_stream_data', sequenceNumber);
        expect(frame.equals(reference)).toBe(true);
      }),
    );
  });
});

describe('MessageEncoder stream data', () => {
  it('matches encodeMessage above 2^32', () => {
    const encoder = new MessageEncoder();
    const payload = Buffer.from('payload bytes');
    const sequenceNumber = 2 ** 32 + 5;
    const createdDate = 2 ** 41 + 3;
    const frame = encoder.encodeStreamData(
      sequenceNumber,
      PayloadType.Output,
      payload,
      createdDate,
    );
    const reference = encodeMessage({
      messageType: MessageType.InputStreamData,
      sequenceNumber: BigInt(sequenceNumber),
      flags: MessageFlags.None,
      messageId: decodeMessage(frame).messageId,
      createdDate,
      payloadType: PayloadType.Output,
      payload,
    });
    expect(frame.toString('hex')).toBe(reference.toString('hex'));
  });

  it('copies the payload into the frame', () => {
    const encoder = new MessageEncoder();
    const payload = Buffer.from([1, 2, 3]);
    const frame = encoder.encodeStreamData(0, PayloadType.Flag, payload);
    payload[0] = 9;
    const message = decodeMessage(frame);
    expect([...message.payload]).toEqual([1, 2, 3]);
    expect(message.payloadType).toBe(PayloadType.Flag);
  });
});

describe('MessageEncoder MessageIds', () => {
  it('writes distinct version 4 UUIDs across refills', () => {
    const encoder = new MessageEncoder();
    const ids = new Set<string>();
    // 600 frames draw from three refills of the 256-id pool.
    for (let i = 0; i < 600; i += 1) {
      const id = decodeMessage(
        encoder.encodeStreamData(i, PayloadType.Output, Buffer.from('x')),
      ).messageId;
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      ids.add(id);
    }
    expect(ids.size).toBe(600);
  });
});
