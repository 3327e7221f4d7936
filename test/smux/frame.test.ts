import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';

import {
  encodeSmuxFrame,
  SmuxCommand,
  SmuxFrameDecoder,
  type SmuxFrame,
} from '../../daemon/smux/frame.js';

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function feed(decoder: SmuxFrameDecoder, bytes: Buffer, chunkBytes: number): SmuxFrame[][] {
  const results: SmuxFrame[][] = [];
  for (let offset = 0; offset < bytes.length; offset += chunkBytes) {
    results.push(decoder.push(bytes.subarray(offset, offset + chunkBytes)));
  }
  return results;
}

describe('SmuxFrameDecoder', () => {
  it('joins a 32 KiB frame sent in 1 KiB chunks', () => {
    const data = randomBytes(32 * 1024);
    const decoder = new SmuxFrameDecoder();
    const results = feed(decoder, encodeSmuxFrame(SmuxCommand.Psh, 3, data), 1024);
    const last = results.pop()!;
    expect(results.every((frames) => frames.length === 0)).toBe(true);
    expect(last).toHaveLength(1);
    expect(last[0]!.streamId).toBe(3);
    expect(sha256(last[0]!.data)).toBe(sha256(data));
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('counts pending bytes before a frame completes', () => {
    const decoder = new SmuxFrameDecoder();
    const frame = encodeSmuxFrame(SmuxCommand.Psh, 1, Buffer.alloc(100, 1));
    expect(decoder.push(frame.subarray(0, 50))).toEqual([]);
    expect(decoder.bufferedBytes).toBe(50);
  });

  it('decodes a header split across chunks', () => {
    const data = Buffer.from('hello');
    const decoder = new SmuxFrameDecoder();
    const results = feed(decoder, encodeSmuxFrame(SmuxCommand.Psh, 5, data), 3);
    const frames = results.flat();
    expect(frames).toHaveLength(1);
    expect(frames[0]!.data.toString()).toBe('hello');
  });

  it('decodes many frames and a partial one per chunk', () => {
    const payloads = Array.from({ length: 40 }, (_, i) => randomBytes(1 + i * 97));
    const stream = Buffer.concat(payloads.map((p, i) => encodeSmuxFrame(SmuxCommand.Psh, i, p)));
    const decoder = new SmuxFrameDecoder();
    const frames = feed(decoder, stream, 1000).flat();
    expect(frames.map((frame) => frame.streamId)).toEqual(payloads.map((_, i) => i));
    expect(frames.map((frame) => sha256(frame.data))).toEqual(payloads.map((p) => sha256(p)));
  });

  it('rejects a bad version after a partial frame', () => {
    const decoder = new SmuxFrameDecoder();
    const good = encodeSmuxFrame(SmuxCommand.Psh, 1, Buffer.alloc(20));
    const bad = Buffer.from(encodeSmuxFrame(SmuxCommand.Nop, 1));
    bad[0] = 9;
    expect(decoder.push(good.subarray(0, 10))).toEqual([]);
    expect(() => decoder.push(Buffer.concat([good.subarray(10), bad]))).toThrow(/version 9/);
  });
});
