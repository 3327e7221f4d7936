// The /v1/events websocket: a snapshot of every tunnel on connect, then `state` messages on
// each change, `removed` once a deleted profile's tunnel has stopped, and `traffic` messages
// about once per second per tunnel.

import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import type { TunnelStatus } from '../config/types.js';
import type { MfaBroker, MfaRequest } from './mfa.js';
import type { TrafficEvent, TunnelController } from './types.js';

/** A client this far behind gets no traffic samples until it catches up. */
const TRAFFIC_BACKLOG_BYTES = 256 * 1024;
/** A client this far behind is disconnected, so a stalled page cannot grow daemon memory. */
const MAX_BACKLOG_BYTES = 4 * 1024 * 1024;
/**
 * Minimum gap between traffic messages for one tunnel. It sits below the manager's 1 s sample
 * interval, so timer jitter does not make every other sample look too early and get dropped.
 */
const MIN_TRAFFIC_GAP_MS = 900;

export type EventMessage =
  | { type: 'state'; tunnel: TunnelStatus }
  | { type: 'removed'; name: string }
  | ({ type: 'traffic' } & TrafficEvent)
  | { type: 'mfa-required'; request: MfaRequest }
  | { type: 'mfa-settled'; request: MfaRequest; outcome: string };

function streamEvents(socket: WebSocket, manager: TunnelController, mfa?: MfaBroker): void {
  const lastTrafficAt = new Map<string, number>();

  const send = (message: EventMessage): void => {
    if (socket.readyState !== socket.OPEN) {
      return;
    }
    if (socket.bufferedAmount > MAX_BACKLOG_BYTES) {
      socket.close(1008, 'client too slow');
      return;
    }
    socket.send(JSON.stringify(message));
  };

  const onState = (tunnel: TunnelStatus): void => send({ type: 'state', tunnel });
  const onRemoved = (name: string): void => send({ type: 'removed', name });
  const onTraffic = (traffic: TrafficEvent): void => {
    const now = Date.now();
    const last = lastTrafficAt.get(traffic.name) ?? 0;
    if (now - last < MIN_TRAFFIC_GAP_MS || socket.bufferedAmount > TRAFFIC_BACKLOG_BYTES) {
      return;
    }
    lastTrafficAt.set(traffic.name, now);
    send({ type: 'traffic', ...traffic });
  };

  const onMfaRequired = (request: MfaRequest): void => send({ type: 'mfa-required', request });
  const onMfaSettled = (request: MfaRequest, outcome: string): void =>
    send({ type: 'mfa-settled', request, outcome });

  manager.on('state', onState);
  manager.on('traffic', onTraffic);
  manager.on('removed', onRemoved);
  mfa?.on('mfa-required', onMfaRequired);
  mfa?.on('mfa-settled', onMfaSettled);
  socket.once('close', () => {
    manager.off('state', onState);
    manager.off('traffic', onTraffic);
    manager.off('removed', onRemoved);
    mfa?.off('mfa-required', onMfaRequired);
    mfa?.off('mfa-settled', onMfaSettled);
  });
  // Clients send nothing; anything they send is ignored rather than parsed.
  socket.on('message', () => {});
  for (const tunnel of manager.list()) {
    send({ type: 'state', tunnel });
  }
  for (const request of mfa?.list() ?? []) {
    send({ type: 'mfa-required', request });
  }
}

/** `mfa`, when given, adds `mfa-required` (pending ones on connect) and `mfa-settled`. */
export function registerEventRoutes(
  app: FastifyInstance,
  manager: TunnelController,
  mfa?: MfaBroker,
): void {
  app.route({
    method: 'GET',
    url: '/v1/events',
    handler: async (_request, reply) =>
      reply
        .code(426)
        .header('upgrade', 'websocket')
        .send({
          error: {
            code: 'ERR_UPGRADE_REQUIRED',
            message: '/v1/events is a websocket; connect with a websocket client',
          },
        }),
    wsHandler: (socket) => streamEvents(socket, manager, mfa),
  });
}
