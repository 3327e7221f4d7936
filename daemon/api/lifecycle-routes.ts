// `POST /v1/shutdown`: lets `bastionless stop` and the tray ask the daemon to exit gracefully.
// On Windows a signal cannot do that: Node.js turns SIGTERM there into an immediate
// termination, so the SSM sessions would stay open until the service's idle timeout or the
// next daemon start terminates them.

import type { FastifyInstance } from 'fastify';
import type { TunnelController } from './types.js';

/** Reply of `POST /v1/shutdown`: what the daemon is about to close. */
export interface ShutdownReply {
  status: 'stopping';
  pid: number;
  tunnels: number;
  sessions: number;
}

/**
 * Registers the shutdown route. The guards in server.ts apply to it like to every `/v1` route:
 * it requires the bearer token and a loopback Host, and rejects foreign Origins.
 * `shutdown` runs only after the 202 reply has been sent, because the shutdown closes the
 * API server and its connections.
 */
export function registerLifecycleRoutes(
  app: FastifyInstance,
  manager: TunnelController,
  shutdown: (reason: string) => void,
): void {
  app.post('/v1/shutdown', async (_request, reply) => {
    const statuses = manager.list();
    const body: ShutdownReply = {
      status: 'stopping',
      pid: process.pid,
      tunnels: statuses.filter((status) => status.state !== 'stopped').length,
      sessions: statuses.reduce((count, status) => count + status.sessionIds.length, 0),
    };
    // 'close' follows a completed reply and also a client that hung up first; the request was
    // authenticated either way, so the shutdown goes ahead.
    reply.raw.once('close', () => shutdown('shutdown requested through the control API'));
    return reply.code(202).send(body);
  });
}
