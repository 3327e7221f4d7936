// The data channel websocket at each StreamUrl: authenticates the OpenDataChannelInput
// text frame, then hands the socket to its session.

import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { EmulatedSession, OpenDataChannelInput } from './session.js';

export const DATA_CHANNEL_PATH = /^\/v1\/data-channel\/([^/?]+)(?:\?.*)?$/;

/** Close codes the emulator uses when the open frame is rejected. */
export const CloseCode = {
  InvalidToken: 4001,
  SessionEnded: 4003,
  SessionNotFound: 4004,
  OpenTimeout: 4008,
  InvalidOpenFrame: 4009,
} as const;

/** Time the client has to send its OpenDataChannelInput after the upgrade. */
const OPEN_FRAME_TIMEOUT_MS = 10_000;

export interface DataChannelServerOptions {
  server: Server;
  findSession: (sessionId: string) => EmulatedSession | undefined;
  onRejected?: (sessionId: string, code: number, reason: string) => void;
}

/** Attaches the websocket endpoint to `server`; returns a function that detaches it. */
export function attachDataChannelServer(options: DataChannelServerOptions): () => void {
  // The session sends pongs itself so that the silent fault can suppress them.
  const wss = new WebSocketServer({ noServer: true, autoPong: false });

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const match = DATA_CHANNEL_PATH.exec(request.url ?? '');
    if (!match) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const sessionId = decodeURIComponent(match[1]!);
    wss.handleUpgrade(request, socket, head, (websocket) =>
      awaitOpenFrame(websocket, socket, sessionId),
    );
  };

  const awaitOpenFrame = (websocket: WebSocket, socket: Duplex, sessionId: string) => {
    const reject = (code: number, reason: string) => {
      options.onRejected?.(sessionId, code, reason);
      websocket.close(code, reason);
    };
    const timer = setTimeout(
      () => reject(CloseCode.OpenTimeout, 'OpenDataChannelInput not received in time'),
      OPEN_FRAME_TIMEOUT_MS,
    );
    timer.unref();
    websocket.on('ping', (data) => websocket.pong(data));
    websocket.once('message', (data, isBinary) => {
      clearTimeout(timer);
      websocket.removeAllListeners('ping');
      if (isBinary) {
        reject(CloseCode.InvalidOpenFrame, 'expected OpenDataChannelInput as a text frame');
        return;
      }
      let input: OpenDataChannelInput;
      try {
        input = JSON.parse(data.toString()) as OpenDataChannelInput;
      } catch {
        reject(CloseCode.InvalidOpenFrame, 'OpenDataChannelInput is not valid JSON');
        return;
      }
      const session = options.findSession(sessionId);
      if (session === undefined) {
        reject(CloseCode.SessionNotFound, `session ${sessionId} not found`);
      } else if (session.isEnded) {
        reject(CloseCode.SessionEnded, `session ${sessionId} is already terminated`);
      } else if (input.TokenValue !== session.token) {
        reject(CloseCode.InvalidToken, 'invalid or expired TokenValue');
      } else {
        session.attach(websocket, input, socket);
      }
    });
    websocket.on('error', () => websocket.terminate());
  };

  options.server.on('upgrade', onUpgrade);
  return () => {
    options.server.removeListener('upgrade', onUpgrade);
    for (const client of wss.clients) {
      client.terminate();
    }
    wss.close();
  };
}
