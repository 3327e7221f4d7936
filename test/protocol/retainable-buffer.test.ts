import { describe, expect, it } from 'vitest';

import { retainableBuffer } from '../../daemon/protocol/retainable-buffer.js';

describe('retainableBuffer', () => {
  it('copies a small view of a large buffer', () => {
    const large = Buffer.alloc(64 * 1024, 7);
    const view = large.subarray(1000, 2024);
    const retained = retainableBuffer(view);
    expect(retained.equals(view)).toBe(true);
    expect(retained.buffer).not.toBe(large.buffer);
    large[1000] = 1;
    expect(retained[0]).toBe(7);
  });

  it('returns a buffer that owns its memory', () => {
    const whole = Buffer.from(new ArrayBuffer(4096));
    expect(retainableBuffer(whole)).toBe(whole);
  });

  it('returns a view covering most of its memory', () => {
    const whole = Buffer.from(new ArrayBuffer(4096));
    const view = whole.subarray(0, 3000);
    expect(retainableBuffer(view)).toBe(view);
  });
});
