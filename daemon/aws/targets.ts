// Managed-instance targets: list them, check one by id, or pick one by tags. A profile may
// name its target by tags, so a replaced or rebooted instance is found again.

import type { EC2Client, Filter } from '@aws-sdk/client-ec2';
import {
  DescribeInstanceInformationCommand,
  type InstanceInformation,
  type InstanceInformationStringFilter,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import type { TargetSpec } from '../config/types.js';
import { BastionlessError } from '../errors.js';

export interface TargetClients {
  ssm: SSMClient;
  ec2: EC2Client;
}

export interface ManagedInstance {
  instanceId: string;
  /** `Online`, `ConnectionLost` or `Inactive`. */
  pingStatus: string;
  agentVersion: string;
  platformName: string | null;
  ipAddress: string | null;
  /** True when the agent multiplexes connections over one session (smux). */
  supportsMux: boolean;
  /**
   * Value of the EC2 `Name` tag, or the name given at activation for a hybrid (`mi-`) node.
   * Null when there is none, or when listTargets could not read the tags.
   */
  name: string | null;
}

/** A pick among several Online instances that match one tag target. */
export interface TargetChoice {
  instanceId: string;
  /** Every Online match, sorted by instance id. */
  onlineIds: string[];
  /** `previous` keeps the earlier choice while it is Online; else the lowest id wins. */
  reason: 'lowest-id' | 'previous';
}

/** Agents newer than this version multiplex port-forwarding connections with smux. */
export const MUX_MIN_EXCLUSIVE_AGENT_VERSION = '3.0.196.0';
// NOTE: the service limits the values of one InstanceIds filter. 50 per call is a guess that
// stays under that limit, which the API reference pages at hand do not state.
const INSTANCE_IDS_PER_FILTER = 50;
// Bounds one listing at 100 pages, so a service that keeps returning NextToken cannot loop it
// forever. NOTE: a fleet larger than 100 pages is listed only in part.
const MAX_PAGES = 100;

/** Compares dotted numeric versions; a missing part counts as 0. */
export function compareVersions(left: string, right: string): number {
  const a = left.split('.').map((part) => Number.parseInt(part, 10) || 0);
  const b = right.split('.').map((part) => Number.parseInt(part, 10) || 0);
  for (let index = 0; index < Math.max(a.length, b.length); index += 1) {
    const difference = (a[index] ?? 0) - (b[index] ?? 0);
    if (difference !== 0) {
      return Math.sign(difference);
    }
  }
  return 0;
}

export function agentSupportsMux(agentVersion: string): boolean {
  return compareVersions(agentVersion, MUX_MIN_EXCLUSIVE_AGENT_VERSION) > 0;
}

function toManagedInstance(info: InstanceInformation): ManagedInstance {
  const agentVersion = info.AgentVersion ?? '';
  return {
    instanceId: info.InstanceId ?? '',
    pingStatus: info.PingStatus ?? 'Unknown',
    agentVersion,
    platformName: info.PlatformName ?? null,
    ipAddress: info.IPAddress ?? null,
    supportsMux: agentSupportsMux(agentVersion),
    name: info.Name || null,
  };
}

async function describeInstanceInformation(
  ssm: SSMClient,
  filters: InstanceInformationStringFilter[] | undefined,
): Promise<ManagedInstance[]> {
  const instances: ManagedInstance[] = [];
  let nextToken: string | undefined;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const output = await ssm.send(
      new DescribeInstanceInformationCommand({ Filters: filters, NextToken: nextToken }),
    );
    instances.push(...(output.InstanceInformationList ?? []).map(toManagedInstance));
    nextToken = output.NextToken;
    if (!nextToken) {
      break;
    }
  }
  return instances;
}

/**
 * Lists the managed instances of the region, sorted by instance id. With `ec2`, EC2 instances
 * also get their `Name` tag. A failure of that call leaves the names null and comes back as
 * `namesError` instead of failing the listing.
 */
export async function listTargets(
  ssm: SSMClient,
  ec2?: EC2Client,
): Promise<{ instances: ManagedInstance[]; namesError: unknown }> {
  const instances = await describeInstanceInformation(ssm, undefined);
  instances.sort((a, b) => a.instanceId.localeCompare(b.instanceId));
  let namesError: unknown = null;
  if (ec2) {
    try {
      const names = await findNameTags(
        ec2,
        instances.map((instance) => instance.instanceId).filter((id) => id.startsWith('i-')),
      );
      for (const instance of instances) {
        instance.name = names.get(instance.instanceId) ?? instance.name;
      }
    } catch (error) {
      namesError = error;
    }
  }
  return { instances, namesError };
}

/** Returns the `Name` tag of each of `instanceIds` that has one. */
export async function findNameTags(
  ec2: EC2Client,
  instanceIds: string[],
): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  const { DescribeInstancesCommand } = await import('@aws-sdk/client-ec2');
  for (let start = 0; start < instanceIds.length; start += INSTANCE_IDS_PER_FILTER) {
    const chunk = instanceIds.slice(start, start + INSTANCE_IDS_PER_FILTER);
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const output = await ec2.send(
        new DescribeInstancesCommand({
          Filters: [{ Name: 'instance-id', Values: chunk }],
          NextToken: nextToken,
        }),
      );
      for (const reservation of output.Reservations ?? []) {
        for (const instance of reservation.Instances ?? []) {
          const name = instance.Tags?.find((tag) => tag.Key === 'Name')?.Value;
          if (instance.InstanceId && name) {
            names.set(instance.InstanceId, name);
          }
        }
      }
      nextToken = output.NextToken;
      if (!nextToken) {
        break;
      }
    }
  }
  return names;
}

