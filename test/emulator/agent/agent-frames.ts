// Hot-path codec for the emulated agent. It writes the same bytes as encodeMessage in
// daemon/protocol/message.ts but skips the UUID string round trip and BigInt conversions,
// and it reads acks without decoding the whole header. Without pacing the agent handles
// tens of thousands of 1 KiB messages and acks per second, so these costs add up.

import { hash, randomFillSync } from 'node:crypto';
import {
  FRAME_HEADER_BYTES,
  HEADER_LENGTH,
  MessageType,
  encodeMessage,
  type NewMessage,
} from '../../../daemon/protocol/message.js';

const MESSAGE_TYPE_OFFSET = 4;
const MESSAGE_TYPE_BYTES = 32;
const SCHEMA_VERSION_OFFSET = 36;
const CREATED_DATE_OFFSET = 40;
const SEQUENCE_OFFSET = 48;
const FLAGS_OFFSET = 56;
const MESSAGE_ID_OFFSET = 64;
const DIGEST_OFFSET = 80;
const PAYLOAD_TYPE_OFFSET = 112;
const PAYLOAD_LENGTH_OFFSET = 116;
const UUID_BYTES = 16;
/** Random bytes drawn at once for message ids, so only one id in 4096 pays for a refill. */
const RANDOM_POOL_BYTES = UUID_BYTES * 4096;
/** 2^32, to split sequence numbers and dates into the two u32 halves of a u64 field. */
const HIGH_WORD = 0x1_0000_0000;

/** The 32-byte MessageType field of each known type, space-padded as encodeMessage writes it. */
const PADDED_TYPES = new Map<string, Buffer>(
  Object.values(MessageType).map((type) => {
    const field = Buffer.alloc(MESSAGE_TYPE_BYTES, 0x20);
    field.write(type, 'ascii');
    return [type, field];
  }),
);

const randomPool = Buffer.allocUnsafe(RANDOM_POOL_BYTES);
let randomOffset = RANDOM_POOL_BYTES;

/**
 * Encodes one agent message. Messages of a type outside MessageType, or with a given
 * messageId or createdDate, go through encodeMessage instead of the fast path.
 */
export function encodeAgentMessage(message: NewMessage): Buffer {
  const typeField = PADDED_TYPES.get(message.messageType);
  if (
    typeField === undefined ||
    message.messageId !== undefined ||
    message.createdDate !== undefined
  ) {
    return encodeMessage(message);
  }
  const payload = message.payload ?? Buffer.alloc(0);
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt32BE(HEADER_LENGTH, 0);
  typeField.copy(frame, MESSAGE_TYPE_OFFSET);
  frame.writeUInt32BE(1, SCHEMA_VERSION_OFFSET);
  writeUint64(frame, CREATED_DATE_OFFSET, Date.now());
  writeUint64(frame, SEQUENCE_OFFSET, Number(message.sequenceNumber ?? 0));
  writeUint64(frame, FLAGS_OFFSET, Number(message.flags ?? 0n));
  writeRandomMessageId(frame, MESSAGE_ID_OFFSET);
  hash('sha256', payload, 'buffer').copy(frame, DIGEST_OFFSET);
  frame.writeUInt32BE(message.payloadType ?? 0, PAYLOAD_TYPE_OFFSET);
  frame.writeUInt32BE(payload.length, PAYLOAD_LENGTH_OFFSET);
  payload.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

/**
 * Returns the MessageType of a frame without decoding it, or '' for a frame too short to
 * have one. Space-padded known types are matched byte for byte. Anything else is read as
 * text with NUL and space padding removed, as decodeMessage does.
 */
export function peekMessageType(frame: Buffer): string {
  if (frame.length < MESSAGE_TYPE_OFFSET + MESSAGE_TYPE_BYTES) {
    return '';
  }
  for (const [type, field] of PADDED_TYPES) {
    if (frame.compare(field, 0, MESSAGE_TYPE_BYTES, MESSAGE_TYPE_OFFSET, 36) === 0) {
      return type;
    }
  }
  return frame
    .toString('latin1', MESSAGE_TYPE_OFFSET, MESSAGE_TYPE_OFFSET + MESSAGE_TYPE_BYTES)
    .replace(/^\0+|\0+$/g, '')
    .trim();
}

/** An ack frame that is too short, has an invalid header length or an unreadable payload. */
export class AckDecodeError extends Error {
  override readonly name = 'AckDecodeError';
  readonly code = 'ERR_INVALID_ACK';
}

/**
 * Returns AcknowledgedMessageSequenceNumber of an acknowledge frame. The agent checks
 * neither the digest nor the message id of an ack, so only the header length, the
 * payload length and the JSON payload are read.
 */
export function readAckSequence(frame: Buffer): number {
  if (frame.length < FRAME_HEADER_BYTES) {
    throw new AckDecodeError(
      `acknowledge frame of ${frame.length} bytes is shorter than the ${FRAME_HEADER_BYTES}-byte header`,
    );
  }
  const headerLength = frame.readUInt32BE(0);
  if (headerLength !== HEADER_LENGTH) {
    throw new AckDecodeError(
      `acknowledge HeaderLength is ${headerLength}, expected ${HEADER_LENGTH}`,
    );
  }
  const payloadLength = frame.readUInt32BE(PAYLOAD_LENGTH_OFFSET);
  if (payloadLength !== frame.length - FRAME_HEADER_BYTES) {
    throw new AckDecodeError(
      `acknowledge PayloadLength is ${payloadLength} but the frame carries ${frame.length - FRAME_HEADER_BYTES} payload bytes`,
    );
  }
  let ack: { AcknowledgedMessageSequenceNumber?: unknown };
  try {
    ack = JSON.parse(frame.toString('utf8', FRAME_HEADER_BYTES)) as typeof ack;
  } catch (error) {
    throw new AckDecodeError(`acknowledge payload is not valid JSON: ${(error as Error).message}`);
  }
  return Number(ack?.AcknowledgedMessageSequenceNumber);
}

/** Writes a non-negative integer below 2^53 as a big-endian u64. */
function writeUint64(frame: Buffer, offset: number, value: number): void {
  frame.writeUInt32BE(Math.floor(value / HIGH_WORD), offset);
  frame.writeUInt32BE(value % HIGH_WORD, offset + 4);
}

/**
 * Writes a random version 4 UUID in wire order: the canonical bytes 8-15 come first,
 * then bytes 0-7, so the version nibble (canonical byte 6) lands at offset + 14 and the
 * variant bits (canonical byte 8) at offset.
 */
function writeRandomMessageId(frame: Buffer, offset: number): void {
  if (randomOffset + UUID_BYTES > RANDOM_POOL_BYTES) {
    randomFillSync(randomPool);
    randomOffset = 0;
  }
  randomPool.copy(frame, offset, randomOffset, randomOffset + UUID_BYTES);
  randomOffset += UUID_BYTES;
  frame[offset + 14] = (frame[offset + 14]! & 0x0f) | 0x40;
  frame[offset] = (frame[offset]! & 0x3f) | 0x80;
}
