import { describe, expect, it } from 'vitest';
import {
  formatBytes,
  formatDuration,
  formatRate,
  formatRtt,
  formatTime,
} from '../../ui/src/lib/format.js';

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [10 * 1024, '10 KiB'],
    [5 * 1024 ** 3, '5.0 GiB'],
    [3 * 1024 ** 5, '3072 TiB'],
  ])('formats %d as %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  it('shows a dash for negative or non-finite input', () => {
    expect(formatBytes(-1)).toBe('–');
    expect(formatBytes(Number.NaN)).toBe('–');
  });
});

describe('formatRate', () => {
  it('rounds to whole bytes and appends /s', () => {
    expect(formatRate(2048)).toBe('2.0 KiB/s');
    expect(formatRate(10.4)).toBe('10 B/s');
  });
});

describe('formatDuration', () => {
  it.each([
    [999, '0 s'],
    [59_000, '59 s'],
    [61_000, '1 min 1 s'],
    [2 * 3_600_000 + 5 * 60_000, '2 h 5 min'],
    [26 * 3_600_000, '1 d 2 h'],
  ])('formats %d ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('shows a dash for negative input', () => {
    expect(formatDuration(-5)).toBe('–');
  });
});

describe('formatRtt', () => {
  it('explains a missing estimate', () => {
    expect(formatRtt(null)).toBe('no estimate yet');
  });

  it('keeps one decimal below 10 ms', () => {
    expect(formatRtt(3.14)).toBe('3.1 ms');
    expect(formatRtt(42.6)).toBe('43 ms');
  });
});

describe('formatTime', () => {
  it('returns unparsable input unchanged', () => {
    expect(formatTime('not a time')).toBe('not a time');
  });

  it('formats a valid time', () => {
    expect(formatTime('2024-01-02T03:04:05Z')).not.toBe('2024-01-02T03:04:05Z');
  });
});
