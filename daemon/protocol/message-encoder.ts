// Fast encoders for the two frames the data channel sends most: one acknowledge per
// received message and one input_stream_data per sent payload. Each copies a prebuilt
// header and writes only CreatedDate, SequenceNumber, MessageId, PayloadDigest,
// PayloadType, PayloadLength and the payload. The frames are byte-identical to
// encodeMessage's for the same field values.

import { randomFillSync } from 'node:crypto';

import { encodeAcknowledge } from './payloads.js';
import {
  encodeMessage,
  FRAME_HEADER_BYTES,
  MessageFlags,
  MessageType,
  PayloadType,
  setUuidV4Bits,
  sha256,
} from './message.js';

const MESSAGE_ID_BYTES = 16;
/** MessageIds drawn from one randomFillSync call. */
const MESSAGE_IDS_PER_REFILL = 256;
const TWO_POW_32 = 2 ** 32;

/** The received message an acknowledge names. */
export interface AcknowledgedMessage {
  messageType: string;
  /** Canonical lower-case UUID, as decodeMessage returns it. */
  messageId: string;
  sequenceNumber: number;
}

/** MessageTypes that JSON carries unescaped: Go's encoder would escape nothing in them. */
const PLAIN_JSON_TEXT = /^[0-9A-Za-z_-]*$/;
const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

function headerTemplate(messageType: string, flags: bigint): Buffer {
  return encodeMessage({ messageType, flags, createdDate: 1, messageId: ZERO_UUID }).subarray(
    0,
    FRAME_HEADER_BYTES,
  );
}

/**
 * Encodes acknowledge and input_stream_data frames from header templates, with
 * MessageIds cut from a pool of random bytes. Each data channel owns one encoder.
 */
export class MessageEncoder {
  private readonly ackHeader = headerTemplate(MessageType.Acknowledge, MessageFlags.SynFin);
  private readonly streamDataHeader = headerTemplate(
    MessageType.InputStreamData,
    MessageFlags.None,
  );
  private readonly idPool = Buffer.allocUnsafe(MESSAGE_ID_BYTES * MESSAGE_IDS_PER_REFILL);
  private idOffset = this.idPool.length;

  /**
   * Encodes the acknowledge of one received message: SequenceNumber 0, flags SYN|FIN,
   * PayloadType 0 and the JSON payload that encodeAcknowledge writes.
   */
  encodeAcknowledge(acked: AcknowledgedMessage, createdDate = Date.now()): Buffer {
    const json = this.acknowledgeJson(acked);
    const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + json.length);
    this.ackHeader.copy(frame, 0);
    frame.write(json, FRAME_HEADER_BYTES, 'latin1');
    this.finish(frame, createdDate, 0, PayloadType.Undefined);
    return frame;
  }

  /** Encodes one input_stream_data message with flags 0. */
  encodeStreamData(
    sequenceNumber: number,
    payloadType: number,
    payload: Buffer,
    createdDate = Date.now(),
  ): Buffer {
    const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
    this.streamDataHeader.copy(frame, 0);
    payload.copy(frame, FRAME_HEADER_BYTES);
    this.finish(frame, createdDate, sequenceNumber, payloadType);
    return frame;
  }

  /**
   * Returns the acknowledge JSON as Go's encoder writes it. Names that would need
   * escaping go through the general encoder, so the output matches it in every case.
   */
  private acknowledgeJson(acked: AcknowledgedMessage): string {
    if (!PLAIN_JSON_TEXT.test(acked.messageType) || !CANONICAL_UUID.test(acked.messageId)) {
      return encodeAcknowledge({
        AcknowledgedMessageType: acked.messageType,
        AcknowledgedMessageId: acked.messageId,
        AcknowledgedMessageSequenceNumber: acked.sequenceNumber,
        IsSequentialMessage: true,
      }).toString('latin1');
    }
    return (
      `{"AcknowledgedMessageType":"${acked.messageType}",` +
      `"AcknowledgedMessageId":"${acked.messageId}",` +
      `"AcknowledgedMessageSequenceNumber":${acked.sequenceNumber},` +
      '"IsSequentialMessage":true}'
    );
  }

  /** Writes the per-frame header fields; the payload must already be in place. */
  private finish(
    frame: Buffer,
    createdDate: number,
    sequenceNumber: number,
    payloadType: number,
  ): void {
    // Both values are non-negative safe integers, so two u32 halves avoid a BigInt each.
    frame.writeUInt32BE(Math.floor(createdDate / TWO_POW_32), 40);
    frame.writeUInt32BE(createdDate >>> 0, 44);
    frame.writeUInt32BE(Math.floor(sequenceNumber / TWO_POW_32), 48);
    frame.writeUInt32BE(sequenceNumber >>> 0, 52);
    this.writeMessageId(frame, 64);
    sha256(frame.subarray(FRAME_HEADER_BYTES)).copy(frame, 80);
    frame.writeUInt32BE(payloadType, 112);
    frame.writeUInt32BE(frame.length - FRAME_HEADER_BYTES, 116);
  }

  private writeMessageId(frame: Buffer, offset: number): void {
    if (this.idOffset === this.idPool.length) {
      randomFillSync(this.idPool);
      this.idOffset = 0;
    }
    this.idPool.copy(frame, offset, this.idOffset, this.idOffset + MESSAGE_ID_BYTES);
    this.idOffset += MESSAGE_ID_BYTES;
    setUuidV4Bits(frame, offset);
  }
}
