import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  decodeMessage,
  decodeMessageId,
  encodeMessage,
  encodeMessageId,
  FRAME_HEADER_BYTES,
  MAX_FRAME_BYTES,
  MessageDecodeError,
  MessageFlags,
  MessageType,
  PayloadType,
  sha256,
} from '../../daemon/protocol/message.js';
import { encodeAcknowledge } from '../../daemon/protocol/payloads.js';

function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

// Vector A: input_stream_data, seq 2, CreatedDate 1503434274948, PayloadType 1, "payload".
const VECTOR_A = hex(`
  00 00 00 74 69 6e 70 75  74 5f 73 74 72 65 61 6d
  5f 64 61 74 61 20 20 20  20 20 20 20 20 20 20 20
  20 20 20 20 00 00 00 01  00 00 01 5e 0b aa 78 84
  00 00 00 00 00 00 00 02  00 00 00 00 00 00 00 00
  a5 08 b5 f0 73 f3 1b 16  dd 01 e5 6b ff 48 48 3e
  23 9f 59 ed 55 e7 37 c7  71 47 cf 55 ad 0c 1b 03
  0b 6d 7e e7 48 a7 42 69  52 f9 b8 52 d5 a9 35 e5
  00 00 00 01 00 00 00 07  70 61 79 6c 6f 61 64
`);

// Vector B: the acknowledge of A; its 175-byte JSON payload follows this header.
const VECTOR_B_HEADER = hex(`
  00 00 00 74 61 63 6b 6e  6f 77 6c 65 64 67 65 20
  20 20 20 20 20 20 20 20  20 20 20 20 20 20 20 20
  20 20 20 20 00 00 00 01  00 00 01 5e 0b aa 78 85
  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 03
  88 99 aa bb cc dd ee ff  11 22 33 44 55 66 47 77
  78 a7 e0 a6 66 0b 25 f7  97 58 5b 89 a2 df c4 7d
  31 eb 35 b0 4e 63 c1 d9  5b 8f 2c 82 59 73 24 bd
  00 00 00 00 00 00 00 af
`);
const VECTOR_B_JSON =
  '{"AcknowledgedMessageType":"input_stream_data","AcknowledgedMessageId":"dd01e56b-ff48-483e-a508-b5f073f31b16","AcknowledgedMessageSequenceNumber":2,"IsSequentialMessage":true}';

// Vector C: TerminateSession flag, seq 5.
const VECTOR_C_TAIL = hex('00 00 00 0a 00 00 00 04 00 00 00 02');
const VECTOR_C_DIGEST = hex(
  '43 3e bf 5b c0 3d ff a3 85 36 67 32 07 a2 12 81 61 2c ef 5f aa 9b c7 a4 d5 b9 be 2f db 12 cf 1a',
);

const ID_A = 'dd01e56b-ff48-483e-a508-b5f073f31b16';

function encodeVectorA(): Buffer {
  return encodeMessage({
    messageType: MessageType.InputStreamData,
    sequenceNumber: 2n,
    flags: MessageFlags.None,
    messageId: ID_A,
    createdDate: 1503434274948,
    payloadType: PayloadType.Output,
    payload: Buffer.from('payload'),
  });
}

function decodeError(frame: Buffer): MessageDecodeError {
  try {
    decodeMessage(frame);
  } catch (error) {
    expect(error).toBeInstanceOf(MessageDecodeError);
    return error as MessageDecodeError;
  }
  throw new Error('expected decodeMessage to throw');
}

