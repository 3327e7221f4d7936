import { describe, expect, it } from 'vitest';

import {
  forwardingModeFor,
  smuxKeepAliveFor,
  terminateFlagSupported,
} from '../../daemon/portforward/mode.js';

describe('forwarding mode rules', () => {
  const cases: Array<[string, 'mux' | 'basic', boolean]> = [
    ['3.3.987.0', 'mux', false],
    ['3.1.1511.1', 'mux', false],
    ['3.1.1511.0', 'mux', true],
    ['3.0.196.1', 'mux', true],
    ['3.0.196.0', 'basic', true],
    ['2.3.722.0', 'basic', true],
    // The plugin's comparison fails on a different component count, so these stay basic.
    ['3.3', 'basic', true],
    ['', 'basic', true],
  ];
  for (const [version, mode, keepAlive] of cases) {
    it(`agent ${version || '(empty)'} gives ${mode}`, () => {
      expect(forwardingModeFor(version)).toBe(mode);
      expect(smuxKeepAliveFor(version)).toBe(keepAlive);
    });
  }

  it('sends terminate flag per version', () => {
    expect(terminateFlagSupported('3.3.987.0', 'mux')).toBe(true);
    expect(terminateFlagSupported('2.3.723.0', 'basic')).toBe(true);
    expect(terminateFlagSupported('2.3.722.0', 'basic')).toBe(false);
  });
});
