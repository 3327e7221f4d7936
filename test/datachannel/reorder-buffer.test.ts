import { describe, expect, it } from 'vitest';
import { ReorderBuffer } from '../../daemon/datachannel/reorder-buffer.js';
import type { ClientMessage } from '../../daemon/protocol/message.js';

function message(sequenceNumber: number, bytes = 4): ClientMessage {
  return {
    messageType: 'output_stream_data',
    schemaVersion: 1,
    createdDate: 1,
    sequenceNumber: BigInt(sequenceNumber),
    flags: 0n,
    messageId: '00000000-0000-4000-8000-000000000000',
    payloadType: 1,
    payload: Buffer.alloc(bytes),
  };
}

describe('ReorderBuffer', () => {
  it('classifies by the expected sequence number', () => {
    const buffer = new ReorderBuffer(10, 1_000);
    buffer.advance();
    expect(buffer.classify(0)).toBe('duplicate');
    expect(buffer.classify(1)).toBe('in-order');
    expect(buffer.classify(2)).toBe('ahead');
  });

  it('returns stored messages in order', () => {
    const buffer = new ReorderBuffer(10, 1_000);
    buffer.store(message(2), 2);
    buffer.store(message(1), 1);
    buffer.advance();
    expect(buffer.takeNext()?.sequenceNumber).toBe(1n);
    buffer.advance();
    expect(buffer.takeNext()?.sequenceNumber).toBe(2n);
    buffer.advance();
    expect(buffer.takeNext()).toBeUndefined();
    expect(buffer.storedCount).toBe(0);
  });

  it('rejects beyond the message limit', () => {
    const buffer = new ReorderBuffer(2, 1_000);
    expect(buffer.store(message(1), 1)).toBe(true);
    expect(buffer.store(message(2), 2)).toBe(true);
    expect(buffer.store(message(3), 3)).toBe(false);
  });

  it('rejects beyond the byte limit', () => {
    const buffer = new ReorderBuffer(10, 10);
    expect(buffer.store(message(1, 8), 1)).toBe(true);
    expect(buffer.store(message(2, 8), 2)).toBe(false);
    expect(buffer.storedBytes).toBe(8);
  });

  it('replaces a repeat even when full', () => {
    const buffer = new ReorderBuffer(1, 1_000);
    buffer.store(message(1, 4), 1);
    expect(buffer.store(message(1, 6), 1)).toBe(true);
    expect(buffer.storedBytes).toBe(6);
  });
});
