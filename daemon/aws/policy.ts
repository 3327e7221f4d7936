// Least-privilege IAM policy for the configured profiles: only the session and discovery
// calls bastionless makes for them.

import type { Profile } from '../config/types.js';
import { parseRemoteHost } from './remote-host.js';

export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, string>>;
}

export interface IamPolicy {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

export interface PolicyOptions {
  /** ISO 8601 time before which the policy grants nothing. */
  notBefore?: string;
  /** ISO 8601 time after which the policy grants nothing. */
  notAfter?: string;
  /** Account id for instance ARNs; `*` when unknown. */
  accountId?: string;
}

const DOCUMENTS = ['AWS-StartPortForwardingSession', 'AWS-StartPortForwardingSessionToRemoteHost'];
// Resource tag that Session Manager sets on each session to the id of the caller that started it.
export const OWN_SESSION_TAG_KEY = 'ssm:resourceTag/aws:ssmmessages:session-id';
const ISO_TIME_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

function timeCondition(options: PolicyOptions): PolicyStatement['Condition'] {
  const condition: Record<string, Record<string, string>> = {};
  for (const [key, value] of [
    ['DateGreaterThan', options.notBefore],
    ['DateLessThan', options.notAfter],
  ] as const) {
    if (value === undefined) {
      continue;
    }
    if (!ISO_TIME_PATTERN.test(value) || Number.isNaN(Date.parse(value))) {
      throw new RangeError(
        `Invalid time ${JSON.stringify(value)}: expected ISO 8601 with a zone, e.g. 2026-01-31T18:00:00Z.`,
      );
    }
    condition[key] = { 'aws:CurrentTime': new Date(value).toISOString() };
  }
  if (
    options.notBefore &&
    options.notAfter &&
    Date.parse(options.notBefore) >= Date.parse(options.notAfter)
  ) {
    throw new RangeError(
      `Invalid time window: ${options.notBefore} is not before ${options.notAfter}.`,
    );
  }
  return Object.keys(condition).length === 0 ? undefined : condition;
}

function sorted(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

/**
 * Builds the policy. Instance ids get exact ARNs; tag targets get `instance/*` with an
 * `ssm:resourceTag` condition per tag set, because StartSession cannot name them in advance.
 */
export function buildPolicy(profiles: Profile[], options: PolicyOptions = {}): IamPolicy {
  const account = options.accountId ?? '*';
  const condition = timeCondition(options);
  const statements: PolicyStatement[] = [];
  const instanceArns = new Set<string>();
  const documentArns = new Set<string>();
  const tagSets = new Map<string, { region: string; tags: Record<string, string> }>();
  const discovery = new Set(['ssm:DescribeInstanceInformation']);

  for (const profile of profiles) {
    for (const document of DOCUMENTS) {
      documentArns.add(`arn:aws:ssm:${profile.region}::document/${document}`);
    }
    if (typeof profile.target === 'string') {
      instanceArns.add(`arn:aws:ec2:${profile.region}:${account}:instance/${profile.target}`);
    } else {
      tagSets.set(`${profile.region} ${JSON.stringify(profile.target.tags)}`, {
        region: profile.region,
        tags: profile.target.tags,
      });
      discovery.add('ec2:DescribeInstances');
    }
    const kind = profile.remoteHost ? parseRemoteHost(profile.remoteHost).kind : 'host';
    if (kind === 'rds') {
      discovery.add('rds:DescribeDBInstances');
    } else if (kind === 'rds-cluster' || kind === 'rds-cluster-reader') {
      discovery.add('rds:DescribeDBClusters');
    } else if (kind === 'elasticache') {
      discovery.add('elasticache:DescribeCacheClusters');
    }
  }

  statements.push({
    Sid: 'StartPortForwarding',
    Effect: 'Allow',
    Action: ['ssm:StartSession'],
    Resource: sorted([...instanceArns, ...documentArns]),
  });
  let index = 0;
  for (const { region, tags } of tagSets.values()) {
    index += 1;
    const tagCondition: Record<string, string> = {};
    for (const [key, value] of Object.entries(tags)) {
      tagCondition[`ssm:resourceTag/${key}`] = value;
    }
    statements.push({
      Sid: `StartPortForwardingByTags${index}`,
      Effect: 'Allow',
      Action: ['ssm:StartSession'],
      Resource: [`arn:aws:ec2:${region}:${account}:instance/*`],
      Condition: { StringEquals: tagCondition },
    });
  }
  // Session ids start with the IAM user name for IAM users but with the role session name for
  // assumed-role and SSO identities, and IAM defines ${aws:username} only for IAM users. So the
  // statement matches the `aws:ssmmessages:session-id` tag that Session Manager puts on every
  // session instead: the caller's user id for IAM users and `ROLEID:session-name` for assumed
  // roles, which is ${aws:userid} in both cases. Source: AWS Systems Manager User Guide,
  // "Additional sample IAM policies for Session Manager", "Allow a user to end only sessions
  // they started", method 2.
  statements.push({
    Sid: 'ManageOwnSessions',
    Effect: 'Allow',
    Action: ['ssm:ResumeSession', 'ssm:TerminateSession'],
    Resource: ['arn:aws:ssm:*:*:session/*'],
    Condition: { StringLike: { [OWN_SESSION_TAG_KEY]: '${aws:userid}' } },
  });
  statements.push({
    Sid: 'Discovery',
    Effect: 'Allow',
    Action: sorted(discovery),
    // These Describe calls do not support resource-level permissions.
    Resource: ['*'],
  });

  if (condition) {
    for (const statement of statements) {
      statement.Condition = { ...statement.Condition, ...condition };
    }
  }
  return { Version: '2012-10-17', Statement: statements };
}
