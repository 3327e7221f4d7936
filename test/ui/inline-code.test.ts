import { describe, expect, it } from 'vitest';
import { splitInlineCode } from '../../ui/src/lib/inline-code.js';

describe('splitInlineCode', () => {
  it('marks commands between backticks', () => {
    expect(splitInlineCode('Start it with `bastionless start`, then reload.')).toEqual([
      { text: 'Start it with ', code: false },
      { text: 'bastionless start', code: true },
      { text: ', then reload.', code: false },
    ]);
  });

  it('handles code at both ends', () => {
    expect(splitInlineCode('`a` and `b`')).toEqual([
      { text: 'a', code: true },
      { text: ' and ', code: false },
      { text: 'b', code: true },
    ]);
  });

  it('keeps an unpaired backtick as text', () => {
    expect(splitInlineCode('use ` carefully')).toEqual([{ text: 'use ` carefully', code: false }]);
  });

  it('returns plain text unchanged', () => {
    expect(splitInlineCode('no code here')).toEqual([{ text: 'no code here', code: false }]);
    expect(splitInlineCode('')).toEqual([]);
  });
});
