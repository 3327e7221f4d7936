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
