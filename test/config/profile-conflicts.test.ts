// Conflicts between profiles as the store reports them: a group named like a profile in both
// directions on writes (a file that has one still loads), and a taken port, each named from the side of the profile being written. Also
// the wording of invalid and long names, and the names a failed lookup lists.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../daemon/config/errors.js';
import { ConfigStore } from '../../daemon/config/store.js';
import { validateConfig } from '../../daemon/config/schema.js';

function profile(name: string, localPort: number, extra: Record<string, unknown> = {}) {
  return {
    name,
    region: 'eu-west-1',
    target: 'i-0123456789abcdef0',
    remotePort: 5432,
    localPort,
    ...extra,
  };
}

let dir: string;
let file: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bastionless-conflicts-'));
  file = join(dir, 'config.json');
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function storeWith(profiles: object[]): ConfigStore {
  writeFileSync(file, `${JSON.stringify({ version: 2, profiles }, null, 2)}\n`);
  const store = new ConfigStore({ file });
  store.load();
  expect(store.error).toBeNull();
  return store;
}

function errorOf(action: () => unknown): ConfigError {
  try {
    action();
  } catch (error) {
    if (error instanceof ConfigError) {
      return error;
    }
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('profile conflicts', () => {
  it('rejects group named like profile', () => {
    const store = storeWith([profile('web1', 18001)]);
    const before = readFileSync(file, 'utf8');
    const error = errorOf(() => store.create(profile('prod', 18002, { groups: ['web1'] })));
    expect(error.code).toBe('ERR_PROFILE_INVALID');
    expect(error.message).toBe(
      'profile "prod": group "web1" has the name of profile "web1", so `bastionless up web1` could not tell them apart; choose another group name, or rename the profile',
    );
    expect(error.fields[0]?.path).toBe('groups[0]');
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it('rejects profile named like group', () => {
    const store = storeWith([profile('prod', 18002, { groups: ['web1'] })]);
    const error = errorOf(() => store.create(profile('web1', 18001)));
    expect(error.message).toBe(
      'profile "web1": the name is already used as a group of profile "prod", so `bastionless up web1` could not tell them apart; choose another name, or rename the group',
    );
    expect(error.fields[0]?.path).toBe('name');
  });

  it('rejects edit adding clashing group', () => {
    const store = storeWith([profile('prod', 18002), profile('web1', 18001)]);
    const error = errorOf(() =>
      store.update('prod', (current) => ({ ...current, groups: ['web1'] })),
    );
    expect(error.message).toContain('profile "prod": group "web1" has the name of profile "web1"');
  });

  it('loads a clash from a hand-edited file', () => {
    // Files written before writes checked group names keep loading.
    const { config, issues } = validateConfig({
      version: 2,
      profiles: [profile('prod', 18002, { groups: ['web1'] }), profile('web1', 18001)],
    });
    expect(issues).toEqual([]);
    expect(config?.profiles.map((entry) => entry.name)).toEqual(['prod', 'web1']);
  });

  it('allows other writes beside an old clash', () => {
    const store = storeWith([profile('mfa', 18002, { groups: ['mfa'] }), profile('web1', 18001)]);
    store.create(profile('cache', 18003));
    expect(store.profiles.map((entry) => entry.name)).toEqual(['mfa', 'web1', 'cache']);
    const error = errorOf(() => store.create(profile('prod', 18004, { groups: ['web1'] })));
    expect(error.message).toContain('profile "prod": group "web1" has the name of profile "web1"');
  });

  it('names edited profile first on port clash', () => {
    const store = storeWith([profile('pg', 18090), profile('http', 18091)]);
    const error = errorOf(() =>
      store.update('pg', (current) => ({ ...current, localPort: 18091 })),
    );
    expect(error.message).toBe(
      'profile "pg": localPort 18091 on 127.0.0.1 is already used by profile "http"; choose another port',
    );
    expect(error.fields[0]?.path).toBe('localPort');
  });

  it('says ASCII for invalid names', () => {
    const store = storeWith([]);
    const error = errorOf(() => store.create(profile('wéb-ü', 18001)));
    expect(error.message).toBe(
      'profile "wéb-ü": name "wéb-ü" is invalid; use 1-63 letters, digits, ".", "_" or "-", all ASCII and starting with a letter or digit',
    );
  });

  it('shortens long names in messages', () => {
    const store = storeWith([]);
    const name = 'a'.repeat(300);
    const error = errorOf(() => store.create(profile(name, 18001)));
    const shortened = `${'a'.repeat(40)}…`;
    expect(error.message).toBe(
      `profile "${shortened}": name "${shortened}" is invalid; use 1-63 letters, digits, ".", "_" or "-", all ASCII and starting with a letter or digit`,
    );
  });

  it('lists names when profile not found', () => {
    const store = storeWith([profile('pg', 18090), profile('http', 18091)]);
    expect(errorOf(() => store.remove('x')).message).toBe(
      `profile "x" not found in ${file}; use one of its profiles: pg, http`,
    );
  });

  it('points at add without a file', () => {
    const store = new ConfigStore({ file });
    store.load();
    expect(errorOf(() => store.remove('x')).message).toBe(
      `profile "x" not found, because config file ${file} does not exist yet; add one with \`bastionless add\``,
    );
  });
});
