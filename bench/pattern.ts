// Deterministic payload for the bench target server and the clients that check it.
//
// The stream is a pseudo-random block repeated end to end. Its period is a prime number
// of bytes, so no data-channel message size (1 KiB), smux frame size (32 KiB) or socket
// chunk size divides it, and a duplicated or dropped chunk shifts the content and changes
// the SHA-256. Generating each stream afresh would cost more CPU than the tunnels under
// test on a 2-core machine.

import { createHash } from 'node:crypto';

/** Period of the pattern in bytes: the largest prime below 1 MiB. */
export const PATTERN_PERIOD_BYTES = 1_048_573;

let cachedBlock: Buffer | undefined;

/** Returns the pattern block, twice over so any window of one period is one subarray. */
function patternBlock(): Buffer {
  if (cachedBlock) {
    return cachedBlock;
  }
  const block = Buffer.allocUnsafe(PATTERN_PERIOD_BYTES * 2);
  // xorshift32 with a fixed seed: any change here changes every expected digest.
  let state = 0x9e3779b9;
  for (let i = 0; i < PATTERN_PERIOD_BYTES; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    block[i] = state & 0xff;
  }
  block.copy(block, PATTERN_PERIOD_BYTES, 0, PATTERN_PERIOD_BYTES);
  cachedBlock = block;
  return block;
}

/**
 * Returns the bytes of stream `seed` from `offset`, at most `maxBytes` and at most one
 * period. The result is a view of a shared buffer: copy it before changing it.
 */
export function patternChunk(seed: number, offset: number, maxBytes: number): Buffer {
  const start = (seed + offset) % PATTERN_PERIOD_BYTES;
  const length = Math.min(maxBytes, PATTERN_PERIOD_BYTES);
  return patternBlock().subarray(start, start + length);
}

const digestCache = new Map<string, string>();

/** Returns the hex SHA-256 of the first `length` bytes of stream `seed`. */
export function patternDigest(seed: number, length: number): string {
  const key = `${seed}:${length}`;
  const cached = digestCache.get(key);
  if (cached !== undefined) {
    return cached;
  }
  const hash = createHash('sha256');
  let offset = 0;
  while (offset < length) {
    const chunk = patternChunk(seed, offset, length - offset);
    hash.update(chunk);
    offset += chunk.length;
  }
  const digest = hash.digest('hex');
  digestCache.set(key, digest);
  return digest;
}
