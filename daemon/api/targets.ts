// Lists the online managed instances a profile can target, through DescribeInstanceInformation.

import {
  DescribeInstanceInformationCommand,
  type InstanceInformation,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { createSsmClient } from '../aws/clients.js';
import type { DescribeTargets, TargetInfo, TargetQuery } from './types.js';

/** Caps the listing at 10 pages of 50, so one request cannot loop over a huge fleet. */
const MAX_PAGES = 10;
const PAGE_SIZE = 50;

function toTargetInfo(instance: InstanceInformation): TargetInfo {
  return {
    instanceId: instance.InstanceId ?? '',
    name: instance.ComputerName ?? instance.Name ?? null,
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

/** Default DescribeTargets: one short-lived SSM client per request, destroyed afterwards. */
export function createDescribeTargets(timeoutMs = 15_000): DescribeTargets {
  return async (query: TargetQuery) => {
    const client = createSsmClient({
      region: query.region,
      endpoint: query.endpoint,
      awsProfile: query.awsProfile,
    });
    try {
      return await listOnlineTargets(client, AbortSignal.timeout(timeoutMs));
    } finally {
      client.destroy();
    }
  };
}
