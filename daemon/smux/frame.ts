// smux protocol version 1 frames, as github.com/xtaci/smux writes them.
//
// Header: version u8, cmd u8, length u16 little-endian, stream id u32 little-endian,
// then `length` data bytes for PSH. Version 1 has no window updates (UPD is v2 only).

export const SMUX_VERSION = 1;
export const SMUX_HEADER_BYTES = 8;
/** smux's default MaxFrameSize: larger writes are split into several PSH frames. */
export const SMUX_MAX_FRAME_DATA = 32768;

const UPD_DATA_BYTES = 8;

export const SmuxCommand = {
  Syn: 0,
  Fin: 1,
  Psh: 2,
  Nop: 3,
  Upd: 4,
} as const;

export type SmuxCommandValue = (typeof SmuxCommand)[keyof typeof SmuxCommand];

export interface SmuxFrame {
  cmd: SmuxCommandValue;
  streamId: number;
  data: Buffer;
}

export class SmuxProtocolError extends Error {
  override readonly name = 'SmuxProtocolError';
  constructor(
    readonly code: 'ERR_SMUX_VERSION' | 'ERR_SMUX_COMMAND',
    message: string,
  ) {
    super(message);
  }
}

export function encodeSmuxFrame(
  cmd: SmuxCommandValue,
  streamId: number,
  data: Buffer = Buffer.alloc(0),
): Buffer {
  if (data.length > 0xffff) {
    throw new RangeError(`smux frame data of ${data.length} bytes exceeds 65535`);
  }
  const frame = Buffer.allocUnsafe(SMUX_HEADER_BYTES + data.length);
  frame.writeUInt8(SMUX_VERSION, 0);
  frame.writeUInt8(cmd, 1);
  frame.writeUInt16LE(data.length, 2);
  frame.writeUInt32LE(streamId >>> 0, 4);
  data.copy(frame, SMUX_HEADER_BYTES);
  return frame;
}

/**
 * Incremental decoder for the smux byte stream. Chunk boundaries are arbitrary: a
 * header may be split across two data-channel messages, and one chunk may hold many
 * frames. A bad version or unknown command is a protocol error that ends the session,
 * as it does in smux itself.
 */
export class SmuxFrameDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Pending bytes that complete the next header, or the next frame once its header is known. */
  private neededBytes = SMUX_HEADER_BYTES;

  /** Feed bytes and return every complete frame they finish. */
  push(chunk: Buffer): SmuxFrame[] {
    if (chunk.length > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
    }
    const frames: SmuxFrame[] = [];
    // Chunks are joined only once they complete a frame, so a 32 KiB frame that arrives
    // in 1 KiB data-channel messages is copied once, not once per message.
    if (this.pendingBytes < this.neededBytes) {
      return frames;
    }
    this.neededBytes = SMUX_HEADER_BYTES;
    let buffer = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    let offset = 0;
    while (buffer.length - offset >= SMUX_HEADER_BYTES) {
      const version = buffer.readUInt8(offset);
      const cmd = buffer.readUInt8(offset + 1);
      if (version !== SMUX_VERSION) {
        throw new SmuxProtocolError(
          'ERR_SMUX_VERSION',
          `smux frame has version ${version}, expected ${SMUX_VERSION}`,
        );
      }
      if (cmd > SmuxCommand.Upd) {
        throw new SmuxProtocolError('ERR_SMUX_COMMAND', `smux frame has unknown command ${cmd}`);
      }
      const length = buffer.readUInt16LE(offset + 2);
      const streamId = buffer.readUInt32LE(offset + 4);
      // UPD carries 8 bytes whatever its length field contains; smux reads and ignores them.
      let dataLength = 0;
      if (cmd === SmuxCommand.Psh) {
        dataLength = length;
      } else if (cmd === SmuxCommand.Upd) {
        dataLength = UPD_DATA_BYTES;
      }
      if (buffer.length - offset < SMUX_HEADER_BYTES + dataLength) {
        this.neededBytes = SMUX_HEADER_BYTES + dataLength;
        break;
      }
      const start = offset + SMUX_HEADER_BYTES;
      frames.push({
        cmd: cmd as SmuxCommandValue,
        streamId,
        data: buffer.subarray(start, start + dataLength),
      });
      offset = start + dataLength;
    }
    buffer = buffer.subarray(offset);
    this.pending = buffer.length > 0 ? [buffer] : [];
    this.pendingBytes = buffer.length;
    return frames;
  }

  get bufferedBytes(): number {
    return this.pendingBytes;
  }
}
