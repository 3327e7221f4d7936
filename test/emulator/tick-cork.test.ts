import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { TickCork } from './tick-cork.js';

/** Creates a writable that records how many chunks each underlying write carried. */
function recordingWritable(batches: number[]): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      batches.push(1);
      callback();
    },
    writev(chunks, callback) {
      batches.push(chunks.length);
      callback();
    },
  });
}

/** Creates a recording writable and a TickCork on it that already holds for this tick. */
function heldCork(): { batches: number[]; target: Writable; cork: TickCork } {
  const batches: number[] = [];
  const target = recordingWritable(batches);
  const cork = new TickCork(target);
  cork.hold();
  return { batches, target, cork };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('TickCork', () => {
  it('batches writes of one tick', async () => {
    const batches: number[] = [];
    const target = recordingWritable(batches);
    const cork = new TickCork(target);
    for (let i = 0; i < 5; i++) {
      cork.hold();
      // Like ws: an inner cork and uncork around each frame.
      target.cork();
      target.write(Buffer.from([i]));
      target.uncork();
    }
    expect(batches).toEqual([]);
    await nextTurn();
    expect(batches).toEqual([5]);
    expect(target.writableCorked).toBe(0);
  });

  it('corks again in the next tick', async () => {
    const { batches, target, cork } = heldCork();
    target.write('a');
    target.write('b');
    await nextTurn();
    cork.hold();
    target.write('c');
    target.write('d');
    target.write('e');
    await nextTurn();
    expect(batches).toEqual([2, 3]);
  });

  it('flushes before the tick ends', async () => {
    const { batches, target, cork } = heldCork();
    target.write('a');
    target.write('b');
    cork.flush();
    expect(batches).toEqual([2]);
    expect(target.writableCorked).toBe(0);
    await nextTurn();
    expect(target.writableCorked).toBe(0);
    expect(batches).toEqual([2]);
  });
});
