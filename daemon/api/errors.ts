// Error replies of the control API: `{ error: { code, message, fields? } }` with a stable code.

import type { FastifyReply } from 'fastify';
import type { FieldIssue } from '../config/errors.js';

export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly fields: FieldIssue[] = [],
  ) {
    super(message);
  }
}

export interface ErrorBody {
  error: { code: string; message: string; fields?: FieldIssue[]; hint?: string };
}

export function errorBody(
  code: string,
  message: string,
  fields?: FieldIssue[],
  hint?: string,
): ErrorBody {
  const error: ErrorBody['error'] = { code, message };
  if (fields && fields.length > 0) {
    error.fields = fields;
  }
  if (hint) {
    error.hint = hint;
  }
  return { error };
}

export function sendError(reply: FastifyReply, error: ApiError): FastifyReply {
  return reply.code(error.statusCode).send(errorBody(error.code, error.message, error.fields));
}

/** Fastify's error code for a request body larger than the server's `bodyLimit`. */
export const FASTIFY_BODY_TOO_LARGE = 'FST_ERR_CTP_BODY_TOO_LARGE';

/**
 * Builds the 413 reply to a request body over `limitBytes`. `declaredBytes` is the request's
 * Content-Length, or null when the body came without one.
 */
export function bodyTooLargeBody(limitBytes: number, declaredBytes: number | null): ErrorBody {
  const size = declaredBytes === null ? '' : ` (${declaredBytes} bytes)`;
  return errorBody(
    'ERR_BODY_TOO_LARGE',
    `Request body${size} is larger than the control API's limit of ${limitBytes} bytes. ` +
      'The API expects small JSON documents, such as one profile.',
    undefined,
    'Send one profile per request, without embedded files or data.',
  );
}
