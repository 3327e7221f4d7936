import { describe, expect, it } from 'vitest';
import { migrateConfig, migrateV1ToV2 } from '../../daemon/config/migrations.js';
import { ConfigError } from '../../daemon/config/errors.js';

describe('config migrations', () => {
  it('converts v1 string ports and bind to v2', () => {
    const v1 = {
      version: 1,
      profiles: [{ name: 'db', localPort: '15432', remotePort: ' 5432 ', bind: '127.0.0.2' }],
    };
    expect(migrateV1ToV2(v1)).toEqual({
      version: 2,
      profiles: [{ name: 'db', localPort: 15432, remotePort: 5432, bindAddress: '127.0.0.2' }],
    });
  });

  it('does not mutate its input', () => {
    const v1 = { version: 1, profiles: [{ name: 'db', localPort: '15432', bind: '127.0.0.1' }] };
    const copy = structuredClone(v1);
    migrateV1ToV2(v1);
    expect(v1).toEqual(copy);
  });

  it('keeps bindAddress over bind', () => {
    const v1 = { version: 1, profiles: [{ bind: '127.0.0.2', bindAddress: '127.0.0.3' }] };
    expect(migrateV1ToV2(v1).profiles).toEqual([{ bindAddress: '127.0.0.3' }]);
  });

  it('leaves a non-numeric port for validation', () => {
    const v1 = { version: 1, profiles: [{ localPort: 'abc' }] };
    expect(migrateV1ToV2(v1).profiles).toEqual([{ localPort: 'abc' }]);
  });

  it('treats a missing version as v1', () => {
    const { document, fromVersion } = migrateConfig({ profiles: [{ localPort: '1' }] });
    expect(fromVersion).toBe(1);
    expect(document).toEqual({ version: 2, profiles: [{ localPort: 1 }] });
  });

  it('rejects a newer version', () => {
    expect(() => migrateConfig({ version: 99, profiles: [] })).toThrow(ConfigError);
    expect(() => migrateConfig({ version: 99, profiles: [] })).toThrow(/newer than this release/);
  });

  it('rejects a non-integer version', () => {
    expect(() => migrateConfig({ version: 'two', profiles: [] })).toThrow(
      /version "two" is invalid/,
    );
  });
});
