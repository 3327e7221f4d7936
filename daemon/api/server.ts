// The control API: fastify on 127.0.0.1, bearer-token auth, Host and Origin checks, the
// tunnel, profile, target, event and metrics routes, and the dashboard's static files.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import fastifyWebsocket from '@fastify/websocket';
import type { Logger } from 'pino';
import { ApiError, FASTIFY_BODY_TOO_LARGE, bodyTooLargeBody, errorBody } from './errors.js';
import {
  EVENTS_SUBPROTOCOL,
  allowedHosts,
  allowedOrigins,
  bearerFromHeaders,
  bearerFromSubprotocols,
  offeredSubprotocols,
  tokensEqual,
} from './auth.js';
import { registerTunnelRoutes } from './tunnel-routes.js';
import { registerProfileRoutes } from './profile-routes.js';
import { configErrorStatus } from './config-status.js';
import { registerEventRoutes } from './events.js';
import type { MfaBroker } from './mfa.js';
import { registerMfaRoutes } from './routes-mfa.js';
import { registerLifecycleRoutes } from './lifecycle-routes.js';
import { loadStaticFiles, registerStaticFiles } from './static-files.js';
import type { Registry } from 'prom-client';
import { createDescribeTargets } from './targets.js';
import type { DaemonStatusBody, DescribeTargets, ProfileStore, TunnelController } from './types.js';

export const API_HOST = '127.0.0.1';
export const DEFAULT_BODY_LIMIT_BYTES = 64 * 1024;

export interface ApiServerOptions {
  manager: TunnelController;
  store: ProfileStore;
  token: string;
  logger: Logger;
  /** Port to listen on; 0 picks a free one. */
  port?: number;
  describeTargets?: DescribeTargets;
  /** Folder with the built dashboard (index.html); absent or missing means no dashboard. */
  uiDir?: string;
  /** Origins allowed besides this server's own, e.g. a dashboard dev server. */
  extraOrigins?: readonly string[];
  version?: string;
  bodyLimitBytes?: number;
  /** Pending MFA code requests; enables `/v1/mfa` and the MFA events. */
  mfa?: MfaBroker;
  /** Stops the daemon; enables `POST /v1/shutdown`. */
  shutdown?: (reason: string) => void;
}

export interface ApiServer {
  app: FastifyInstance;
  port: number;
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  close(): Promise<void>;
}

/**
 * Routes served without a token: the health check and the dashboard's static files. The check
 * uses the matched route, not the raw path, because the router decodes percent-escapes, so
 * `/%761/tunnels` reaches the `/v1/tunnels` route. A request that matches no route gets 404.
 */
const PUBLIC_ROUTES = new Set(['/healthz', '/*']);

function isPublicRoute(request: FastifyRequest): boolean {
  const route = request.routeOptions.url;
  return route === undefined || PUBLIC_ROUTES.has(route);
}

/** Token from the Authorization header; /v1/events also accepts the subprotocol and ?token=. */
function presentedToken(request: FastifyRequest): string | null {
  const fromHeader = bearerFromHeaders(request.headers);
  if (fromHeader !== null) {
    return fromHeader;
  }
  if (request.routeOptions.url !== '/v1/events') {
    return null;
  }
  const url = new URL(request.url, 'http://placeholder');
  return (
    bearerFromSubprotocols(offeredSubprotocols(request.headers)) ?? url.searchParams.get('token')
  );
}

function contentSecurityPolicy(port: number): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self' ws://127.0.0.1:${port} ws://localhost:${port}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Rejected requests logged per minute; a page retrying in a loop would otherwise flood the log. */
const MAX_REJECTION_LOGS_PER_MINUTE = 10;

