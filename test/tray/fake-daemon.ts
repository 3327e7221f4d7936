// A stand-in for the daemon's control API with just what the tray uses: port and token files,
// GET /v1/tunnels, GET /v1/status, POST /v1/tunnels/:name/start|stop|restart, GET /v1/mfa and
// POST /v1/mfa/:id with bearer auth, and the /v1/events websocket.

import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { MfaRequest, TunnelStatus } from '../../ui/src/lib/types.js';

export interface FakeDaemon {
  port: number;
  token: string;
  tunnels: TunnelStatus[];
  /** `METHOD path` of every authenticated request, in order. */
  requests: string[];
  /** Pending MFA requests that GET /v1/mfa returns. */
  mfaRequests: MfaRequest[];
  /** Codes that POST /v1/mfa/:id accepted, so tests can check what the tray sent. */
  mfaAnswers: { id: string; code: string }[];
  /**
   * Six-digit codes that POST /v1/mfa/:id rejects with 400 ERR_INVALID_MFA_CODE, so a test can
   * see how the tray shows a rejection that its own check lets through.
   */
  mfaRejectedCodes: string[];
  /** Sends a state event to every connected websocket and updates the list. */
  pushState(tunnel: TunnelStatus): void;
  /** Drops a tunnel from the list and sends `removed`, as the daemon does for a deleted profile. */
  removeTunnel(name: string): void;
  /** Adds a pending MFA request and sends `mfa-required` to every connected websocket. */
  requireMfa(request: MfaRequest): void;
  /** Removes a pending MFA request and sends `mfa-settled` with `outcome`. */
  settleMfa(id: string, outcome: string): void;
  close(): Promise<void>;
}

export async function startFakeDaemon(stateDir: string, token = 'fake-token'): Promise<FakeDaemon> {
  const tunnels: TunnelStatus[] = [];
  const requests: string[] = [];
  const mfaRequests: MfaRequest[] = [];
  const mfaAnswers: { id: string; code: string }[] = [];
  const mfaRejectedCodes: string[] = [];
  const sockets = new Set<WebSocket>();
  const broadcast = (event: unknown) => {
    for (const socket of sockets) socket.send(JSON.stringify(event));
  };
  const settleMfa = (id: string, outcome: string) => {
    const index = mfaRequests.findIndex((entry) => entry.id === id);
    if (index < 0) return;
    const [request] = mfaRequests.splice(index, 1);
    broadcast({ type: 'mfa-settled', request, outcome });
  };
  const sendJson = (response: ServerResponse, status: number, body: unknown) => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  };
  const answerMfa = (id: string, body: string, response: ServerResponse) => {
    let code: unknown;
    try {
      code = (JSON.parse(body) as { code?: unknown }).code;
    } catch {
      code = undefined;
    }
    // The same checks and error bodies as daemon/api/routes-mfa.ts.
    if (typeof code !== 'string' || !/^\d{6}$/.test(code) || mfaRejectedCodes.includes(code)) {
      sendJson(response, 400, {
        error: {
          code: 'ERR_INVALID_MFA_CODE',
          message: 'code must be the 6 digits the MFA device shows',
          fields: [{ path: 'code', message: 'use the 6 digits the MFA device shows' }],
        },
      });
      return;
    }
    if (!mfaRequests.some((entry) => entry.id === id)) {
      sendJson(response, 404, {
        error: { code: 'ERR_MFA_REQUEST_NOT_FOUND', message: `MFA request ${id} not found` },
      });
      return;
    }
    mfaAnswers.push({ id, code });
    const answered = mfaRequests.find((entry) => entry.id === id);
    settleMfa(id, 'answered');
    sendJson(response, 200, { answered });
  };
  const server: Server = createServer((request, response) => {
    if (request.headers.authorization !== `Bearer ${token}`) {
      response.writeHead(401, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          error: { code: 'ERR_UNAUTHORIZED', message: 'missing or invalid bearer token' },
        }),
      );
      return;
    }
    requests.push(`${request.method} ${request.url}`);
    if (request.method === 'GET' && request.url === '/v1/tunnels') {
      sendJson(response, 200, tunnels);
      return;
    }
    if (request.method === 'GET' && request.url === '/v1/status') {
      sendJson(response, 200, { configError: null, pid: process.pid });
      return;
    }
    if (request.method === 'GET' && request.url === '/v1/mfa') {
      sendJson(response, 200, mfaRequests);
      return;
    }
    const mfa = /^\/v1\/mfa\/([^/]+)$/.exec(request.url ?? '');
    if (request.method === 'POST' && mfa) {
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => (body += chunk));
      request.on('end', () => answerMfa(decodeURIComponent(mfa[1]), body, response));
      return;
    }
    const action = /^\/v1\/tunnels\/([^/]+)\/(start|stop|restart)$/.exec(request.url ?? '');
    const tunnel = action && tunnels.find((entry) => entry.name === decodeURIComponent(action[1]));
    if (request.method === 'POST' && tunnel) {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(tunnel));
      return;
    }
    response.writeHead(404);
    response.end();
  });
  const wss = new WebSocketServer({
    server,
    path: '/v1/events',
    handleProtocols: (protocols) => (protocols.has(`bearer.${token}`) ? `bearer.${token}` : false),
    verifyClient: (info: { req: { headers: Record<string, unknown> } }) =>
      String(info.req.headers['sec-websocket-protocol'] ?? '').includes(`bearer.${token}`),
  });
  wss.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, 'token'), `${token}\n`, { mode: 0o600 });
  await writeFile(join(stateDir, 'api.json'), JSON.stringify({ port, pid: process.pid }));
  return {
    port,
    token,
    tunnels,
    requests,
    mfaRequests,
    mfaAnswers,
    mfaRejectedCodes,
    pushState(tunnel) {
      const index = tunnels.findIndex((entry) => entry.name === tunnel.name);
      if (index >= 0) tunnels[index] = tunnel;
      else tunnels.push(tunnel);
      broadcast({ type: 'state', tunnel });
    },
    removeTunnel(name) {
      const index = tunnels.findIndex((entry) => entry.name === name);
      if (index >= 0) tunnels.splice(index, 1);
      broadcast({ type: 'removed', name });
    },
    requireMfa(request) {
      mfaRequests.push(request);
      broadcast({ type: 'mfa-required', request });
    },
    settleMfa,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
