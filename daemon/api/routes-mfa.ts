// Routes for MFA codes: `GET /v1/mfa` lists the pending requests, `POST /v1/mfa/:id` with
// `{ "code": "123456" }` answers one.

import type { FastifyInstance } from 'fastify';
import { ApiError } from './errors.js';
import { MfaCodeError, type MfaBroker } from './mfa.js';

export function registerMfaRoutes(app: FastifyInstance, broker: MfaBroker): void {
  app.get('/v1/mfa', async () => broker.list());

  app.post<{ Params: { id: string }; Body: unknown }>('/v1/mfa/:id', async (request) => {
    const body = request.body;
    const code =
      typeof body === 'object' && body !== null ? (body as { code?: unknown }).code : undefined;
    try {
      const answered = broker.answer(request.params.id, code);
      return { answered };
    } catch (error) {
      if (error instanceof MfaCodeError) {
        const status = error.code === 'ERR_INVALID_MFA_CODE' ? 400 : 404;
        const fields =
          error.code === 'ERR_INVALID_MFA_CODE'
            ? [{ path: 'code', message: 'use the 6 digits the MFA device shows' }]
            : [];
        throw new ApiError(status, error.code, error.message, fields);
      }
      throw error;
    }
  });
}