/** Logs rejected requests, at most MAX_REJECTION_LOGS_PER_MINUTE, then a count of the rest. */
function createRejectionLogger(logger: Logger) {
  let windowStart = 0;
  let logged = 0;
  let suppressed = 0;
  return (request: FastifyRequest, code: string): void => {
    const now = Date.now();
    if (now - windowStart >= 60_000) {
      if (suppressed > 0) {
        logger.warn({ suppressed }, 'api requests rejected but not logged in the last minute');
      }
      windowStart = now;
      logged = 0;
      suppressed = 0;
    }
    if (logged >= MAX_REJECTION_LOGS_PER_MINUTE) {
      suppressed += 1;
      return;
    }
    logged += 1;
    const path = request.url.split('?', 1)[0];
    logger.warn(
      {
        code,
        method: request.method,
        path,
        host: request.headers.host,
        origin: request.headers.origin,
      },
      'api request rejected',
    );
  };
}

function addGuards(app: FastifyInstance, options: ApiServerOptions, getPort: () => number): void {
  const logRejection = createRejectionLogger(options.logger);
  app.addHook('onRequest', async (request, reply) => {
    const port = getPort();
    const host = (request.headers.host ?? '').toLowerCase();
    if (!allowedHosts(port).has(host)) {
      logRejection(request, 'ERR_FORBIDDEN_HOST');
      return reply
        .code(403)
        .send(
          errorBody(
            'ERR_FORBIDDEN_HOST',
            `Host "${host}" is not allowed; connect to http://127.0.0.1:${port}`,
          ),
        );
    }
    const origin = request.headers.origin;
    if (origin !== undefined && !allowedOrigins(port, options.extraOrigins).has(origin)) {
      logRejection(request, 'ERR_FORBIDDEN_ORIGIN');
      return reply
        .code(403)
        .send(
          errorBody(
            'ERR_FORBIDDEN_ORIGIN',
            `Origin "${origin}" is not allowed; open the dashboard from http://127.0.0.1:${port}`,
          ),
        );
    }
    if (isPublicRoute(request)) {
      return;
    }
    const token = presentedToken(request);
    if (token === null || !tokensEqual(token, options.token)) {
      logRejection(request, 'ERR_UNAUTHORIZED');
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send(
          errorBody(
            'ERR_UNAUTHORIZED',
            token === null
              ? 'missing bearer token; send "Authorization: Bearer <token>"'
              : 'invalid bearer token',
            undefined,
            'The token is in the daemon state directory; `bastionless dashboard` prints a URL that carries it.',
          ),
        );
    }
  });

  app.addHook('onSend', async (_request, reply) => {
    reply.header('content-security-policy', contentSecurityPolicy(getPort()));
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
    // API responses carry tunnel state and must not be cached. Dashboard files set their own.
    if (!reply.hasHeader('cache-control')) {
      reply.header('cache-control', 'no-store');
    }
  });
}

/** Returns the request's Content-Length in bytes, or null when it has none or it is invalid. */
function declaredLength(request: FastifyRequest): number | null {
  const header = request.headers['content-length'];
  const length = header === undefined ? NaN : Number(header);
  return Number.isSafeInteger(length) && length >= 0 ? length : null;
}

