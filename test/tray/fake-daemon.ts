// A stand-in for the daemon's control API with just what the tray uses: port and token files,
// GET /v1/tunnels and POST /v1/tunnels/:name/start|stop|restart with bearer auth, and the
// /v1/events websocket.

import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { TunnelStatus } from '../../ui/src/lib/types.js';

export interface FakeDaemon {
  port: number;
  token: string;
  tunnels: TunnelStatus[];
  /** `METHOD path` of every authenticated request, in order. */
  requests: string[];
  /** Sends a state event to every connected websocket and updates the list. */
  pushState(tunnel: TunnelStatus): void;
  close(): Promise<void>;
}

export async function startFakeDaemon(stateDir: string, token = 'fake-token'): Promise<FakeDaemon> {
  const tunnels: TunnelStatus[] = [];
  const requests: string[] = [];
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
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(tunnels));
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
  const sockets = new Set<WebSocket>();
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
    pushState(tunnel) {
      const index = tunnels.findIndex((entry) => entry.name === tunnel.name);
      if (index >= 0) tunnels[index] = tunnel;
      else tunnels.push(tunnel);
      for (const socket of sockets) socket.send(JSON.stringify({ type: 'state', tunnel }));
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
