// HTTP control routes under /_emulator, so scripts in any language can read the records
// and drive faults the way library users do.

import type { FastifyInstance } from 'fastify';
import { FaultsError, type Faults } from '../faults.js';
import type { ApiCallRecord, SessionRecord } from '../state.js';

/** The part of the emulator the control routes drive. */
export interface ControlTarget {
  readonly calls: ApiCallRecord[];
  readonly sessions: SessionRecord[];
  setFaults(sessionId: string, faults: Faults): void;
  terminateSession(sessionId: string): void;
  closeWebsocket(sessionId: string): boolean;
}

export function registerControlRoutes(app: FastifyInstance, emulator: ControlTarget): void {
  app.get('/_emulator/calls', async () => emulator.calls);

  app.get('/_emulator/sessions', async () => emulator.sessions);

  app.post<{ Params: { id: string }; Body: Faults }>(
    '/_emulator/sessions/:id/faults',
    async (request, reply) => {
      try {
        emulator.setFaults(request.params.id, request.body ?? {});
      } catch (error) {
        const status = error instanceof FaultsError ? 400 : 404;
        return reply.code(status).send({ error: (error as Error).message });
      }
      return { ok: true };
    },
  );

  app.post<{ Params: { id: string } }>(
    '/_emulator/sessions/:id/close-websocket',
    async (request, reply) => {
      const closed = emulator.closeWebsocket(request.params.id);
      if (!closed) {
        return reply
          .code(404)
          .send({ error: `session ${request.params.id} has no open websocket` });
      }
      return { ok: true };
    },
  );

  app.post<{ Params: { id: string } }>('/_emulator/sessions/:id/terminate', async (request) => {
    emulator.terminateSession(request.params.id);
    return { ok: true };
  });
}
