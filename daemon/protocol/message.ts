// Binary ClientMessage codec of the Session Manager data channel.
//
// All integers are big-endian. The header fields, in order: HeaderLength u32 (always 116,
// the offset of PayloadLength), MessageType (32 bytes, space-padded), SchemaVersion u32,
// CreatedDate u64 (epoch ms), SequenceNumber i64, Flags u64, MessageId (16 bytes with its
// two 8-byte halves swapped), PayloadDigest (SHA-256 of the payload), PayloadType u32 and
// PayloadLength u32. The payload runs from HeaderLength + 4 to the end of the frame,
// because the official plugin and agent slice it that way.

import * as crypto from 'node:crypto';

export const HEADER_LENGTH = 116;
export const FRAME_HEADER_BYTES = HEADER_LENGTH + 4;
const MESSAGE_TYPE_BYTES = 32;

/** Largest frame the decoder accepts: far above the 1 KiB the agent sends per message. */
export const MAX_FRAME_BYTES = 1024 * 1024;

export const MessageType = {
  InputStreamData: 'input_stream_data',
  OutputStreamData: 'output_stream_data',
  Acknowledge: 'acknowledge',
  ChannelClosed: 'channel_closed',
  StartPublication: 'start_publication',
  PausePublication: 'pause_publication',
  AgentSessionState: 'agent_session_state',
} as const;

export const PayloadType = {
  Undefined: 0,
  Output: 1,
  Error: 2,
  Size: 3,
  Parameter: 4,
  HandshakeRequest: 5,
  HandshakeResponse: 6,
  HandshakeComplete: 7,
  EncChallengeRequest: 8,
  EncChallengeResponse: 9,
  Flag: 10,
  StdErr: 11,
  ExitCode: 12,
} as const;

/** Values of a PayloadType 10 (Flag) payload, a u32 big-endian. */
export const PayloadFlag = {
  DisconnectToPort: 1,
  TerminateSession: 2,
  ConnectToPortError: 3,
} as const;

/** Header flag bits: SYN on the agent's first message, SYN|FIN on acks. */
export const MessageFlags = {
  None: 0n,
  Syn: 1n,
  Fin: 2n,
  SynFin: 3n,
} as const;

export interface ClientMessage {
  messageType: string;
  schemaVersion: number;
  /** Unix epoch milliseconds. */
  createdDate: number;
  sequenceNumber: bigint;
  flags: bigint;
  /** Lower-case hyphenated UUID, in its canonical (unswapped) byte order. */
  messageId: string;
  payloadType: number;
  payload: Buffer;
  /** Digest as read from the frame; filled by the decoder only. */
  payloadDigest?: Buffer;
}

export type DecodeErrorCode =
  | 'ERR_FRAME_TOO_SHORT'
  | 'ERR_FRAME_TOO_LARGE'
  | 'ERR_BAD_HEADER_LENGTH'
  | 'ERR_EMPTY_MESSAGE_TYPE'
  | 'ERR_BAD_MESSAGE_TYPE'
  | 'ERR_ZERO_CREATED_DATE'
  | 'ERR_PAYLOAD_LENGTH_MISMATCH'
  | 'ERR_DIGEST_MISMATCH';

