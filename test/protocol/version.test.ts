import { describe, expect, it } from 'vitest';
import { compareVersions, versionGreater } from '../../daemon/protocol/version.js';

describe('versionGreater', () => {
  const cases: Array<[string, string, boolean]> = [
    ['3.3.987.0', '3.0.196.0', true],
    ['3.0.196.0', '3.0.196.0', false],
    ['3.0.196.1', '3.0.196.0', true],
    ['3.0.195.9', '3.0.196.0', false],
    ['10.0.0.0', '9.9.9.9', true],
    ['3.1.1512.0', '3.1.1511.0', true],
    ['3.3', '3.0.196.0', false],
    ['3.3.987.0.1', '3.0.196.0', false],
    ['', '3.0.196.0', false],
    ['3.x.1.0', '3.0.196.0', false],
    ['3..1.0', '3.0.196.0', false],
    ['+4.0.0.0', '3.0.196.0', true],
    ['03.0.196.1', '3.0.196.0', true],
    ['9223372036854775808.0.0.0', '3.0.196.0', false],
  ];
  for (const [version, than, expected] of cases) {
    it(`${version} > ${than} is ${expected}`, () => {
      expect(versionGreater(version, than)).toBe(expected);
    });
  }
});

describe('compareVersions', () => {
  const cases: Array<[string, string, number]> = [
    ['1.2.707.0', '1.1.70', 1],
    ['1.2.0.0', '1.2.331.0', -1],
    ['1.2.332.0', '1.2.331.0', 1],
    ['1.2.331.0', '1.2.331.0', 0],
    ['1.1.70', '1.1.70', 0],
    ['1.1.69', '1.1.70', -1],
    ['1.1.70-beta', '1.1.70', -1],
    ['1.1.70-rc.2', '1.1.70-rc.10', -1],
    ['1.1.70+build5', '1.1.70', 0],
    ['1.1', '1.1.70', -1],
    ['1.1.70.0', '1.1.70', 1],
    ['1.1.a', '1.1.70', 1],
    ['', '1.1.70', -1],
  ];
  for (const [version, other, expected] of cases) {
    it(`compares ${version || '(empty)'} with ${other}`, () => {
      expect(Math.sign(compareVersions(version, other))).toBe(expected);
    });
  }

  it('ignores trailing zeros when not strict', () => {
    expect(compareVersions('1.1.70.0', '1.1.70', false)).toBe(0);
    expect(compareVersions('1.0.0.0', '1', false)).toBe(0);
  });

  it('returns the component-count difference like the agent', () => {
    expect(compareVersions('1.2.3.4.5', '1.2.3.4')).toBe(1);
    expect(compareVersions('1.2', '1.2.3.4')).toBe(-2);
  });

  it('compares text components by bytes', () => {
    expect(compareVersions('1.B.0.0', '1.a.0.0')).toBe(-1);
  });
});
