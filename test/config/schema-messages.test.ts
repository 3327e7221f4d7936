// The fixes that target and remoteHost errors give, as the CLI, the dashboard editor and the
// config file checks show them.

import { describe, expect, it } from 'vitest';
import { validateProfile } from '../../daemon/config/schema.js';

const valid = {
  name: 'db',
  region: 'eu-west-1',
  target: 'i-0123456789abcdef0',
  remotePort: 5432,
  localPort: 15432,
};

/** Returns the messages of the issues `validateProfile` finds on `field`. */
function messagesFor(profile: Record<string, unknown>, field: string): string[] {
  return validateProfile(profile)
    .issues.filter((issue) => issue.path === field)
    .map((issue) => issue.message);
}

describe('target messages', () => {
  const required =
    'profile "db": target is required; use an instance id (i-… or mi-…) or tags as Key=Value, e.g. Name=db, which the config file stores as {"tags": {"Name": "db"}}';

  it.each([
    ['an empty string', ''],
    ['blanks', '  '],
    ['null', null],
  ])('calls %s a missing target', (_label, target) => {
    expect(messagesFor({ ...valid, target }, 'target')).toEqual([required]);
  });

  it('calls an absent target missing', () => {
    const withoutTarget: Record<string, unknown> = { ...valid };
    delete withoutTarget.target;
    expect(messagesFor(withoutTarget, 'target')).toEqual([required]);
  });

  it('names both forms for a number', () => {
    const [message] = messagesFor({ ...valid, target: 5 }, 'target');
    expect(message).toMatch(/^profile "db": target 5 is invalid; use an instance id/);
    expect(message).toContain('Key=Value');
  });
});

describe('remoteHost messages', () => {
  it('gives an example of each form', () => {
    expect(messagesFor({ ...valid, remoteHost: 'my db.internal' }, 'remoteHost')).toEqual([
      'profile "db": remoteHost "my db.internal" is invalid; use a DNS name such as db.internal, an IPv4 address such as 10.0.1.5, or an AWS resource such as rds:orders-db, rds-cluster:orders, rds-cluster-reader:orders or elasticache:sessions',
    ]);
  });

  it.each([
    'db.internal',
    '10.0.1.5',
    'rds:orders-db',
    'rds-cluster:orders',
    'rds-cluster-reader:orders',
    'elasticache:sessions',
  ])('accepts the example %s', (remoteHost) => {
    expect(validateProfile({ ...valid, remoteHost }).issues).toEqual([]);
  });
});
