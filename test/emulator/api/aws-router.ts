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
import type { EmulatorState } from '../state.js';

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

export function registerAwsRoutes(app: FastifyInstance, options: AwsRouterOptions): void {
  const { state, handlers } = options;

  app.post('/', async (request, reply) => {
    const target = request.headers['x-amz-target'];
    const body = (request.body as Buffer | undefined) ?? Buffer.alloc(0);
    const isJson = typeof target === 'string';
    const params = isJson ? {} : Object.fromEntries(new URLSearchParams(body.toString('utf8')));
    const operationName = isJson
      ? target
      : `${parseAuthorization(request.headers.authorization)?.service ?? 'unknown'}:${params.Action ?? ''}`;
    const record = {
      operation: operationName,
      input: {} as unknown,
      accessKeyId: '',
      region: '',
      time: Date.now(),
      error: undefined as string | undefined,
    };
    state.calls.push(record);
    let service = 'unknown';
    try {
      const input: Record<string, unknown> = isJson
        ? body.length > 0
          ? JSON.parse(body.toString('utf8'))
          : {}
        : params;
      record.input = input;
      const auth = authenticate(request, state);
      service = auth.service;
      record.accessKeyId = auth.accessKeyId;
      record.region = auth.region;
      const ctx: HandlerContext = { state, accessKeyId: auth.accessKeyId, region: auth.region };
      if (isJson) {
        const handler = handlers[target] ?? serviceJsonHandlers[target];
        if (handler === undefined) {
          throw new AwsApiError(
            'UnknownOperationException',
            `Operation ${target} is not emulated.`,
          );
        }
        const output = (await handler(input, ctx)) ?? {};
        return reply.header('content-type', AMZ_JSON).send(JSON.stringify(output));
      }
      const handler = queryHandlers[auth.service]?.[params.Action ?? ''];
      if (handler === undefined) {
        throw new AwsApiError(
          'InvalidAction',
          `Action ${params.Action ?? '(missing)'} of service ${auth.service} is not emulated.`,
        );
      }
      const xml = await handler(params as Record<string, string>, ctx);
      return reply.header('content-type', 'text/xml').send(xml);
    } catch (error) {
      const apiError =
        error instanceof SyntaxError
          ? new AwsApiError('SerializationException', `invalid JSON body: ${error.message}`)
          : toApiError(error);
      record.error = apiError.type;
      options.logger?.info(
        { operation: operationName, accessKeyId: record.accessKeyId, errorType: apiError.type },
        'API call failed',
      );
      return isJson ? sendJsonError(reply, apiError) : sendXmlError(reply, apiError, service);
    }
  });
}
