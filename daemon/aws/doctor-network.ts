// Network checks of `bastionless doctor`: how the target's agent reaches Systems Manager, and
// whether the local port is free.

import { createServer } from 'node:net';
import {
  DescribeInstancesCommand,
  DescribeRouteTablesCommand,
  DescribeVpcEndpointsCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';

/**
 * Interface endpoints an agent without internet access needs, by service name suffix. SSM
 * Agent 3.x opens sessions over ssmmessages and falls back to ec2messages only for commands
 * when ssmmessages is unavailable, so ec2messages is optional for port forwarding.
 */
export const REQUIRED_ENDPOINT_SERVICES = ['ssm', 'ssmmessages'] as const;
/** Endpoints older agents (before 3.x) need as well; their absence is only a warning. */
export const OPTIONAL_ENDPOINT_SERVICES = ['ec2messages'] as const;

export interface AgentPathReport {
  /** `public-ip`, `endpoints`, `nat` or `none`. */
  path: 'public-ip' | 'endpoints' | 'nat' | 'none';
  vpcId: string | null;
  missingEndpoints: string[];
  /** Optional endpoints (ec2messages) the VPC lacks; set only for the `endpoints` path. */
  missingOptionalEndpoints: string[];
}

interface InstanceNetwork {
  vpcId: string | null;
  subnetId: string | null;
  publicIp: string | null;
}

async function describeInstanceNetwork(
  ec2: EC2Client,
  instanceId: string,
): Promise<InstanceNetwork> {
  const output = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  const instance = output.Reservations?.[0]?.Instances?.[0];
  return {
    vpcId: instance?.VpcId ?? null,
    subnetId: instance?.SubnetId ?? null,
    publicIp: instance?.PublicIpAddress ?? null,
  };
}

async function missingEndpoints(
  ec2: EC2Client,
  region: string,
  vpcId: string,
): Promise<{ required: string[]; optional: string[] }> {
  const output = await ec2.send(
    new DescribeVpcEndpointsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }),
  );
  const present = new Set(
    (output.VpcEndpoints ?? [])
      .filter(
        (endpoint) => endpoint.State === undefined || endpoint.State.toLowerCase() === 'available',
      )
      .map((endpoint) => endpoint.ServiceName),
  );
  const missing = (services: readonly string[]) =>
    services
      .map((service) => `com.amazonaws.${region}.${service}`)
      .filter((serviceName) => !present.has(serviceName));
  return {
    required: missing(REQUIRED_ENDPOINT_SERVICES),
    optional: missing(OPTIONAL_ENDPOINT_SERVICES),
  };
}

/**
 * Returns true when the subnet's route table (or the VPC's main table, for a subnet without its
 * own) sends 0.0.0.0/0 to a NAT gateway.
 */
async function hasNatRoute(
  ec2: EC2Client,
  vpcId: string,
  subnetId: string | null,
): Promise<boolean> {
  let tables = subnetId
    ? ((
        await ec2.send(
          new DescribeRouteTablesCommand({
            Filters: [{ Name: 'association.subnet-id', Values: [subnetId] }],
          }),
        )
      ).RouteTables ?? [])
    : [];
  if (tables.length === 0) {
    const output = await ec2.send(
      new DescribeRouteTablesCommand({
        Filters: [
          { Name: 'vpc-id', Values: [vpcId] },
          { Name: 'association.main', Values: ['true'] },
        ],
      }),
    );
    tables = output.RouteTables ?? [];
  }
  return tables.some((table) =>
    (table.Routes ?? []).some(
      (route) =>
        route.DestinationCidrBlock === '0.0.0.0/0' &&
        route.NatGatewayId !== undefined &&
        route.State !== 'blackhole',
    ),
  );
}

/**
 * Works out how the agent on an EC2 instance reaches Systems Manager: a public IP, interface
 * endpoints for ssm and ssmmessages, or a NAT route.
 */
export async function checkAgentPath(
  ec2: EC2Client,
  region: string,
  instanceId: string,
): Promise<AgentPathReport> {
  const network = await describeInstanceNetwork(ec2, instanceId);
  const none = { missingEndpoints: [], missingOptionalEndpoints: [] };
  if (network.publicIp) {
    return { path: 'public-ip', vpcId: network.vpcId, ...none };
  }
  if (!network.vpcId) {
    return { path: 'none', vpcId: null, ...none };
  }
  const missing = await missingEndpoints(ec2, region, network.vpcId);
  if (missing.required.length === 0) {
    return {
      path: 'endpoints',
      vpcId: network.vpcId,
      missingEndpoints: [],
      missingOptionalEndpoints: missing.optional,
    };
  }
  const path = (await hasNatRoute(ec2, network.vpcId, network.subnetId)) ? 'nat' : 'none';
  return {
    path,
    vpcId: network.vpcId,
    missingEndpoints: missing.required,
    missingOptionalEndpoints: [],
  };
}

/** Tries to listen on `host:port`; resolves to null when free, else the error code (EADDRINUSE…). */
export function probeLocalPort(
  host: string,
  port: number,
  timeoutMs = 2_000,
): Promise<string | null> {
  return new Promise((resolve) => {
    const server = createServer();
    const timer = setTimeout(() => {
      server.close();
      resolve('ETIMEDOUT');
    }, timeoutMs);
    timer.unref();
    server.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(error.code ?? 'EUNKNOWN');
    });
    server.listen({ host, port, exclusive: true }, () => {
      clearTimeout(timer);
      server.close(() => resolve(null));
    });
  });
}
