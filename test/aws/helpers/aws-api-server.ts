// A loopback HTTP server that serves the emulator's AWS service handlers to real SDK
// clients. It stands in for the emulator's own API server in the AWS integration tests and
// adds the three session-related SSM operations those tests call.

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AwsApiError } from '../../emulator/errors.js';
import { normalizeScenario } from '../../emulator/scenario.js';
import { jsonHandlers, queryHandlers, type HandlerContext } from '../../emulator/services/index.js';
import { parseAuthorization } from '../../emulator/sigv4.js';
import type { EmulatorState } from '../../emulator/state.js';

export interface AwsApiServer {
  endpoint: string;
  state: EmulatorState;
  close(): Promise<void>;
}

/** Applies the `InstanceIds` filter of DescribeInstanceInformation, the only one the tests use. */
function instancesMatching(input: Record<string, unknown>, ctx: HandlerContext) {
  const filters = (input.Filters ?? []) as { Key: string; Values: string[] }[];
  const ids = filters.find((filter) => filter.Key === 'InstanceIds')?.Values;
  return ctx.state.scenario.instances.filter(
    (instance) => !ids || ids.includes(instance.instanceId),
  );
}

// NOTE: minimal stand-ins for operations the emulator API serves itself; they cover what the
// AWS integration tests need (instance listing, StartSession access checks) and nothing more.
const sessionHandlers: Record<
  string,
  (input: Record<string, unknown>, ctx: HandlerContext) => unknown
> = {
  'AmazonSSM.DescribeInstanceInformation': (input, ctx) => ({
    InstanceInformationList: instancesMatching(input, ctx).map((instance) => ({
      InstanceId: instance.instanceId,
      PingStatus: instance.pingStatus,
      AgentVersion: instance.agentVersion,
      PlatformName: instance.platformName ?? 'Amazon Linux',
      IPAddress: instance.privateIpAddress ?? instance.ipAddress,
    })),
  }),
  'AmazonSSM.StartSession': (input, ctx) => {
    if (ctx.state.scenario.denyStartSession?.includes(ctx.accessKeyId)) {
      throw new AwsApiError(
        'AccessDeniedException',
        'User is not authorized to perform: ssm:StartSession',
      );
    }
    const instance = ctx.state.scenario.instances.find((item) => item.instanceId === input.Target);
    if (!instance || instance.pingStatus !== 'Online') {
      throw new AwsApiError('TargetNotConnected', `${String(input.Target)} is not connected.`);
    }
    const sessionId = `emulator-${randomUUID()}`;
    return {
      SessionId: sessionId,
      TokenValue: randomUUID(),
      StreamUrl: `wss://127.0.0.1/${sessionId}`,
    };
  },
  'AmazonSSM.TerminateSession': (input) => ({ SessionId: input.SessionId }),
};

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function queryErrorXml(service: string, error: AwsApiError): string {
  if (service === 'ec2') {
    return `<Response><Errors><Error><Code>${error.type}</Code><Message>${error.message}</Message></Error></Errors><RequestID>${randomUUID()}</RequestID></Response>`;
  }
  return `<ErrorResponse><Error><Type>Sender</Type><Code>${error.type}</Code><Message>${error.message}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`;
}

async function dispatch(request: IncomingMessage, state: EmulatorState) {
  const body = await readBody(request);
  const auth = parseAuthorization(request.headers.authorization);
  const ctx: HandlerContext = {
    state,
    accessKeyId: auth?.accessKeyId ?? '',
    region: auth?.region ?? 'us-east-1',
  };
  const target = request.headers['x-amz-target'];
  if (typeof target === 'string') {
    const handler = jsonHandlers[target] ?? sessionHandlers[target];
    state.calls.push({
      operation: target,
      input: JSON.parse(body || '{}'),
      accessKeyId: ctx.accessKeyId,
      region: ctx.region,
      time: Date.now(),
    });
    try {
      if (!handler) {
        throw new AwsApiError('InvalidAction', `unknown operation ${target}`);
      }
      const result = await handler(JSON.parse(body || '{}'), ctx);
      return { status: 200, type: 'application/x-amz-json-1.1', text: JSON.stringify(result) };
    } catch (error) {
      const apiError = error as AwsApiError;
      const text = JSON.stringify({ __type: apiError.type, message: apiError.message });
      return { status: apiError.status ?? 500, type: 'application/x-amz-json-1.1', text };
    }
  }
  const params = Object.fromEntries(new URLSearchParams(body));
  const service = auth?.service ?? '';
  state.calls.push({
    operation: `${service}:${params.Action}`,
    input: params,
    accessKeyId: ctx.accessKeyId,
    region: ctx.region,
    time: Date.now(),
  });
  try {
    const handler = queryHandlers[service]?.[params.Action ?? ''];
    if (!handler) {
      throw new AwsApiError('InvalidAction', `unknown action ${service}:${params.Action}`);
    }
    return { status: 200, type: 'text/xml', text: await handler(params, ctx) };
  } catch (error) {
    const apiError = error as AwsApiError;
    return {
      status: apiError.status ?? 500,
      type: 'text/xml',
      text: queryErrorXml(service, apiError),
    };
  }
}

/** Starts the server on 127.0.0.1 with a strict scenario built from `scenario`. */
export async function startAwsApiServer(scenario: Record<string, unknown>): Promise<AwsApiServer> {
  const state: EmulatorState = {
    scenario: normalizeScenario(scenario),
    calls: [],
    sessions: new Map(),
  };
  const server: Server = createServer((request, response) => {
    dispatch(request, state).then(
      ({ status, type, text }) => {
        response.writeHead(status, { 'content-type': type });
        response.end(text);
      },
      (error: Error) => {
        response.writeHead(500, { 'content-type': 'text/plain' });
        response.end(error.message);
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
