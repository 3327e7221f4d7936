import { describe, expect, it } from 'vitest';
import {
  LOOKED_UP_REMOTE_PORT,
  validateConfig,
  validateProfile,
} from '../../daemon/config/schema.js';

const minimal = {
  name: 'db',
  region: 'eu-west-1',
  target: 'i-0123456789abcdef0',
  remotePort: 5432,
  localPort: 15432,
};

describe('validateProfile', () => {
  it('applies defaults to a minimal profile', () => {
    const { profile, issues } = validateProfile(minimal);
    expect(issues).toEqual([]);
    expect(profile).toEqual({
      ...minimal,
      groups: [],
      bindAddress: '127.0.0.1',
      allowNonLoopback: false,
      autoStart: false,
      mode: 'on-demand',
      sessionPool: 1,
      endpoints: {},
      keepAlive: false,
    });
  });

  it.each([
    [
      { localPort: 70000 },
      'localPort',
      'profile "db": localPort 70000 is out of range; use 1-65535',
    ],
    [{ remotePort: 0 }, 'remotePort', 'profile "db": remotePort 0 is out of range; use 1-65535'],
    [
      { localPort: '5432' },
      'localPort',
      'profile "db": localPort "5432" is not an integer; use a port number 1-65535',
    ],
    [{ sessionPool: 9 }, 'sessionPool', 'profile "db": sessionPool 9 is out of range; use 1-8'],
    [
      { mode: 'sometimes' },
      'mode',
      'profile "db": mode "sometimes" is invalid; use "on-demand" or "always-on"',
    ],
    [
      { target: 'web-1' },
      'target',
      'profile "db": target "web-1" is not an instance id; use i-… or mi-…',
    ],
    [
      { region: 'Europe' },
      'region',
      'profile "db": region "Europe" is invalid; use e.g. eu-west-1',
    ],
    [
      { autoStart: 'yes' },
      'autoStart',
      'profile "db": autoStart "yes" is not a boolean; use true or false',
    ],
    [
      { bindAddress: 'my-host' },
      'bindAddress',
      'profile "db": bindAddress "my-host" is not an IP address; use 127.0.0.1',
    ],
    [
      { colour: 'red' },
      'colour',
      'profile "db": unknown field "colour"; remove it or check its spelling',
    ],
    [
      { endpoints: { ssm: 'ftp://x' } },
      'endpoints.ssm',
      'profile "db": endpoints.ssm "ftp://x" is not a URL; use http(s)://host[:port], e.g. http://127.0.0.1:4566',
    ],
  ])('rejects %j naming the field', (change, path, message) => {
    const { profile, issues } = validateProfile({ ...minimal, ...change });
    expect(profile).toBeNull();
    expect(issues).toEqual([{ path, message }]);
  });

  it('rejects a non-loopback bind without opt-in', () => {
    const { issues } = validateProfile({ ...minimal, bindAddress: '0.0.0.0' });
    expect(issues[0]?.path).toBe('bindAddress');
    expect(issues[0]?.message).toContain('--allow-non-loopback (allowNonLoopback: true)');
  });

  it('accepts a non-loopback bind with opt-in', () => {
    const { issues } = validateProfile({
      ...minimal,
      bindAddress: '0.0.0.0',
      allowNonLoopback: true,
    });
    expect(issues).toEqual([]);
  });

  it('lets AWS resource hosts omit remotePort', () => {
    const withoutPort: Record<string, unknown> = { ...minimal };
    delete withoutPort.remotePort;
    for (const remoteHost of ['rds:orders', 'rds-cluster:billing', 'elasticache:sessions']) {
      const { profile, issues } = validateProfile({ ...withoutPort, remoteHost });
      expect(issues).toEqual([]);
      expect(profile?.remotePort).toBe(LOOKED_UP_REMOTE_PORT);
      const saved = JSON.parse(JSON.stringify(profile)) as unknown;
      expect(validateProfile(saved).issues).toEqual([]);
    }
  });

  it('requires remotePort for plain hosts', () => {
    const withoutPort: Record<string, unknown> = { ...minimal };
    delete withoutPort.remotePort;
    for (const remoteHost of [undefined, 'db.internal']) {
      const { issues } = validateProfile({ ...withoutPort, remoteHost });
      expect(issues.map((issue) => issue.path)).toEqual(['remotePort']);
    }
    const zero = validateProfile({ ...minimal, remoteHost: 'db.internal', remotePort: 0 });
    expect(zero.issues.map((issue) => issue.message)).toEqual([
      'profile "db": remotePort 0 is out of range; use 1-65535',
    ]);
  });

  it('accepts a tag target', () => {
    const { profile } = validateProfile({ ...minimal, target: { tags: { Name: 'db' } } });
    expect(profile?.target).toEqual({ tags: { Name: 'db' } });
  });

  it('reports every invalid field at once', () => {
    const { issues } = validateProfile({ name: 'db', localPort: -1 });
    const paths = issues.map((issue) => issue.path);
    expect(paths).toEqual(['region', 'target', 'remotePort', 'localPort']);
  });
});

describe('validateConfig', () => {
  it('locates a bad field by profile index', () => {
    const { config, issues } = validateConfig({
      version: 2,
      profiles: [minimal, { ...minimal, name: 'cache', localPort: 70000 }],
    });
    expect(config).toBeNull();
    expect(issues).toEqual([
      {
        path: 'profiles[1].localPort',
        message: 'profile "cache": localPort 70000 is out of range; use 1-65535',
      },
    ]);
  });

  it('rejects duplicate names and local ports', () => {
    const { issues } = validateConfig({ version: 2, profiles: [minimal, minimal] });
    expect(issues.map((issue) => issue.path)).toEqual([
      'profiles[1].name',
      'profiles[1].localPort',
    ]);
  });

  it('accepts an empty profile list', () => {
    expect(validateConfig({ version: 2, profiles: [] }).config).toEqual({
      version: 2,
      profiles: [],
    });
  });
});
