// Lists the online managed instances a profile can target, through DescribeInstanceInformation,
// named by their EC2 Name tag where ec2:DescribeInstances allows it.

import {
  DescribeInstanceInformationCommand,
  type InstanceInformation,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { createAwsClientSet } from '../aws/clients.js';
import { findNameTags } from '../aws/targets.js';
import type { DescribeTargets, TargetInfo, TargetQuery } from './types.js';

/** Time the Name tag lookup may take; the list is shown with computer names after it. */
const NAME_TAGS_TIMEOUT_MS = 5000;

/** Caps the listing at 10 pages of 50, so one request cannot loop over a huge fleet. */
const MAX_PAGES = 10;
const PAGE_SIZE = 50;

function toTargetInfo(instance: InstanceInformation): TargetInfo {
  return {
    instanceId: instance.InstanceId ?? '',
    name: instance.ComputerName ?? instance.Name ?? null,
    computerName: instance.ComputerName ?? null,
    platform: instance.PlatformName ?? instance.PlatformType ?? null,
    agentVersion: instance.AgentVersion ?? null,
    ipAddress: instance.IPAddress ?? null,
    pingStatus: instance.PingStatus ?? 'Unknown',
    lastPingAt: instance.LastPingDateTime ? instance.LastPingDateTime.toISOString() : null,
  };
}

export async function listOnlineTargets(
  client: SSMClient,
  signal?: AbortSignal,
): Promise<TargetInfo[]> {
  const targets: TargetInfo[] = [];
  let nextToken: string | undefined;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const output = await client.send(
      new DescribeInstanceInformationCommand({
        Filters: [{ Key: 'PingStatus', Values: ['Online'] }],
        MaxResults: PAGE_SIZE,
        NextToken: nextToken,
      }),
      { abortSignal: signal },
    );
    for (const instance of output.InstanceInformationList ?? []) {
      targets.push(toTargetInfo(instance));
    }
    nextToken = output.NextToken;
    if (!nextToken) {
      break;
    }
  }
  return targets;
}

/**
 * Replaces each target's name with its EC2 Name tag, which `--target-tag Name=...` matches.
 * The tag is a convenience: without ec2:DescribeInstances, or past the time limit, the
 * computer names stay.
 */
async function nameByTags(
  targets: TargetInfo[],
  ec2: Parameters<typeof findNameTags>[0],
): Promise<void> {
  const ids = targets.map((target) => target.instanceId).filter((id) => id.startsWith('i-'));
  if (ids.length === 0) {
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), NAME_TAGS_TIMEOUT_MS);
  });
  try {
    const names = await Promise.race([findNameTags(ec2, ids).catch(() => null), timeout]);
    for (const target of targets) {
      target.name = names?.get(target.instanceId) ?? target.name;
    }
  } finally {
    clearTimeout(timer);
  }
}

/** Default DescribeTargets: short-lived SSM and EC2 clients per request, destroyed afterwards. */
export function createDescribeTargets(timeoutMs = 15_000): DescribeTargets {
  return async (query: TargetQuery) => {
    const clients = createAwsClientSet({
      region: query.region,
      awsProfile: query.awsProfile,
      endpoints: query.endpoint ? { ssm: query.endpoint, ec2: query.endpoint } : {},
    });
    try {
      const targets = await listOnlineTargets(clients.ssm, AbortSignal.timeout(timeoutMs));
      await nameByTags(targets, clients.ec2);
      return targets;
    } finally {
      clients.destroy();
    }
  };
}