/** Returns the managed-instance records of `instanceIds`; ids that are not managed are absent. */
export async function describeManagedInstances(
  ssm: SSMClient,
  instanceIds: string[],
): Promise<ManagedInstance[]> {
  const requested = new Set(instanceIds);
  const found: ManagedInstance[] = [];
  for (let start = 0; start < instanceIds.length; start += INSTANCE_IDS_PER_FILTER) {
    const chunk = instanceIds.slice(start, start + INSTANCE_IDS_PER_FILTER);
    const page = await describeInstanceInformation(ssm, [{ Key: 'InstanceIds', Values: chunk }]);
    found.push(...page.filter((instance) => requested.has(instance.instanceId)));
  }
  return found;
}

/** Returns the ids of running EC2 instances that carry every tag of `tags`, sorted. */
export async function findInstanceIdsByTags(
  ec2: EC2Client,
  tags: Record<string, string>,
): Promise<string[]> {
  const filters: Filter[] = Object.entries(tags).map(([key, value]) => ({
    Name: `tag:${key}`,
    Values: [value],
  }));
  filters.push({ Name: 'instance-state-name', Values: ['running'] });
  // Loaded here because the EC2 package adds tens of MB to a daemon whose profiles use none.
  const { DescribeInstancesCommand } = await import('@aws-sdk/client-ec2');
  const ids: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await ec2.send(
      new DescribeInstancesCommand({ Filters: filters, NextToken: nextToken }),
    );
    for (const reservation of page.Reservations ?? []) {
      for (const instance of reservation.Instances ?? []) {
        if (instance.InstanceId) {
          ids.push(instance.InstanceId);
        }
      }
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return ids.sort();
}

export function describeTargetSpec(spec: TargetSpec): string {
  if (typeof spec === 'string') {
    return spec;
  }
  const pairs = Object.entries(spec.tags).map(([key, value]) => `${key}=${value}`);
  return `tags ${pairs.join(',')}`;
}

function noOnlineTarget(spec: TargetSpec, candidates: ManagedInstance[]): BastionlessError {
  const label = describeTargetSpec(spec);
  if (candidates.length === 0) {
    return new BastionlessError(
      'ERR_INVALID_TARGET',
      `No managed instance matches target ${label}.`,
      {
        hint: 'Check the instance id or tags, the region, and that the SSM agent is registered (`bastionless targets`).',
      },
    );
  }
  const states = candidates.map((item) => `${item.instanceId} ${item.pingStatus}`).join(', ');
  return new BastionlessError(
    'ERR_TARGET_NOT_CONNECTED',
    `No managed instance of target ${label} is Online (${states}).`,
    {
      hint: 'Start the instance or restart its SSM agent; the tunnel retries on the next connection.',
      retryable: true,
    },
  );
}

/**
 * Resolves a target spec to one Online managed instance. Among several matches it keeps the
 * previous choice while that one is Online, and otherwise takes the lowest instance id, so
 * every daemon picks the same instance. `onChoice` hears of every pick among several.
 */
export async function resolveTarget(
  spec: TargetSpec,
  clients: TargetClients,
  previous?: string,
  onChoice?: (choice: TargetChoice) => void,
): Promise<ManagedInstance> {
  const ids =
    typeof spec === 'string' ? [spec] : await findInstanceIdsByTags(clients.ec2, spec.tags);
  const candidates = ids.length === 0 ? [] : await describeManagedInstances(clients.ssm, ids);
  const online = candidates
    .filter((instance) => instance.pingStatus === 'Online')
    .sort((a, b) => a.instanceId.localeCompare(b.instanceId));
  const previousChoice = online.find((instance) => instance.instanceId === previous);
  const chosen = previousChoice ?? online[0];
  if (!chosen) {
    throw noOnlineTarget(spec, candidates);
  }
  if (online.length > 1) {
    onChoice?.({
      instanceId: chosen.instanceId,
      onlineIds: online.map((instance) => instance.instanceId),
      reason: previousChoice ? 'previous' : 'lowest-id',
    });
  }
  return chosen;
}

/** Resolves a target spec again on every call, sticking to the last choice while it is Online. */
export interface TargetResolver {
  resolve(): Promise<ManagedInstance>;
  /** Instance id of the last successful resolve, or null. */
  readonly current: string | null;
}

/**
 * Creates a resolver. `onChoice` hears of a pick among several Online matches only when the
 * choice changes, because the tunnel resolves again on every health check.
 */
export function createTargetResolver(
  spec: TargetSpec,
  clients: TargetClients,
  onChoice?: (choice: TargetChoice) => void,
): TargetResolver {
  let current: string | null = null;
  return {
    get current() {
      return current;
    },
    async resolve() {
      const chosen = await resolveTarget(spec, clients, current ?? undefined, (choice) => {
        if (choice.instanceId !== current) {
          onChoice?.(choice);
        }
      });
      current = chosen.instanceId;
      return chosen;
    },
  };
}

/** Formats a pick among several Online instances for the tunnel's log. */
export function describeTargetChoice(spec: TargetSpec, choice: TargetChoice): string {
  const rule =
    choice.reason === 'previous' ? 'kept the previous choice' : 'picked the lowest instance id';
  return (
    `target ${describeTargetSpec(spec)} matches ${choice.onlineIds.length} Online instances ` +
    `(${choice.onlineIds.join(', ')}); ${rule}, ${choice.instanceId}`
  );
}
