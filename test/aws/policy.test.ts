import { describe, expect, it } from 'vitest';
import { buildPolicy } from '../../daemon/aws/policy.js';
import { makeProfile } from './helpers/fixtures.js';

const profile = makeProfile;

const ARN_PATTERN = /^arn:aws:(ssm|ec2):([a-z0-9-]+|\*)?:(\d{12}|\*)?:[a-z-]+\/.+$/;

const PROFILES = [
  profile({ name: 'orders-db', remoteHost: 'rds:orders' }),
  profile({
    name: 'cache',
    region: 'eu-west-1',
    target: { tags: { Role: 'proxy' } },
    remoteHost: 'elasticache:sessions',
    remotePort: 6379,
  }),
];

describe('buildPolicy', () => {
  it('produces a valid policy document', () => {
    const policy = buildPolicy(PROFILES, { accountId: '123456789012' });
    const parsed = JSON.parse(JSON.stringify(policy)) as Record<string, unknown>;
    expect(parsed.Version).toBe('2012-10-17');
    expect(Array.isArray(parsed.Statement)).toBe(true);
    for (const statement of policy.Statement) {
      expect(statement.Effect).toBe('Allow');
      expect(statement.Action.length).toBeGreaterThan(0);
      for (const action of statement.Action) {
        expect(action).toMatch(/^(ssm|ec2|rds|elasticache):[A-Za-z]+$/);
      }
      for (const resource of statement.Resource) {
        if (resource !== '*') {
          expect(resource).toMatch(ARN_PATTERN);
        }
      }
    }
  });

  it('grants StartSession on instances and documents', () => {
    const policy = buildPolicy(PROFILES, { accountId: '123456789012' });
    const start = policy.Statement.find((statement) => statement.Sid === 'StartPortForwarding')!;
    expect(start.Action).toEqual(['ssm:StartSession']);
    expect(start.Resource).toContain(
      'arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0',
    );
    expect(start.Resource).toContain(
      'arn:aws:ssm:us-east-1::document/AWS-StartPortForwardingSession',
    );
    expect(start.Resource).toContain(
      'arn:aws:ssm:eu-west-1::document/AWS-StartPortForwardingSessionToRemoteHost',
    );
    const byTags = policy.Statement.find(
      (statement) => statement.Sid === 'StartPortForwardingByTags1',
    )!;
    expect(byTags.Resource).toEqual(['arn:aws:ec2:eu-west-1:123456789012:instance/*']);
    expect(byTags.Condition).toEqual({ StringEquals: { 'ssm:resourceTag/Role': 'proxy' } });
  });

  it('limits sessions to the caller and lists discovery calls', () => {
    const policy = buildPolicy(PROFILES);
    const own = policy.Statement.find((statement) => statement.Sid === 'ManageOwnSessions')!;
    expect(own.Action).toEqual(['ssm:ResumeSession', 'ssm:TerminateSession']);
    expect(own.Resource).toEqual(['arn:aws:ssm:*:*:session/${aws:username}-*']);
    const discovery = policy.Statement.find((statement) => statement.Sid === 'Discovery')!;
    expect(discovery.Action).toEqual([
      'ec2:DescribeInstances',
      'elasticache:DescribeCacheClusters',
      'rds:DescribeDBInstances',
      'ssm:DescribeInstanceInformation',
    ]);
  });

  it('omits discovery calls no profile uses', () => {
    const policy = buildPolicy([profile({})]);
    const discovery = policy.Statement.find((statement) => statement.Sid === 'Discovery')!;
    expect(discovery.Action).toEqual(['ssm:DescribeInstanceInformation']);
    expect(
      policy.Statement.some((statement) => statement.Sid.startsWith('StartPortForwardingByTags')),
    ).toBe(false);
  });

  it('adds a date window to every statement', () => {
    const policy = buildPolicy(PROFILES, {
      notBefore: '2026-12-01T08:00:00Z',
      notAfter: '2026-12-01T18:00:00+01:00',
    });
    for (const statement of policy.Statement) {
      expect(statement.Condition!.DateGreaterThan).toEqual({
        'aws:CurrentTime': '2026-12-01T08:00:00.000Z',
      });
      expect(statement.Condition!.DateLessThan).toEqual({
        'aws:CurrentTime': '2026-12-01T17:00:00.000Z',
      });
    }
    const byTags = policy.Statement.find(
      (statement) => statement.Sid === 'StartPortForwardingByTags1',
    )!;
    expect(byTags.Condition!.StringEquals).toEqual({ 'ssm:resourceTag/Role': 'proxy' });
  });

  it('rejects invalid or reversed windows', () => {
    expect(() => buildPolicy(PROFILES, { notAfter: 'tomorrow' })).toThrow(
      /Invalid time "tomorrow"/,
    );
    expect(() => buildPolicy(PROFILES, { notBefore: '2026-12-01' })).toThrow(RangeError);
    expect(() =>
      buildPolicy(PROFILES, {
        notBefore: '2026-12-02T00:00:00Z',
        notAfter: '2026-12-01T00:00:00Z',
      }),
    ).toThrow(/is not before/);
  });
});