describe('golden vectors', () => {
  it('encodes vector A byte for byte', () => {
    expect(VECTOR_A.length).toBe(127);
    expect(encodeVectorA().toString('hex')).toBe(VECTOR_A.toString('hex'));
  });

  it('decodes vector A', () => {
    const message = decodeMessage(VECTOR_A);
    expect(message.messageType).toBe('input_stream_data');
    expect(message.schemaVersion).toBe(1);
    expect(message.createdDate).toBe(1503434274948);
    expect(message.sequenceNumber).toBe(2n);
    expect(message.flags).toBe(0n);
    expect(message.messageId).toBe(ID_A);
    expect(message.payloadType).toBe(1);
    expect(message.payload.toString()).toBe('payload');
    expect(message.payloadDigest?.toString('hex')).toBe(
      sha256(Buffer.from('payload')).toString('hex'),
    );
  });

  it('encodes vector B byte for byte', () => {
    const payload = encodeAcknowledge({
      AcknowledgedMessageType: 'input_stream_data',
      AcknowledgedMessageId: ID_A,
      AcknowledgedMessageSequenceNumber: 2,
      IsSequentialMessage: true,
    });
    expect(payload.toString()).toBe(VECTOR_B_JSON);
    const frame = encodeMessage({
      messageType: MessageType.Acknowledge,
      sequenceNumber: 0n,
      flags: MessageFlags.SynFin,
      messageId: '11223344-5566-4777-8899-aabbccddeeff',
      createdDate: 1503434274949,
      payloadType: PayloadType.Undefined,
      payload,
    });
    expect(frame.length).toBe(295);
    expect(frame.subarray(0, FRAME_HEADER_BYTES).toString('hex')).toBe(
      VECTOR_B_HEADER.toString('hex'),
    );
    expect(frame.subarray(FRAME_HEADER_BYTES).toString()).toBe(VECTOR_B_JSON);
  });

  it('decodes vector B', () => {
    const frame = Buffer.concat([VECTOR_B_HEADER, Buffer.from(VECTOR_B_JSON)]);
    const message = decodeMessage(frame);
    expect(message.messageType).toBe('acknowledge');
    expect(message.flags).toBe(3n);
    expect(message.messageId).toBe('11223344-5566-4777-8899-aabbccddeeff');
    expect(JSON.parse(message.payload.toString()).AcknowledgedMessageSequenceNumber).toBe(2);
  });

  it('encodes vector C tail and digest', () => {
    const frame = encodeMessage({
      messageType: MessageType.InputStreamData,
      sequenceNumber: 5n,
      payloadType: PayloadType.Flag,
      payload: hex('00 00 00 02'),
    });
    expect(frame.length).toBe(124);
    expect(frame.subarray(0x70, 0x7c).toString('hex')).toBe(VECTOR_C_TAIL.toString('hex'));
    expect(frame.subarray(80, 112).toString('hex')).toBe(VECTOR_C_DIGEST.toString('hex'));
    expect(frame.readBigInt64BE(48)).toBe(5n);
  });
});

describe('MessageId byte order', () => {
  it('swaps the two halves on the wire', () => {
    const target = Buffer.alloc(16);
    encodeMessageId(ID_A, target, 0);
    expect(target.toString('hex')).toBe('a508b5f073f31b16dd01e56bff48483e');
  });

  it('restores the canonical form on decode', () => {
    expect(decodeMessageId(hex('a508b5f073f31b16dd01e56bff48483e'), 0)).toBe(ID_A);
  });

  it('accepts upper-case input and writes lower-case', () => {
    const target = Buffer.alloc(16);
    encodeMessageId(ID_A.toUpperCase(), target, 0);
    expect(decodeMessageId(target, 0)).toBe(ID_A);
  });

  it('rejects a malformed UUID', () => {
    expect(() => encodeMessageId('not-a-uuid', Buffer.alloc(16), 0)).toThrow(/invalid MessageId/);
  });
});

describe('MessageType padding', () => {
  it('pads with spaces', () => {
    const field = VECTOR_A.subarray(4, 36);
    expect(field.subarray(17).every((byte) => byte === 0x20)).toBe(true);
  });

  it('accepts NUL padding', () => {
    const frame = Buffer.from(VECTOR_A);
    frame.fill(0, 4 + 'input_stream_data'.length, 36);
    expect(decodeMessage(frame).messageType).toBe('input_stream_data');
  });

  it('accepts leading NULs and mixed padding', () => {
    const frame = Buffer.from(VECTOR_A);
    frame.fill(0x20, 4, 36);
    frame[4] = 0;
    Buffer.from('acknowledge').copy(frame, 5);
    frame[16] = 0x20;
    frame.fill(0, 30, 36);
    expect(decodeMessage(frame, { verifyDigest: false }).messageType).toBe('acknowledge');
  });

  it('rejects an all-space type', () => {
    const frame = Buffer.from(VECTOR_A);
    frame.fill(0x20, 4, 36);
    expect(decodeError(frame).code).toBe('ERR_EMPTY_MESSAGE_TYPE');
  });

  it('rejects non-printable bytes in the type', () => {
    const frame = Buffer.from(VECTOR_A);
    frame[6] = 0x07;
    expect(decodeError(frame).code).toBe('ERR_BAD_MESSAGE_TYPE');
  });

  it('rejects types longer than 32 bytes on encode', () => {
    expect(() => encodeMessage({ messageType: 'x'.repeat(33) })).toThrow(/invalid MessageType/);
  });
});

