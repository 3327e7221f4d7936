// The SSM operations the emulator serves itself: sessions, managed instances and
// connection status, with the error types the real service returns.

import { AwsApiError } from '../errors.js';
import { INSTANCE_ID_PATTERN, type ScenarioInstance } from '../scenario.js';
import type { HandlerContext, JsonHandler } from '../services/index.js';

export const PORT_DOCUMENT = 'AWS-StartPortForwardingSession';
export const REMOTE_PORT_DOCUMENT = 'AWS-StartPortForwardingSessionToRemoteHost';

export interface StartSessionRequest {
  target: string;
  documentName: string;
  /** Empty for AWS-StartPortForwardingSession, which dials the target itself. */
  host: string;
  port: number;
  localPortNumber: string;
  accessKeyId: string;
  agentVersion: string;
  /** Session document properties after parameter substitution. */
  properties: Record<string, string>;
}

export interface SessionTokenResponse {
  SessionId: string;
  TokenValue: string;
  StreamUrl: string;
}

/** What the SSM handlers need from the running emulator. */
export interface SessionHost {
  startSession(request: StartSessionRequest): SessionTokenResponse;
  resumeSession(sessionId: string): SessionTokenResponse;
  terminateSession(sessionId: string, by: string): void;
  defaultAgentVersion: string;
}

type Parameters = Record<string, string[] | undefined>;

function requireString(input: Record<string, unknown>, field: string): string {
  const value = input[field];
  if (typeof value !== 'string' || value === '') {
    throw new AwsApiError(
      'ValidationException',
      `1 validation error detected: ${field} is missing`,
    );
  }
  return value;
}

function firstParameter(parameters: Parameters, name: string): string | undefined {
  const values = parameters[name];
  return Array.isArray(values) ? values[0] : undefined;
}

/** Finds the managed instance for `target`, or synthesizes one in the default mode. */
export function findInstance(
  ctx: HandlerContext,
  target: string,
  agentVersion: string,
): ScenarioInstance | undefined {
  const listed = ctx.state.scenario.instances.find((i) => i.instanceId === target);
  if (listed || ctx.state.scenario.strict || !INSTANCE_ID_PATTERN.test(target)) {
    return listed;
  }
  return { instanceId: target, pingStatus: 'Online', agentVersion, tags: {} };
}

function parsePort(value: string | undefined, field: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new AwsApiError(
      'InvalidParameters',
      `Parameter "${field}" is invalid: ${JSON.stringify(value)} is not a port number from 1 to 65535.`,
    );
  }
  return port;
}

function startSession(host: SessionHost): JsonHandler {
  return (input: Record<string, unknown>, ctx) => {
    const target = requireString(input, 'Target');
    if (ctx.state.scenario.denyStartSession?.includes(ctx.accessKeyId)) {
      throw new AwsApiError(
        'AccessDeniedException',
        `User with access key ${ctx.accessKeyId} is not authorized to perform: ssm:StartSession on resource: ${target}`,
      );
    }
    const documentName = (input.DocumentName as string | undefined) ?? 'SSM-SessionManagerRunShell';
    if (documentName !== PORT_DOCUMENT && documentName !== REMOTE_PORT_DOCUMENT) {
      throw new AwsApiError(
        'InvalidDocument',
        `Document ${documentName} is not supported by the emulator: use ${PORT_DOCUMENT} or ${REMOTE_PORT_DOCUMENT}.`,
      );
    }
    const instance = findInstance(ctx, target, host.defaultAgentVersion);
    if (!instance) {
      throw new AwsApiError('InvalidTarget', `Target ${target} is not a managed instance.`);
    }
    if (instance.pingStatus !== 'Online') {
      throw new AwsApiError('TargetNotConnected', `${target} is not connected.`);
    }
    const parameters = (input.Parameters as Parameters | undefined) ?? {};
    const portText = firstParameter(parameters, 'portNumber') ?? '80';
    const port = parsePort(portText, 'portNumber');
    const localPortNumber = firstParameter(parameters, 'localPortNumber') ?? '0';
    const properties: Record<string, string> = {
      portNumber: portText,
      type: 'LocalPortForwarding',
      localPortNumber,
    };
    let remoteHost = '';
    if (documentName === REMOTE_PORT_DOCUMENT) {
      remoteHost = firstParameter(parameters, 'host') ?? '';
      if (remoteHost === '') {
        throw new AwsApiError(
          'InvalidParameters',
          'Parameter "host" is required by this document.',
        );
      }
      properties.host = remoteHost;
    }
    return host.startSession({
      target,
      documentName,
      host: remoteHost,
      port,
      localPortNumber,
      accessKeyId: ctx.accessKeyId,
      agentVersion: instance.agentVersion,
      properties,
    });
  };
}

