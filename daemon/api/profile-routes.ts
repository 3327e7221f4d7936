// CRUD routes for profiles. Writes go through the config store, whose `profiles` event makes
// the daemon apply the new set to the tunnel manager.

import type { FastifyInstance } from 'fastify';
import { ConfigError } from '../config/errors.js';
import { ApiError } from './errors.js';
import type { ProfileStore } from './types.js';

const STATUS_BY_CODE: Record<string, number> = {
  ERR_PROFILE_INVALID: 400,
  ERR_PROFILE_NOT_FOUND: 404,
  ERR_PROFILE_EXISTS: 409,
  ERR_CONFIG_PARSE: 409,
  ERR_CONFIG_INVALID: 409,
  ERR_CONFIG_VERSION: 409,
  // Another process writes the file, so the same request can succeed a moment later.
  ERR_CONFIG_LOCKED: 503,
  ERR_CONFIG_MISSING: 409,
  ERR_CONFIG_READ: 500,
  ERR_CONFIG_WRITE: 500,
};

/** Runs a store operation and turns ConfigError into the matching API error. */
function viaStore<T>(operation: () => T): T {
  try {
    return operation();
  } catch (error) {
    if (error instanceof ConfigError) {
      throw new ApiError(
        STATUS_BY_CODE[error.code] ?? 500,
        error.code,
        error.message,
        error.fields,
      );
    }
    throw error;
  }
}

export function registerProfileRoutes(app: FastifyInstance, store: ProfileStore): void {
  app.get('/v1/profiles', async () => store.profiles);

  app.get<{ Params: { name: string } }>('/v1/profiles/:name', async (request) => {
    const profile = store.getProfile(request.params.name);
    if (!profile) {
      throw new ApiError(
        404,
        'ERR_PROFILE_NOT_FOUND',
        `profile "${request.params.name}" not found`,
      );
    }
    return profile;
  });

  app.post('/v1/profiles', async (request, reply) => {
    const profile = viaStore(() => store.create(request.body));
    return reply.code(201).send(profile);
  });

  app.put<{ Params: { name: string } }>('/v1/profiles/:name', async (request) =>
    viaStore(() => store.replace(request.params.name, request.body)),
  );

  app.delete<{ Params: { name: string } }>('/v1/profiles/:name', async (request, reply) => {
    viaStore(() => store.remove(request.params.name));
    return reply.code(204).send();
  });

  app.get('/v1/config', async () => ({
    file: store.file,
    error: store.error
      ? { code: store.error.code, message: store.error.message, fields: store.error.fields }
      : null,
  }));
}
