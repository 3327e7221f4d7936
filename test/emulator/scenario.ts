// Scenario: the AWS account the emulator plays (credentials, managed instances, network,
// databases, parameters, session policy), loaded from an optional JSON file.

import { readFile } from 'node:fs/promises';

export interface ScenarioCredential {
  accessKeyId: string;
  /** When present, request signatures are verified with it; otherwise any signature passes. */
  secretAccessKey?: string;
  /** When present, requests must carry it in X-Amz-Security-Token. */
  sessionToken?: string;
  /** Requests signed with an expired key get ExpiredTokenException. */
  expired?: boolean;
  account?: string;
  arn?: string;
}

export type PingStatus = 'Online' | 'ConnectionLost';

export interface ScenarioInstance {
  instanceId: string;
  pingStatus: PingStatus;
  agentVersion: string;
  tags: Record<string, string>;
  platformName?: string;
  ipAddress?: string;
  privateIpAddress?: string;
  vpcId?: string;
  subnetId?: string;
  publicIp?: string | null;
}

export interface ScenarioVpc {
  vpcId: string;
  cidr: string;
  /** Interface endpoint service names, e.g. `com.amazonaws.us-east-1.ssm`. */
  endpoints: string[];
  natGateway?: boolean;
}

export interface ScenarioDbInstance {
  id: string;
  endpoint: { address: string; port: number };
  engine: string;
}

export interface ScenarioDbCluster {
  id: string;
  endpoint: string;
  port: number;
  engine: string;
}

export interface ScenarioCacheCluster {
  id: string;
  address: string;
  port: number;
  engine: string;
}

export interface ScenarioParameter {
  name: string;
  value: string;
  type: string;
}

export interface SessionPolicy {
  /** Time without stream data after which the service closes the session. */
  idleTimeoutMs?: number;
  /** Time after StartSession at which the service closes the session. */
  maxSessionDurationMs?: number;
}

export interface Scenario {
  credentials: ScenarioCredential[];
  instances: ScenarioInstance[];
  vpcs: ScenarioVpc[];
  dbInstances: ScenarioDbInstance[];
  dbClusters: ScenarioDbCluster[];
  cacheClusters: ScenarioCacheCluster[];
  parameters: ScenarioParameter[];
  sessionPolicy: SessionPolicy;
  /** Access key ids whose StartSession calls get AccessDeniedException. */
  denyStartSession?: string[];
  /**
   * Loopback addresses the emulated agent dials instead of a remote host, keyed by
   * `host` or `host:port` (for example an RDS endpoint name mapped to `127.0.0.1:54321`).
   * The agent dials loopback addresses only, so every other host needs an entry here.
   */
  dialOverrides?: Record<string, string>;
  /**
   * True when the scenario came from a file or an object: only listed instances exist, and
   * only listed access keys are accepted unless `credentials` is empty. False in the
   * default mode, where any well-formed instance id is an Online managed instance.
   */
  strict: boolean;
}

export const DEFAULT_AGENT_VERSION = '3.3.987.0';
export const INSTANCE_ID_PATTERN = /^(i|mi)-[0-9a-f]{8,17}$/;

/** Instances listed by DescribeInstanceInformation when no scenario is given. */
function defaultInstances(agentVersion: string): ScenarioInstance[] {
  const base = { pingStatus: 'Online' as const, agentVersion, platformName: 'Amazon Linux' };
  return [
    {
      ...base,
      instanceId: 'i-0123456789abcdef0',
      tags: { Name: 'app-server', Environment: 'dev' },
      privateIpAddress: '10.0.1.10',
      vpcId: 'vpc-0a1b2c3d4e5f60001',
      subnetId: 'subnet-0a1b2c3d4e5f60001',
      publicIp: null,
    },
    {
      ...base,
      instanceId: 'i-0fedcba9876543210',
      tags: { Name: 'jump-free-bastion', Environment: 'prod' },
      privateIpAddress: '10.0.2.20',
      vpcId: 'vpc-0a1b2c3d4e5f60001',
      subnetId: 'subnet-0a1b2c3d4e5f60002',
      publicIp: null,
    },
    {
      ...base,
      instanceId: 'i-00000000000000bad',
      pingStatus: 'ConnectionLost',
      tags: { Name: 'stopped-worker', Environment: 'dev' },
      privateIpAddress: '10.0.3.30',
    },
  ];
}

export function defaultScenario(agentVersion = DEFAULT_AGENT_VERSION): Scenario {
  return {
    credentials: [],
    instances: defaultInstances(agentVersion),
    vpcs: [
      {
        vpcId: 'vpc-0a1b2c3d4e5f60001',
        cidr: '10.0.0.0/16',
        endpoints: ['com.amazonaws.us-east-1.ssm', 'com.amazonaws.us-east-1.ssmmessages'],
        natGateway: false,
      },
    ],
    dbInstances: [],
    dbClusters: [],
    cacheClusters: [],
    parameters: [],
    sessionPolicy: {},
    strict: false,
  };
}

export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
  readonly code = 'ERR_INVALID_SCENARIO';
}

function arrayField<T>(raw: Record<string, unknown>, key: string): T[] {
  const value = raw[key];
  if (value === undefined) {
    return [];
  }
  if (!Array.isArray(value)) {
    throw new ScenarioError(`invalid scenario field "${key}": expected an array`);
  }
  return value as T[];
}

/**
 * Fills the defaults of a partial scenario object and checks the fields the emulator
 * relies on. A given scenario is strict unless it sets `strict: false`.
 */
export function normalizeScenario(input: unknown, agentVersion = DEFAULT_AGENT_VERSION): Scenario {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ScenarioError('invalid scenario: expected a JSON object');
  }
  const raw = input as Record<string, unknown>;
  const instances = arrayField<Partial<ScenarioInstance>>(raw, 'instances').map((instance) => {
    if (typeof instance.instanceId !== 'string' || !INSTANCE_ID_PATTERN.test(instance.instanceId)) {
      throw new ScenarioError(
        `invalid scenario instance id ${JSON.stringify(instance.instanceId)}: expected i-… or mi-… with 8 to 17 hex digits`,
      );
    }
    return {
      ...instance,
      instanceId: instance.instanceId,
      pingStatus: instance.pingStatus ?? 'Online',
      agentVersion: instance.agentVersion ?? agentVersion,
      tags: instance.tags ?? {},
    };
  });
  const credentials = arrayField<ScenarioCredential>(raw, 'credentials');
  for (const credential of credentials) {
    if (typeof credential.accessKeyId !== 'string' || credential.accessKeyId === '') {
      throw new ScenarioError('invalid scenario credential: accessKeyId is missing');
    }
  }
  return {
    credentials,
    instances,
    vpcs: arrayField(raw, 'vpcs'),
    dbInstances: arrayField(raw, 'dbInstances'),
    dbClusters: arrayField(raw, 'dbClusters'),
    cacheClusters: arrayField(raw, 'cacheClusters'),
    parameters: arrayField(raw, 'parameters'),
    sessionPolicy: (raw.sessionPolicy as SessionPolicy | undefined) ?? {},
    denyStartSession: arrayField(raw, 'denyStartSession'),
    dialOverrides: (raw.dialOverrides as Record<string, string> | undefined) ?? {},
    strict: (raw.strict as boolean | undefined) ?? true,
  };
}

export async function loadScenarioFile(path: string, agentVersion?: string): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ScenarioError(`failed to read scenario file ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ScenarioError(`invalid JSON in scenario file ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return normalizeScenario(parsed, agentVersion);
}
