import {
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
  mkdirSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigStore } from '../../daemon/config/store.js';
import { ConfigError } from '../../daemon/config/errors.js';
import { writeFileAtomic } from '../../daemon/config/atomic-write.js';
import type { Profile } from '../../daemon/config/types.js';

const minimal = {
  name: 'db',
  region: 'eu-west-1',
  target: 'i-0123456789abcdef0',
  remotePort: 5432,
  localPort: 15432,
};

let dir: string;
let file: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bastionless-config-'));
  file = join(dir, 'config.json');
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function waitForEvent<T>(store: ConfigStore, event: string, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no "${event}" event within ${timeoutMs} ms`)),
      timeoutMs,
    );
    store.once(event, (value: T) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

describe('ConfigStore', () => {
  it('treats a missing file as no profiles', () => {
    const store = new ConfigStore({ file });
    expect(store.load()).toEqual([]);
    expect(store.error).toBeNull();
  });

  it('creates a profile with defaults and writes version 2', () => {
    const store = new ConfigStore({ file });
    store.load();
    store.create(minimal);
    const onDisk = JSON.parse(readFileSync(file, 'utf8'));
    expect(onDisk.version).toBe(2);
    expect(onDisk.profiles[0]).toMatchObject({
      ...minimal,
      bindAddress: '127.0.0.1',
      mode: 'on-demand',
    });
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('loads a v1 file through the migration', () => {
    writeFileSync(
      file,
      JSON.stringify({
        version: 1,
        profiles: [{ ...minimal, localPort: '15432', bind: '127.0.0.1' }],
      }),
    );
    const store = new ConfigStore({ file });
    const [profile] = store.load();
    expect(profile?.localPort).toBe(15432);
    expect(profile?.bindAddress).toBe('127.0.0.1');
  });

  it('reports a corrupted file, leaves it untouched', () => {
    const store = new ConfigStore({ file });
    store.create(minimal);
    const corrupted = Buffer.from('{"version": 2, "profiles": [ {"name": "db", \xff');
    writeFileSync(file, corrupted);

    const errors: ConfigError[] = [];
    store.on('invalid', (error: ConfigError) => errors.push(error));
    const profiles = store.load();

    expect(errors).toHaveLength(1);
    expect(errors[0]?.code).toBe('ERR_CONFIG_PARSE');
    expect(store.error?.message).toContain('fix it in an editor');
    expect(profiles.map((p) => p.name)).toEqual(['db']);

    expect(() => store.create({ ...minimal, name: 'other', localPort: 15433 })).toThrow(
      ConfigError,
    );
    expect(() => store.remove('db')).toThrow(ConfigError);
    expect(readFileSync(file).equals(corrupted)).toBe(true);
  });

  it('reports an invalid profile with profile, field and fix', () => {
    writeFileSync(
      file,
      JSON.stringify({ version: 2, profiles: [{ ...minimal, localPort: 70000 }] }),
    );
    const store = new ConfigStore({ file });
    store.load();
    expect(store.error?.code).toBe('ERR_CONFIG_INVALID');
    expect(store.error?.message).toContain(
      'profile "db": localPort 70000 is out of range; use 1-65535',
    );
    expect(store.error?.fields[0]?.path).toBe('profiles[0].localPort');
  });

  it('replaces and removes profiles', () => {
    const store = new ConfigStore({ file });
    store.create(minimal);
    store.replace('db', { ...minimal, localPort: 25432 });
    expect(store.getProfile('db')?.localPort).toBe(25432);
    store.remove('db');
    expect(store.profiles).toEqual([]);
    expect(() => store.remove('db')).toThrow(/not found/);
  });

  it('rejects a second profile on the same local port', () => {
    const store = new ConfigStore({ file });
    store.create(minimal);
    try {
      store.create({ ...minimal, name: 'cache' });
      expect.unreachable('create should have thrown');
    } catch (error) {
      expect((error as ConfigError).code).toBe('ERR_PROFILE_INVALID');
      expect((error as ConfigError).fields[0]?.path).toBe('localPort');
    }
  });

  it('re-applies an external edit through the watcher', async () => {
    const store = new ConfigStore({ file, watchDebounceMs: 20 });
    store.load();
    const stop = store.watch();
    try {
      const changed = waitForEvent<Profile[]>(store, 'profiles');
      writeFileAtomic(file, JSON.stringify({ version: 2, profiles: [minimal] }));
      const profiles = await changed;
      expect(profiles.map((p) => p.name)).toEqual(['db']);

      const invalid = waitForEvent<ConfigError>(store, 'invalid');
      writeFileSync(file, '{ not json');
      expect((await invalid).code).toBe('ERR_CONFIG_PARSE');
      expect(store.profiles.map((p) => p.name)).toEqual(['db']);

      const recovered = waitForEvent<Profile[]>(store, 'profiles');
      writeFileAtomic(file, JSON.stringify({ version: 2, profiles: [] }));
      expect(await recovered).toEqual([]);
      expect(store.error).toBeNull();
    } finally {
      stop();
    }
  });
});

describe('writeFileAtomic', () => {
  it('leaves no temporary file behind', () => {
    writeFileAtomic(file, 'one');
    writeFileAtomic(file, 'two');
    expect(readFileSync(file, 'utf8')).toBe('two');
    expect(readdirSync(dir)).toEqual(['config.json']);
  });

  it('keeps the old file when the rename fails', () => {
    const target = join(dir, 'taken');
    mkdirSync(join(target, 'child'), { recursive: true });
    expect(() => writeFileAtomic(target, 'new')).toThrow();
    expect(statSync(target).isDirectory()).toBe(true);
    expect(readdirSync(dir)).toEqual(['taken']);
  });
});
