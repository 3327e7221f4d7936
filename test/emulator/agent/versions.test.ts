import { describe, expect, it } from 'vitest';
import { compareVersions, decideMode } from './versions.js';

describe('agent version rules', () => {
  it.each([
    ['1.2.650.0', '1.1.70', 1],
    ['1.1.70', '1.1.70', 0],
    ['1.1.70.0', '1.1.70', 1],
    ['1.1.61.0', '1.1.70', -1],
    ['1.2.331.0', '1.2.331.0', 0],
    ['1.10.0.0', '1.9.0.0', 1],
  ])('compares %s with %s', (a, b, sign) => {
    expect(Math.sign(compareVersions(a, b))).toBe(sign);
  });

  it.each([
    ['1.2.650.0', '3.3.987.0', 'mux', false],
    ['1.2.331.0', '3.3.987.0', 'mux', true],
    ['1.2.0.0', '3.3.987.0', 'mux', true],
    ['1.1.70', '3.3.987.0', 'mux', true],
    ['1.1.61.0', '3.3.987.0', 'basic', true],
    ['', '3.3.987.0', 'basic', true],
    ['1.2.650.0', '3.0.196.0', 'basic', false],
    ['1.2.650.0', '3.0.222.0', 'mux', false],
  ])('client %s with agent %s runs %s', (client, agent, mode, keepAlive) => {
    const decision = decideMode(client, agent);
    expect(decision.mode).toBe(mode);
    expect(decision.smuxKeepAlive).toBe(keepAlive);
  });
});