interface InstanceFilter {
  key: string;
  values: string[];
}

function readFilters(input: Record<string, unknown>): InstanceFilter[] {
  const filters: InstanceFilter[] = [];
  for (const f of (input.Filters as { Key: string; Values: string[] }[] | undefined) ?? []) {
    filters.push({ key: f.Key, values: f.Values ?? [] });
  }
  const legacy = input.InstanceInformationFilterList as
    { key: string; valueSet: string[] }[] | undefined;
  for (const f of legacy ?? []) {
    filters.push({ key: f.key, values: f.valueSet ?? [] });
  }
  return filters;
}

function matchesFilter(instance: ScenarioInstance, filter: InstanceFilter): boolean {
  if (filter.key.startsWith('tag:')) {
    const value = instance.tags[filter.key.slice(4)];
    return value !== undefined && filter.values.includes(value);
  }
  switch (filter.key) {
    case 'InstanceIds':
      return filter.values.includes(instance.instanceId);
    case 'PingStatus':
      return filter.values.includes(instance.pingStatus);
    case 'tag-key':
      return filter.values.some((key) => key in instance.tags);
    case 'AgentVersion':
      return filter.values.includes(instance.agentVersion);
    case 'PlatformTypes':
      return filter.values.includes('Linux');
    case 'ResourceType':
      return filter.values.includes(resourceType(instance));
    default:
      throw new AwsApiError(
        'InvalidInstanceInformationFilterValue',
        `Unsupported filter key ${filter.key}.`,
      );
  }
}

function resourceType(instance: ScenarioInstance): string {
  return instance.instanceId.startsWith('mi-') ? 'ManagedInstance' : 'EC2Instance';
}

function describeInstance(instance: ScenarioInstance): Record<string, unknown> {
  return {
    InstanceId: instance.instanceId,
    PingStatus: instance.pingStatus,
    LastPingDateTime: Math.floor(Date.now() / 1000),
    AgentVersion: instance.agentVersion,
    IsLatestVersion: true,
    PlatformType: 'Linux',
    PlatformName: instance.platformName ?? 'Amazon Linux',
    PlatformVersion: '2023',
    ResourceType: resourceType(instance),
    IPAddress: instance.privateIpAddress ?? instance.ipAddress,
    ComputerName: `ip-${(instance.privateIpAddress ?? '10.0.0.1').replaceAll('.', '-')}.ec2.internal`,
    SourceId: instance.instanceId,
    SourceType: 'AWS::EC2::Instance',
  };
}

function describeInstanceInformation(host: SessionHost): JsonHandler {
  return (input: Record<string, unknown>, ctx) => {
    const filters = readFilters(input);
    const instances = [...ctx.state.scenario.instances];
    // In the default mode any well-formed id asked for by InstanceIds exists.
    for (const filter of filters.filter((f) => f.key === 'InstanceIds')) {
      for (const id of filter.values) {
        const instance = findInstance(ctx, id, host.defaultAgentVersion);
        if (
          instance &&
          !instances.includes(instance) &&
          !instances.some((i) => i.instanceId === id)
        ) {
          instances.push(instance);
        }
      }
    }
    const matching = instances.filter((i) => filters.every((f) => matchesFilter(i, f)));
    const maxResults = Number(input.MaxResults ?? 50);
    const start = Number(input.NextToken ?? 0);
    const page = matching.slice(start, start + maxResults);
    const next = start + maxResults < matching.length ? String(start + maxResults) : undefined;
    return { InstanceInformationList: page.map(describeInstance), NextToken: next };
  };
}

/** Builds the SSM handlers, keyed by X-Amz-Target. */
export function createSsmHandlers(host: SessionHost): Record<string, JsonHandler> {
  return {
    'AmazonSSM.StartSession': startSession(host),
    'AmazonSSM.ResumeSession': (input: Record<string, unknown>) =>
      host.resumeSession(requireString(input, 'SessionId')),
    'AmazonSSM.TerminateSession': (input: Record<string, unknown>, ctx) => {
      const sessionId = requireString(input, 'SessionId');
      host.terminateSession(sessionId, `api:${ctx.accessKeyId}`);
      return { SessionId: sessionId };
    },
    'AmazonSSM.DescribeInstanceInformation': describeInstanceInformation(host),
    'AmazonSSM.GetConnectionStatus': (input: Record<string, unknown>, ctx) => {
      const target = requireString(input, 'Target');
      const instance = findInstance(ctx, target, host.defaultAgentVersion);
      const connected = instance?.pingStatus === 'Online';
      return { Target: target, Status: connected ? 'connected' : 'notconnected' };
    },
  };
}
