// Routes that read tunnel state and traffic, and start, stop or restart tunnels and groups.

import type { FastifyInstance } from 'fastify';
import type { ConfigError } from '../config/errors.js';
import { rejectedConfigClause } from '../config/file-errors.js';
import type { TunnelStatus } from '../config/types.js';
import { ApiError } from './errors.js';
import type { TunnelController } from './types.js';

type TunnelAction = 'start' | 'stop' | 'restart';
type GroupAction = 'start' | 'stop';

/**
 * Registers the tunnel and group routes. `configError` returns why the daemon rejected its
 * config file, or null, so a 404 for a name can point at the file that may define it.
 */
export function registerTunnelRoutes(
  app: FastifyInstance,
  manager: TunnelController,
  configError: () => ConfigError | null = () => null,
): void {
  const notFoundReason = (fallback: string): string => {
    const error = configError();
    return error ? rejectedConfigClause(error.message) : fallback;
  };
  const unknownTunnel = (name: string): ApiError =>
    new ApiError(
      404,
      'ERR_UNKNOWN_TUNNEL',
      `tunnel "${name}" not found; ${notFoundReason('list tunnels with GET /v1/tunnels')}`,
    );
  const requireTunnel = (name: string): TunnelStatus => {
    const status = manager.get(name);
    if (!status) {
      throw unknownTunnel(name);
    }
    return status;
  };

  app.get('/v1/tunnels', async () => manager.list());

  app.get<{ Params: { name: string } }>('/v1/tunnels/:name', async (request) =>
    requireTunnel(request.params.name),
  );

  app.get<{ Params: { name: string } }>('/v1/tunnels/:name/traffic', async (request) => {
    const snapshot = manager.traffic(request.params.name);
    if (!snapshot) {
      throw unknownTunnel(request.params.name);
    }
    return snapshot;
  });

  app.post<{ Params: { name: string; action: string } }>(
    '/v1/tunnels/:name/:action',
    async (request) => {
      const { name, action } = request.params;
      if (action !== 'start' && action !== 'stop' && action !== 'restart') {
        throw new ApiError(
          404,
          'ERR_NOT_FOUND',
          `unknown tunnel action "${action}"; use start, stop or restart`,
        );
      }
      requireTunnel(name);
      return manager[action as TunnelAction](name);
    },
  );

  app.post<{ Params: { name: string; action: string } }>(
    '/v1/groups/:name/:action',
    async (request) => {
      const { name, action } = request.params;
      if (action !== 'start' && action !== 'stop') {
        throw new ApiError(
          404,
          'ERR_NOT_FOUND',
          `unknown group action "${action}"; use start or stop`,
        );
      }
      if (!manager.list().some((status) => status.groups.includes(name))) {
        throw new ApiError(
          404,
          'ERR_UNKNOWN_GROUP',
          `group "${name}" not found; ${notFoundReason(`add a profile with --group ${name}`)}`,
        );
      }
      const method = action === 'start' ? 'startGroup' : 'stopGroup';
      return manager[method satisfies `${GroupAction}Group`](name);
    },
  );
}
