import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { buildPolicy, OWN_SESSION_TAG_KEY, type PolicyStatement } from '../../daemon/aws/policy.js';
import { startAwsApiServer } from './helpers/aws-api-server.js';
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
    expect(own.Resource).toEqual(['arn:aws:ssm:*:*:session/*']);
    expect(own.Condition).toEqual({ StringLike: { [OWN_SESSION_TAG_KEY]: '${aws:userid}' } });
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

/** Matches an IAM StringLike pattern, where `*` is any run of characters and `?` one. */
function stringLike(pattern: string, value: string): boolean {
  let source = '';
  for (const char of pattern) {
    if (char === '*') {
      source += '.*';
    } else if (char === '?') {
      source += '.';
    } else {
      source += char.replace(/[.+^$()|[\]\\{}]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`).test(value);
}

interface RequestContext {
  /** Policy variables of the caller; `aws:username` is absent for assumed roles. */
  variables: Record<string, string | undefined>;
  sessionArn: string;
  sessionTag: string;
}

/**
 * Evaluates one Allow statement for a session action. A policy variable that IAM does not
 * define for the caller makes its pattern match nothing.
 */
function allows(statement: PolicyStatement, context: RequestContext): boolean {
  const substitute = (pattern: string): string | null => {
    let missing = false;
    const result = pattern.replace(/\$\{([^}]+)\}/g, (_match, name: string) => {
      const value = context.variables[name];
      if (value === undefined) {
        missing = true;
        return '';
      }
      return value;
    });
    return missing ? null : result;
  };
  const resourceMatches = statement.Resource.some((pattern) => {
    const resolved = substitute(pattern);
    return resolved !== null && stringLike(resolved, context.sessionArn);
  });
  if (!resourceMatches) {
    return false;
  }
  for (const [operator, entries] of Object.entries(statement.Condition ?? {})) {
    expect(operator).toBe('StringLike');
    for (const [key, pattern] of Object.entries(entries)) {
      expect(key).toBe(OWN_SESSION_TAG_KEY);
      const resolved = substitute(pattern);
      if (resolved === null || !stringLike(resolved, context.sessionTag)) {
        return false;
      }
    }
  }
  return true;
}

describe('ManageOwnSessions for assumed roles', () => {
  let server: Awaited<ReturnType<typeof startAwsApiServer>>;
  let roleId: string;

  beforeAll(async () => {
    server = await startAwsApiServer({});
    const sts = new STSClient({
      region: 'us-east-1',
      endpoint: server.endpoint,
      credentials: { accessKeyId: 'AKIAPOLICY00000001', secretAccessKey: 'test-secret' },
    });
    try {
      const output = await sts.send(
        new AssumeRoleCommand({
          RoleArn: 'arn:aws:iam::123456789012:role/developer',
          RoleSessionName: 'alice-laptop',
        }),
      );
      roleId = output.AssumedRoleUser!.AssumedRoleId!;
    } finally {
      sts.destroy();
    }
  });

  afterAll(async () => {
    await server.close();
  });

  // For an assumed role, the session id starts with the role session name and the
  // session-id tag is the caller's ${aws:userid}, `ROLEID:session-name`.
  function contextFor(userId: string, sessionName: string): RequestContext {
    return {
      variables: { 'aws:userid': userId, 'aws:username': undefined },
      sessionArn: `arn:aws:ssm:us-east-1:123456789012:session/${sessionName}-0a1b2c3d4e5f60718`,
      sessionTag: userId,
    };
  }

  it("allows resuming the caller's session", () => {
    expect(roleId).toMatch(/^AROA[0-9A-Z]+:alice-laptop$/);
    const own = buildPolicy(PROFILES).Statement.find((s) => s.Sid === 'ManageOwnSessions')!;
    expect(allows(own, contextFor(roleId, 'alice-laptop'))).toBe(true);
  });

  it("denies another caller's session", () => {
    const own = buildPolicy(PROFILES).Statement.find((s) => s.Sid === 'ManageOwnSessions')!;
    const other = contextFor('AROAOTHERROLE000000:bob', 'bob');
    expect(allows(own, { ...other, variables: { 'aws:userid': roleId } })).toBe(false);
  });

  it('rejects the user-name resource for roles', () => {
    const byUserName: PolicyStatement = {
      Sid: 'ByUserName',
      Effect: 'Allow',
      Action: ['ssm:ResumeSession'],
      Resource: ['arn:aws:ssm:*:*:session/${aws:username}-*'],
    };
    expect(allows(byUserName, contextFor(roleId, 'alice-laptop'))).toBe(false);
  });
});
