// validateProfile names a left-out field as missing and quotes a value only when one was given.

import { describe, expect, it } from 'vitest';
import { validateProfile } from '../../daemon/config/schema.js';

function messagesFor(raw: Record<string, unknown>): string[] {
  return validateProfile(raw, 'profiles[0].').issues.map((issue) => issue.message);
}

describe('validateProfile missing fields', () => {
  it('names every missing field', () => {
    const messages = messagesFor({ target: 'i-0123456789abcdef0' });
    expect(messages).toEqual([
      'profile: name is missing; use 1-63 letters, digits, ".", "_" or "-", all ASCII and starting with a letter or digit',
      'profile: region is missing; use e.g. eu-west-1',
      'profile: remotePort is missing; use a port number 1-65535',
      'profile: localPort is missing; use a port number 1-65535',
    ]);
  });

  it('keeps field paths', () => {
    const issues = validateProfile(
      { name: 'web', target: 'i-0123456789abcdef0' },
      'profiles[3].',
    ).issues;
    expect(issues.map((issue) => issue.path)).toEqual([
      'profiles[3].region',
      'profiles[3].remotePort',
      'profiles[3].localPort',
    ]);
  });

  it('quotes given values', () => {
    const messages = messagesFor({
      name: 7,
      region: '',
      target: 'i-0123456789abcdef0',
      remotePort: null,
      localPort: 1.5,
    });
    expect(messages).toEqual([
      'profile: name 7 is invalid; use 1-63 letters, digits, ".", "_" or "-", all ASCII and starting with a letter or digit',
      'profile: region "" is invalid; use e.g. eu-west-1',
      'profile: remotePort null is not an integer; use a port number 1-65535',
      'profile: localPort 1.5 is not an integer; use a port number 1-65535',
    ]);
  });
});