/** Error for a frame that cannot be decoded or fails validation; the decoder throws no other. */
export class MessageDecodeError extends Error {
  override readonly name = 'MessageDecodeError';
  constructor(
    readonly code: DecodeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface NewMessage {
  messageType: string;
  sequenceNumber?: bigint | number;
  flags?: bigint;
  messageId?: string;
  createdDate?: number;
  payloadType?: number;
  payload?: Buffer;
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Encode a UUID string into its 16 wire bytes, with the two halves swapped. */
export function encodeMessageId(uuid: string, target: Buffer, offset: number): void {
  const normalized = uuid.toLowerCase();
  if (!UUID_PATTERN.test(normalized)) {
    throw new TypeError(`invalid MessageId "${uuid}": expected a hyphenated UUID`);
  }
  const bytes = Buffer.from(normalized.replaceAll('-', ''), 'hex');
  bytes.copy(target, offset, 8, 16);
  bytes.copy(target, offset + 8, 0, 8);
}

/** Decode the 16 wire bytes of a MessageId back into the canonical UUID string. */
export function decodeMessageId(source: Buffer, offset: number): string {
  // The wire stores bytes 8..15 of the UUID first, so read the second half first.
  const high = source.toString('hex', offset + 8, offset + 16);
  const low = source.toString('hex', offset, offset + 8);
  return (
    `${high.slice(0, 8)}-${high.slice(8, 12)}-${high.slice(12, 16)}-` +
    `${low.slice(0, 4)}-${low.slice(4, 16)}`
  );
}

/**
 * Writes a random version 4 UUID in wire order (halves swapped) at `offset`, without
 * building its string form.
 */
export function writeRandomMessageId(target: Buffer, offset: number): void {
  crypto.randomFillSync(target, offset, 16);
  setUuidV4Bits(target, offset);
}

/**
 * Sets the version 4 and RFC 4122 variant bits of a MessageId in wire order. UUID byte 6
 * sits at wire offset 14 and UUID byte 8 at wire offset 0.
 */
export function setUuidV4Bits(target: Buffer, offset: number): void {
  target[offset + 14] = (target[offset + 14]! & 0x0f) | 0x40;
  target[offset] = (target[offset]! & 0x3f) | 0x80;
}

/**
 * Returns the SHA-256 digest of `payload`. crypto.hash (Node.js 20.12 and later) skips the
 * Hash object that createHash builds, which matters at one digest per 1 KiB message.
 */
export const sha256: (payload: Buffer) => Buffer =
  typeof crypto.hash === 'function'
    ? (payload) => crypto.hash('sha256', payload, 'buffer')
    : (payload) => crypto.createHash('sha256').update(payload).digest();

/** Serialize a message into one websocket binary frame. */
export function encodeMessage(message: NewMessage): Buffer {
  const payload = message.payload ?? Buffer.alloc(0);
  const type = Buffer.from(message.messageType, 'ascii');
  if (type.length === 0 || type.length > MESSAGE_TYPE_BYTES) {
    throw new TypeError(
      `invalid MessageType "${message.messageType}": expected 1 to 32 ASCII characters`,
    );
  }
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt32BE(HEADER_LENGTH, 0);
  frame.fill(0x20, 4, 4 + MESSAGE_TYPE_BYTES);
  type.copy(frame, 4);
  frame.writeUInt32BE(1, 36);
  frame.writeBigUInt64BE(BigInt(message.createdDate ?? Date.now()), 40);
  frame.writeBigInt64BE(BigInt(message.sequenceNumber ?? 0n), 48);
  frame.writeBigUInt64BE(message.flags ?? MessageFlags.None, 56);
  if (message.messageId === undefined) {
    writeRandomMessageId(frame, 64);
  } else {
    encodeMessageId(message.messageId, frame, 64);
  }
  sha256(payload).copy(frame, 80);
  frame.writeUInt32BE(message.payloadType ?? PayloadType.Undefined, 112);
  frame.writeUInt32BE(payload.length, 116);
  payload.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

export interface DecodeOptions {
  /** Check the SHA-256 digest of a non-empty payload, as the official client does. */
  verifyDigest?: boolean;
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** The space-padded MessageType field of each known type, as peers write it. */
const PADDED_MESSAGE_TYPES = new Map<string, string>(
  Object.values(MessageType).map((type) => [type.padEnd(MESSAGE_TYPE_BYTES, ' '), type]),
);

/**
 * Reads the MessageType field. A known type padded with spaces is found by one lookup;
 * anything else is trimmed of NUL and space padding and must be printable ASCII.
 */
function readMessageType(frame: Buffer): string {
  const field = frame.toString('latin1', 4, 4 + MESSAGE_TYPE_BYTES);
  const known = PADDED_MESSAGE_TYPES.get(field);
  if (known !== undefined) {
    return known;
  }
  const messageType = field.replace(/^\0+|\0+$/g, '').trim();
  if (messageType.length === 0) {
    throw new MessageDecodeError('ERR_EMPTY_MESSAGE_TYPE', 'MessageType is empty');
  }
  if (!PRINTABLE_ASCII.test(messageType)) {
    throw new MessageDecodeError(
      'ERR_BAD_MESSAGE_TYPE',
      `MessageType ${JSON.stringify(messageType)} contains non-printable bytes`,
    );
  }
  return messageType;
}

/**
 * Decode one websocket frame into a message. Throws only MessageDecodeError, whatever
 * the bytes: the data channel turns that error into a dropped frame, never a crash.
 * `payload` and `payloadDigest` are views into `frame`, not copies, so a caller that
 * keeps them must not modify the frame, and may copy them to let a large frame go.
 */
export function decodeMessage(frame: Buffer, options: DecodeOptions = {}): ClientMessage {
  if (frame.length < FRAME_HEADER_BYTES) {
    throw new MessageDecodeError(
      'ERR_FRAME_TOO_SHORT',
      `frame of ${frame.length} bytes is shorter than the ${FRAME_HEADER_BYTES}-byte header`,
    );
  }
  if (frame.length > MAX_FRAME_BYTES) {
    throw new MessageDecodeError(
      'ERR_FRAME_TOO_LARGE',
      `frame of ${frame.length} bytes exceeds the ${MAX_FRAME_BYTES}-byte limit`,
    );
  }
  const headerLength = frame.readUInt32BE(0);
  if (headerLength !== HEADER_LENGTH) {
    throw new MessageDecodeError(
      'ERR_BAD_HEADER_LENGTH',
      `HeaderLength is ${headerLength}, expected ${HEADER_LENGTH}`,
    );
  }
  const messageType = readMessageType(frame);
  const publication =
    messageType === MessageType.StartPublication || messageType === MessageType.PausePublication;
  const createdDate = Number(frame.readBigUInt64BE(40));
  if (createdDate === 0 && !publication) {
    throw new MessageDecodeError('ERR_ZERO_CREATED_DATE', `${messageType} has CreatedDate 0`);
  }
  const payload = frame.subarray(FRAME_HEADER_BYTES);
  const payloadLength = frame.readUInt32BE(116);
  const payloadDigest = frame.subarray(80, 112);
  if (!publication && payloadLength !== 0) {
    if (payloadLength !== payload.length) {
      throw new MessageDecodeError(
        'ERR_PAYLOAD_LENGTH_MISMATCH',
        `PayloadLength is ${payloadLength} but the frame carries ${payload.length} payload bytes`,
      );
    }
    if (options.verifyDigest !== false && !sha256(payload).equals(payloadDigest)) {
      throw new MessageDecodeError(
        'ERR_DIGEST_MISMATCH',
        `payload digest of ${messageType} does not match its SHA-256`,
      );
    }
  }
  return {
    messageType,
    schemaVersion: frame.readUInt32BE(36),
    createdDate,
    sequenceNumber: frame.readBigInt64BE(48),
    flags: frame.readBigUInt64BE(56),
    messageId: decodeMessageId(frame, 64),
    payloadDigest,
    payloadType: frame.readUInt32BE(112),
    payload,
  };
}
