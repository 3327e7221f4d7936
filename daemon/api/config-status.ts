import type { ConfigError } from '../config/errors.js';
import type { ConfigErrorStatus } from './types.js';

/** Builds the `configError` field of `GET /v1/status` and of the `config` event. */
export function configErrorStatus(error: ConfigError | null): ConfigErrorStatus | null {
  if (!error) return null;
  return {
    code: error.code,
    message: error.message,
    reason: error.reason,
    fix: error.fix ?? null,
    fields: error.fields,
  };
}
