// The AWS API entry point `POST /`: SigV4 authentication, then dispatch to a JSON-protocol
// handler by X-Amz-Target or to a query-protocol handler by service and Action.

import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { AwsApiError } from '../errors.js';
import {
  jsonHandlers as serviceJsonHandlers,
  queryHandlers,
  type HandlerContext,
  type JsonHandler,
} from '../services/index.js';
import { parseAuthorization, verifySignature, type SigV4Authorization } from '../sigv4.js';
import type { ApiCallRecord, EmulatorState } from '../state.js';

const AMZ_JSON = 'application/x-amz-json-1.1';

export interface AwsRouterOptions {
  state: EmulatorState;
  /** Handlers served before the services extension point, keyed by X-Amz-Target. */
  handlers: Record<string, JsonHandler>;
  logger?: Logger;
}

function invalidToken(): AwsApiError {
  return new AwsApiError(
    'UnrecognizedClientException',
    'The security token included in the request is invalid.',
  );
}

/** Checks the SigV4 Authorization header against the scenario credentials. */
function authenticate(request: FastifyRequest, state: EmulatorState): SigV4Authorization {
  const auth = parseAuthorization(request.headers.authorization);
  if (auth === null) {
    throw invalidToken();
  }
  const known = state.scenario.credentials;
  if (known.length === 0) {
    return auth;
  }
  const credential = known.find((c) => c.accessKeyId === auth.accessKeyId);
  if (credential === undefined) {
    throw invalidToken();
  }
  if (credential.expired) {
    throw new AwsApiError(
      'ExpiredTokenException',
      'The security token included in the request is expired',
    );
  }
  if (
    credential.sessionToken !== undefined &&
    request.headers['x-amz-security-token'] !== credential.sessionToken
  ) {
    throw invalidToken();
  }
  if (credential.secretAccessKey !== undefined) {
    const signed = {
      method: request.method,
      url: request.url,
      headers: request.headers,
      body: (request.body as Buffer | undefined) ?? Buffer.alloc(0),
    };
    if (!verifySignature(signed, auth, credential.secretAccessKey)) {
      throw new AwsApiError(
        'InvalidSignatureException',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
      );
    }
  }
  return auth;
}

function sendJsonError(reply: FastifyReply, error: AwsApiError): FastifyReply {
  return reply
    .code(error.status)
    .header('content-type', AMZ_JSON)
    .header('x-amzn-errortype', error.type)
    .header('x-amzn-requestid', randomUUID())
    .send(JSON.stringify({ __type: error.type, message: error.message }));
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function sendXmlError(reply: FastifyReply, error: AwsApiError, service: string): FastifyReply {
  const requestId = randomUUID();
  const code = escapeXml(error.type);
  const message = escapeXml(error.message);
  // EC2 wraps errors in <Response><Errors>; the other query services use <ErrorResponse>.
  const body =
    service === 'ec2'
      ? `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`
      : `<?xml version="1.0" encoding="UTF-8"?><ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
  return reply.code(error.status).header('content-type', 'text/xml').send(body);
}

function toApiError(error: unknown): AwsApiError {
  if (error instanceof AwsApiError) {
    return error;
  }
  return new AwsApiError('InternalServerError', (error as Error).message ?? String(error), 500);
}

interface ParsedCall {
  protocol: 'json' | 'query';
  /** X-Amz-Target for JSON protocols, `service:Action` for query ones. */
  operation: string;
  input: Record<string, unknown>;
}

function parseCall(request: FastifyRequest): ParsedCall {
  const target = request.headers['x-amz-target'];
  const body = (request.body as Buffer | undefined) ?? Buffer.alloc(0);
  if (typeof target === 'string') {
    let input: Record<string, unknown> = {};
    if (body.length > 0) {
      try {
        input = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      } catch (error) {
        throw new AwsApiError(
          'SerializationException',
          `invalid JSON body: ${(error as Error).message}`,
        );
      }
    }
    return { protocol: 'json', operation: target, input };
  }
  const params = Object.fromEntries(new URLSearchParams(body.toString('utf8')));
  const service = parseAuthorization(request.headers.authorization)?.service ?? 'unknown';
  return { protocol: 'query', operation: `${service}:${params.Action ?? ''}`, input: params };
}

interface HandlerOutput {
  contentType: string;
  body: string;
}

async function dispatch(
  call: ParsedCall,
  service: string,
  ctx: HandlerContext,
  handlers: Record<string, JsonHandler>,
): Promise<HandlerOutput> {
  if (call.protocol === 'json') {
    const handler = handlers[call.operation] ?? serviceJsonHandlers[call.operation];
    if (handler === undefined) {
      throw new AwsApiError(
        'UnknownOperationException',
        `Operation ${call.operation} is not emulated.`,
      );
    }
    const output = (await handler(call.input, ctx)) ?? {};
    return { contentType: AMZ_JSON, body: JSON.stringify(output) };
  }
  const params = call.input as Record<string, string>;
  const handler = queryHandlers[service]?.[params.Action ?? ''];
  if (handler === undefined) {
    throw new AwsApiError(
      'InvalidAction',
      `Action ${params.Action ?? '(missing)'} of service ${service} is not emulated.`,
    );
  }
  return { contentType: 'text/xml', body: await handler(params, ctx) };
}

export function registerAwsRoutes(app: FastifyInstance, options: AwsRouterOptions): void {
  const { state, handlers } = options;

  app.post('/', async (request, reply) => {
    const isJson = typeof request.headers['x-amz-target'] === 'string';
    const record: ApiCallRecord = {
      operation: 'unknown',
      input: {},
      accessKeyId: '',
      region: '',
      time: Date.now(),
    };
    state.calls.push(record);
    let service = 'unknown';
    try {
      const call = parseCall(request);
      record.operation = call.operation;
      record.input = call.input;
      const auth = authenticate(request, state);
      service = auth.service;
      record.accessKeyId = auth.accessKeyId;
      record.region = auth.region;
      const ctx: HandlerContext = { state, accessKeyId: auth.accessKeyId, region: auth.region };
      const output = await dispatch(call, service, ctx, handlers);
      return reply.header('content-type', output.contentType).send(output.body);
    } catch (error) {
      const apiError = toApiError(error);
      record.error = apiError.type;
      options.logger?.info(
        { operation: record.operation, accessKeyId: record.accessKeyId, errorType: apiError.type },
        'API call failed',
      );
      return isJson ? sendJsonError(reply, apiError) : sendXmlError(reply, apiError, service);
    }
  });
}
