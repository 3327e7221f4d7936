// A config file that goes missing after a load keeps the last good profiles and is reported
// as ERR_CONFIG_MISSING until it returns. A file that never existed still means no profiles.

import { mkdtempSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../daemon/config/errors.js';
import { ConfigStore } from '../../daemon/config/store.js';

const profile = {
  name: 'db',
  region: 'eu-west-1',
  target: 'i-0123456789abcdef0',
  remotePort: 5432,
  localPort: 15432,
};

let dir: string;
let file: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bastionless-missing-'));
  file = join(dir, 'config.json');
  writeFileSync(file, `${JSON.stringify({ version: 2, profiles: [profile] })}\n`);
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('ConfigStore missing file', () => {
  it('keeps profiles while the file is away', () => {
    const store = new ConfigStore({ file });
    store.load();
    const emitted: unknown[] = [];
    store.on('profiles', (profiles) => emitted.push(profiles));
    renameSync(file, `${file}.away`);

    expect(store.load().map((entry) => entry.name)).toEqual(['db']);
    expect(store.error?.code).toBe('ERR_CONFIG_MISSING');
    expect(store.error?.message).toBe(
      `config file ${file} is missing, so the last profiles read from it stay in use; ` +
        'restore it, or write {"version": 2, "profiles": []} into it to remove every profile',
    );
    expect(emitted).toEqual([]);

    renameSync(`${file}.away`, file);
    expect(store.load().map((entry) => entry.name)).toEqual(['db']);
    expect(store.error).toBeNull();
  });

  it('rejects writes while the file is away', () => {
    const store = new ConfigStore({ file });
    store.load();
    rmSync(file);
    let error: unknown;
    try {
      store.create({ ...profile, name: 'web', localPort: 18080 });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('ERR_CONFIG_MISSING');
    expect(existsSync(file)).toBe(false);
  });

  it('reports the move through the watcher', { timeout: 10_000 }, async () => {
    const store = new ConfigStore({ file, watchDebounceMs: 20 });
    store.load();
    const stop = store.watch();
    try {
      const invalid = new Promise<ConfigError>((resolve) => store.once('invalid', resolve));
      renameSync(file, `${file}.away`);
      expect((await invalid).code).toBe('ERR_CONFIG_MISSING');
      expect(store.profiles.map((entry) => entry.name)).toEqual(['db']);

      const recovered = new Promise((resolve) => store.once('profiles', resolve));
      renameSync(`${file}.away`, file);
      await recovered;
      expect(store.error).toBeNull();
      expect(store.profiles.map((entry) => entry.name)).toEqual(['db']);
    } finally {
      stop();
    }
  });

  it('treats a never-created file as empty', () => {
    rmSync(file);
    const store = new ConfigStore({ file });
    expect(store.load()).toEqual([]);
    expect(store.error).toBeNull();
  });
});