describe('validation rules', () => {
  it('rejects a wrong digest on a non-empty payload', () => {
    const frame = Buffer.from(VECTOR_A);
    frame[80] ^= 0xff;
    expect(decodeError(frame).code).toBe('ERR_DIGEST_MISMATCH');
  });

  it('skips the digest check when asked', () => {
    const frame = Buffer.from(VECTOR_A);
    frame[80] ^= 0xff;
    expect(decodeMessage(frame, { verifyDigest: false }).payload.toString()).toBe('payload');
  });

  it('rejects a corrupted payload byte', () => {
    const frame = Buffer.from(VECTOR_A);
    frame[frame.length - 1] ^= 0x01;
    expect(decodeError(frame).code).toBe('ERR_DIGEST_MISMATCH');
  });

  it('accepts an empty payload without checking its digest', () => {
    const frame = encodeMessage({ messageType: MessageType.OutputStreamData, payloadType: 1 });
    frame.fill(0xee, 80, 112);
    expect(frame.length).toBe(120);
    expect(decodeMessage(frame).payload.length).toBe(0);
  });

  it('rejects CreatedDate 0 on stream data', () => {
    const frame = Buffer.from(VECTOR_A);
    frame.fill(0, 40, 48);
    expect(decodeError(frame).code).toBe('ERR_ZERO_CREATED_DATE');
  });

  it('accepts publication messages without checks', () => {
    for (const type of [MessageType.StartPublication, MessageType.PausePublication]) {
      const frame = encodeMessage({ messageType: type, payload: Buffer.from('{}') });
      frame.fill(0, 40, 48);
      frame.fill(0, 80, 112);
      frame.writeUInt32BE(999, 116);
      expect(decodeMessage(frame).messageType).toBe(type);
    }
  });

  it('rejects a HeaderLength other than 116', () => {
    const frame = Buffer.from(VECTOR_A);
    frame.writeUInt32BE(120, 0);
    expect(decodeError(frame).code).toBe('ERR_BAD_HEADER_LENGTH');
  });

  it('rejects trailing bytes after the payload', () => {
    const frame = Buffer.concat([VECTOR_A, Buffer.from('x')]);
    expect(decodeError(frame).code).toBe('ERR_PAYLOAD_LENGTH_MISMATCH');
  });

  it('rejects two frames in one websocket message', () => {
    expect(decodeError(Buffer.concat([VECTOR_A, VECTOR_A])).code).toBe(
      'ERR_PAYLOAD_LENGTH_MISMATCH',
    );
  });

  it('rejects frames above the size limit', () => {
    const frame = Buffer.alloc(MAX_FRAME_BYTES + 1);
    VECTOR_A.copy(frame);
    expect(decodeError(frame).code).toBe('ERR_FRAME_TOO_LARGE');
  });
});

describe('truncated frames', () => {
  it('rejects every prefix shorter than the header', () => {
    for (let length = 0; length < FRAME_HEADER_BYTES; length++) {
      expect(decodeError(VECTOR_A.subarray(0, length)).code).toBe('ERR_FRAME_TOO_SHORT');
    }
  });

  it('rejects every prefix that cuts the payload', () => {
    for (let length = FRAME_HEADER_BYTES; length < VECTOR_A.length; length++) {
      expect(decodeError(VECTOR_A.subarray(0, length)).code).toBe('ERR_PAYLOAD_LENGTH_MISMATCH');
    }
  });
});

const messageArbitrary = fc.record({
  messageType: fc.constantFrom(
    ...Object.values(MessageType),
    'agent_task_complete',
    'x'.repeat(32),
  ),
  sequenceNumber: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  flags: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  messageId: fc.uuid(),
  createdDate: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  payloadType: fc.integer({ min: 0, max: 0xffffffff }),
  payload: fc.uint8Array({ minLength: 1, maxLength: 2048 }).map((bytes) => Buffer.from(bytes)),
});

function decodeOrDecodeError(frame: Buffer): void {
  try {
    decodeMessage(frame);
  } catch (error) {
    if (!(error instanceof MessageDecodeError)) {
      throw error;
    }
  }
}

describe('property-based', () => {
  it('round-trips any message', () => {
    fc.assert(
      fc.property(messageArbitrary, (message) => {
        const decoded = decodeMessage(encodeMessage(message));
        expect(decoded.messageType).toBe(message.messageType);
        expect(decoded.sequenceNumber).toBe(message.sequenceNumber);
        expect(decoded.flags).toBe(message.flags);
        expect(decoded.messageId).toBe(message.messageId.toLowerCase());
        expect(decoded.createdDate).toBe(message.createdDate);
        expect(decoded.payloadType).toBe(message.payloadType);
        expect(decoded.payload.equals(message.payload)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('decodes random bytes or throws MessageDecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        decodeOrDecodeError(Buffer.from(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('decodes mutated frames or throws MessageDecodeError', () => {
    const mutation = fc.record({
      message: messageArbitrary,
      flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
      cut: fc.option(fc.nat()),
      extra: fc.uint8Array({ maxLength: 16 }),
    });
    fc.assert(
      fc.property(mutation, ({ message, flips, cut, extra }) => {
        let frame = encodeMessage(message);
        for (const [position, value] of flips) {
          frame[position % frame.length] = value;
        }
        if (cut !== null) {
          frame = frame.subarray(0, cut % (frame.length + 1));
        }
        decodeOrDecodeError(Buffer.concat([frame, Buffer.from(extra)]));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('decoded buffers', () => {
  it('returns the payload and digest as views', () => {
    const frame = encodeVectorA();
    const message = decodeMessage(frame);
    expect(message.payload.buffer).toBe(frame.buffer);
    expect(message.payload.byteOffset).toBe(frame.byteOffset + FRAME_HEADER_BYTES);
    expect(message.payloadDigest?.buffer).toBe(frame.buffer);
    expect(message.payloadDigest?.byteOffset).toBe(frame.byteOffset + 80);
  });
});