function addErrorHandlers(app: FastifyInstance, logger: Logger, bodyLimitBytes: number): void {
  app.setErrorHandler((error: FastifyError & { hint?: string }, request, reply) => {
    if (error instanceof ApiError) {
      return reply.code(error.statusCode).send(errorBody(error.code, error.message, error.fields));
    }
    if (error.code === FASTIFY_BODY_TOO_LARGE) {
      return reply.code(413).send(bodyTooLargeBody(bodyLimitBytes, declaredLength(request)));
    }
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      return reply
        .code(error.statusCode)
        .send(errorBody(error.code ?? 'ERR_BAD_REQUEST', error.message));
    }
    if (typeof error.code === 'string' && error.code.startsWith('ERR_')) {
      // Errors raised by the tunnel manager carry a stable code and a hint for the user.
      const status = error.code === 'ERR_UNKNOWN_TUNNEL' ? 404 : 409;
      return reply.code(status).send(errorBody(error.code, error.message, undefined, error.hint));
    }
    logger.error(
      { err: error, method: request.method, url: request.url.split('?', 1)[0] },
      'api request failed',
    );
    return reply.code(500).send(errorBody('ERR_INTERNAL', 'internal error; see the daemon log'));
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?', 1)[0];
    reply.code(404).send(errorBody('ERR_NOT_FOUND', `no route for ${request.method} ${path}`));
  });
}

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const logger = options.logger;
  const bodyLimitBytes = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const app = fastify({
    logger: false,
    bodyLimit: bodyLimitBytes,
    forceCloseConnections: true,
    return503OnClosing: true,
  });
  let port = 0;
  // Registered before the guards, because its onRequest hook marks upgrade requests and its
  // onResponse hook then destroys the socket of an upgrade the guards rejected.
  await app.register(fastifyWebsocket, {
    options: {
      maxPayload: 4096,
      // A browser that offers subprotocols fails the connection unless the server selects one.
      handleProtocols: (protocols: Set<string>) => {
        if (protocols.has(EVENTS_SUBPROTOCOL)) {
          return EVENTS_SUBPROTOCOL;
        }
        const first = protocols.values().next();
        return first.done ? false : first.value;
      },
    },
  });

  addGuards(app, options, () => port);
  addErrorHandlers(app, logger, bodyLimitBytes);

  const describeTargets = options.describeTargets ?? createDescribeTargets();
  // prom-client loads on the first scrape, so a daemon that is never scraped does not carry it.
  let metrics: Promise<Registry> | undefined;
  const startedAt = new Date().toISOString();

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/v1/status', async (): Promise<DaemonStatusBody> => {
    return {
      version: options.version ?? null,
      pid: process.pid,
      startedAt,
      configFile: options.store.file,
      configError: configErrorStatus(options.store.error),
      tunnels: options.manager.list().length,
    };
  });
  registerTunnelRoutes(app, options.manager, () => options.store.error);
  registerProfileRoutes(app, options.store);
  registerEventRoutes(app, options.manager, options.mfa, options.store);
  if (options.mfa) {
    registerMfaRoutes(app, options.mfa);
  }
  registerTargetRoute(app, describeTargets);
  if (options.shutdown) {
    registerLifecycleRoutes(app, options.manager, options.shutdown);
  }
  app.get('/metrics', async (_request, reply) => {
    metrics ??= import('./metrics.js').then((module) =>
      module.createMetricsRegistry(options.manager),
    );
    const registry = await metrics;
    return reply.header('content-type', registry.contentType).send(await registry.metrics());
  });

  if (options.uiDir && existsSync(join(options.uiDir, 'index.html'))) {
    registerStaticFiles(app, loadStaticFiles(options.uiDir));
  }

  await app.listen({ host: API_HOST, port: options.port ?? 0 });
  port = (app.server.address() as AddressInfo).port;
  logger.info({ port }, 'control API listening');

  return {
    app,
    port,
    url: `http://${API_HOST}:${port}`,
    close: async () => {
      await app.close();
      logger.info({ port }, 'control API closed');
    },
  };
}

function registerTargetRoute(app: FastifyInstance, describeTargets: DescribeTargets): void {
  app.get<{ Querystring: Record<string, string | undefined> }>('/v1/targets', async (request) => {
    const { region, endpoint, awsProfile } = request.query;
    if (typeof region !== 'string' || !/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(region)) {
      throw new ApiError(
        400,
        'ERR_INVALID_QUERY',
        'region is missing or invalid; use e.g. ?region=eu-west-1',
        [{ path: 'region', message: 'use an AWS region such as eu-west-1' }],
      );
    }
    if (endpoint !== undefined && !/^https?:\/\/[^\s/]+/.test(endpoint)) {
      throw new ApiError(
        400,
        'ERR_INVALID_QUERY',
        `endpoint "${endpoint}" is not a URL; use http(s)://host[:port]`,
        [{ path: 'endpoint', message: 'use http(s)://host[:port]' }],
      );
    }
    return describeTargets({ region, endpoint, awsProfile: awsProfile || undefined });
  });
}
