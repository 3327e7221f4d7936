// The /v1/events websocket: a snapshot of every tunnel on connect, then `state` messages on
// each change, `removed` once a deleted profile's tunnel has stopped, and `traffic` messages
// about once per second per tunnel. A `config` message on connect and on each load of the
// config file reports whether the daemon rejected the file.

import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import type { TunnelStatus } from '../config/types.js';
import { configErrorStatus } from './config-status.js';
import type { MfaBroker, MfaRequest } from './mfa.js';
import type { ConfigErrorStatus, ProfileStore, TrafficEvent, TunnelController } from './types.js';

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
  | { type: 'mfa-settled'; request: MfaRequest; outcome: string }
  | {
      type: 'config';
      configFile: string;
      /** Problem of the rejected file, or null once the daemon loaded a valid one. */
      configError: ConfigErrorStatus | null;
      /** Tunnels the daemon runs, kept from the last valid file while this one is rejected. */
      tunnels: number;
    };

function streamEvents(
  socket: WebSocket,
  manager: TunnelController,
  mfa?: MfaBroker,
  store?: ProfileStore,
): void {
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

  const onConfig = (): void => {
    if (!store) return;
    send({
      type: 'config',
      configFile: store.file,
      configError: configErrorStatus(store.error),
      tunnels: manager.list().length,
    });
  };

  manager.on('state', onState);
  manager.on('traffic', onTraffic);
  manager.on('removed', onRemoved);
  mfa?.on('mfa-required', onMfaRequired);
  mfa?.on('mfa-settled', onMfaSettled);
  store?.on?.('invalid', onConfig);
  store?.on?.('profiles', onConfig);
  socket.once('close', () => {
    manager.off('state', onState);
    manager.off('traffic', onTraffic);
    manager.off('removed', onRemoved);
    mfa?.off('mfa-required', onMfaRequired);
    mfa?.off('mfa-settled', onMfaSettled);
    store?.off?.('invalid', onConfig);
    store?.off?.('profiles', onConfig);
  });
  // Clients send nothing; anything they send is ignored rather than parsed.
  socket.on('message', () => {});
  for (const tunnel of manager.list()) {
    send({ type: 'state', tunnel });
  }
  for (const request of mfa?.list() ?? []) {
    send({ type: 'mfa-required', request });
  }
  onConfig();
}

/**
 * `mfa`, when given, adds `mfa-required` (pending ones on connect) and `mfa-settled`; `store`
 * adds `config`.
 */
export function registerEventRoutes(
  app: FastifyInstance,
  manager: TunnelController,
  mfa?: MfaBroker,
  store?: ProfileStore,
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
    wsHandler: (socket) => streamEvents(socket, manager, mfa, store),
  });
}
