import { describe, expect, it } from 'vitest';
import { exportProfiles, parseProfileImport } from '../../ui/src/lib/profile-io.js';
import type { Profile } from '../../ui/src/lib/types.js';

function profile(name: string): Profile {
  return {
    name,
    groups: [],
    region: 'us-east-1',
    target: 'i-0123456789abcdef0',
    remotePort: 5432,
    localPort: 15432,
    bindAddress: '127.0.0.1',
    allowNonLoopback: false,
    autoStart: false,
    mode: 'on-demand',
    sessionPool: 1,
    endpoints: {},
    keepAlive: false,
  };
}

describe('exportProfiles', () => {
  it('sorts by name and marks the format', () => {
    const text = exportProfiles([profile('b'), profile('a')]);
    const parsed = JSON.parse(text);
    expect(parsed.format).toBe('bastionless-profiles');
    expect(parsed.version).toBe(1);
    expect(parsed.profiles.map((entry: Profile) => entry.name)).toEqual(['a', 'b']);
    expect(text.endsWith('\n')).toBe(true);
  });

  it('round-trips through the importer', () => {
    const result = parseProfileImport(exportProfiles([profile('a'), profile('b')]));
    expect(result.errors).toEqual([]);
    expect(result.profiles).toEqual([profile('a'), profile('b')]);
  });
});

describe('parseProfileImport', () => {
  it('accepts a bare array', () => {
    const result = parseProfileImport(JSON.stringify([profile('x')]));
    expect(result.profiles).toHaveLength(1);
  });

  it('reports invalid JSON', () => {
    const result = parseProfileImport('{');
    expect(result.profiles).toEqual([]);
    expect(result.errors[0]).toMatch(/^The file is not valid JSON/);
  });

  it('rejects an unrelated format', () => {
    const result = parseProfileImport(JSON.stringify({ format: 'other', profiles: [] }));
    expect(result.errors).toEqual(['Unknown format "other"; expected "bastionless-profiles".']);
  });

  it('rejects a newer version', () => {
    const text = JSON.stringify({ format: 'bastionless-profiles', version: 2, profiles: [] });
    expect(parseProfileImport(text).errors[0]).toContain('version 2');
  });

  it('accepts a config file', () => {
    const text = JSON.stringify({ version: 2, profiles: [profile('x'), profile('y')] });
    const result = parseProfileImport(text);
    expect(result.errors).toEqual([]);
    expect(result.profiles.map((entry) => entry.name)).toEqual(['x', 'y']);
  });

  it('rejects a newer config file version', () => {
    const result = parseProfileImport(JSON.stringify({ version: 3, profiles: [profile('x')] }));
    expect(result.profiles).toEqual([]);
    expect(result.errors[0]).toContain('The config file has version 3');
  });

  it('rejects objects without a profiles array', () => {
    const result = parseProfileImport(JSON.stringify({ name: 'x' }));
    expect(result.errors[0]).toContain('Expected a JSON array');
  });

  it('skips nameless and repeated entries', () => {
    const text = JSON.stringify([
      profile('a'),
      { localPort: 1 },
      null,
      profile('a'),
      { name: ' ' },
    ]);
    const result = parseProfileImport(text);
    expect(result.profiles.map((entry) => entry.name)).toEqual(['a']);
    expect(result.errors).toEqual([
      'Entry 2 has no "name" and was skipped.',
      'Entry 3 has no "name" and was skipped.',
      'Entry 4 repeats the name "a" and was skipped.',
      'Entry 5 has no "name" and was skipped.',
    ]);
  });
});
