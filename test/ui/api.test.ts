import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient, ApiError, ERR_DAEMON_UNREACHABLE } from '../../ui/src/lib/api.js';

interface Recorded {
  method: string;
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => closeServer(server)));
});

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Starts an HTTP server on 127.0.0.1 that records requests and responds with `handler`. */
async function startServer(handler: Handler): Promise<{ url: string; requests: Recorded[] }> {
  const requests: Recorded[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      requests.push({
        method: request.method ?? '',
        url: request.url ?? '',
        authorization: request.headers.authorization,
        contentType: request.headers['content-type'],
        body,
      });
      handler(request, response);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests };
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

describe('ApiClient', () => {
  it('sends the bearer token and parses the list', async () => {
    const server = await startServer((_request, response) => json(response, 200, [{ name: 'db' }]));
    const api = new ApiClient({ baseUrl: server.url, token: 'secret-token' });
    const tunnels = await api.listTunnels();
    expect(tunnels).toEqual([{ name: 'db' }]);
    expect(server.requests[0].authorization).toBe('Bearer secret-token');
    expect(server.requests[0].url).toBe('/v1/tunnels');
  });

  it('encodes names in action paths', async () => {
    const server = await startServer((_request, response) => json(response, 200, {}));
    const api = new ApiClient({ baseUrl: `${server.url}/`, token: 't' });
    await api.tunnelAction('a b/c', 'restart');
    await api.groupAction('team x', 'stop');
    await api.listTargets({ region: 'eu-west-1' });
    await api.listTargets({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:4566',
      awsProfile: 'dev',
    });
    expect(server.requests.map((request) => `${request.method} ${request.url}`)).toEqual([
      'POST /v1/tunnels/a%20b%2Fc/restart',
      'POST /v1/groups/team%20x/stop',
      'GET /v1/targets?region=eu-west-1',
      'GET /v1/targets?region=us-east-1&endpoint=http%3A%2F%2F127.0.0.1%3A4566&awsProfile=dev',
    ]);
  });

  it('sends profile bodies as JSON', async () => {
    const server = await startServer((_request, response) => json(response, 201, { name: 'x' }));
    const api = new ApiClient({ baseUrl: server.url, token: 't' });
    await api.createProfile({ name: 'x', localPort: 1 });
    await api.updateProfile('x', { name: 'y' });
    expect(server.requests[0].contentType).toBe('application/json');
    expect(JSON.parse(server.requests[0].body)).toEqual({ name: 'x', localPort: 1 });
    expect(server.requests[1].method).toBe('PUT');
    expect(server.requests[1].url).toBe('/v1/profiles/x');
  });

  it('accepts an empty 204 body', async () => {
    const server = await startServer((_request, response) => {
      response.writeHead(204);
      response.end();
    });
    const api = new ApiClient({ baseUrl: server.url, token: 't' });
    await expect(api.deleteProfile('x')).resolves.toBeUndefined();
    expect(server.requests[0].method).toBe('DELETE');
  });

  it('turns field errors into an ApiError', async () => {
    const server = await startServer((_request, response) =>
      json(response, 400, {
        error: {
          code: 'ERR_INVALID_PROFILE',
          message: 'profile "db" is invalid',
          fields: [{ path: 'localPort', message: 'use 1-65535' }, { bogus: true }],
        },
      }),
    );
    const api = new ApiClient({ baseUrl: server.url, token: 't' });
    const error = await api.createProfile({}).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    const apiError = error as ApiError;
    expect(apiError.status).toBe(400);
    expect(apiError.code).toBe('ERR_INVALID_PROFILE');
    expect(apiError.message).toBe('profile "db" is invalid');
    expect(apiError.fields).toEqual([{ path: 'localPort', message: 'use 1-65535' }]);
  });

  it('reads fastify flat error bodies', async () => {
    const server = await startServer((_request, response) =>
      json(response, 413, { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE', message: 'big' }),
    );
    const api = new ApiClient({ baseUrl: server.url, token: 't' });
    const error = (await api.listProfiles().catch((caught: unknown) => caught)) as ApiError;
    expect(error.status).toBe(413);
    expect(error.code).toBe('FST_ERR_CTP_BODY_TOO_LARGE');
    expect(error.message).toBe('big');
  });

  it('keeps a non-JSON error body as the message', async () => {
    const server = await startServer((_request, response) => {
      response.writeHead(502);
      response.end('bad gateway');
    });
    const api = new ApiClient({ baseUrl: server.url, token: 't' });
    const error = (await api.listTunnels().catch((caught: unknown) => caught)) as ApiError;
    expect(error.code).toBe('HTTP_502');
    expect(error.message).toBe('bad gateway');
  });

  it('reports a closed port as unreachable', async () => {
    const server = await startServer(() => undefined);
    const url = server.url;
    await closeServer(servers.pop()!);
    const api = new ApiClient({ baseUrl: url, token: 't' });
    const error = (await api.listTunnels().catch((caught: unknown) => caught)) as ApiError;
    expect(error.status).toBe(0);
    expect(error.code).toBe(ERR_DAEMON_UNREACHABLE);
  });

  it('times out a silent daemon', async () => {
    const server = await startServer(() => undefined);
    const api = new ApiClient({ baseUrl: server.url, token: 't', timeoutMs: 200 });
    const error = (await api.listTunnels().catch((caught: unknown) => caught)) as ApiError;
    expect(error.code).toBe(ERR_DAEMON_UNREACHABLE);
    expect(error.message).toContain('timed out after 200 ms');
  });

  it('builds the events URL from the page origin', () => {
    const sameOrigin = new ApiClient({ baseUrl: '', token: 't' });
    expect(sameOrigin.eventsUrl('http://127.0.0.1:7000')).toBe('ws://127.0.0.1:7000/v1/events');
    const remote = new ApiClient({ baseUrl: 'http://127.0.0.1:9', token: 't' });
    expect(remote.eventsUrl()).toBe('ws://127.0.0.1:9/v1/events');
  });
});
