import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../daemon/api/server.js';
import { ConfigStore } from '../../daemon/config/store.js';
import { FakeTunnels, makeStatus } from './fake-tunnels.js';
import { rawRequest } from './http.js';

const TOKEN = 'lifecycle-token-0123456789abcdefghijklmnop';
const auth = { authorization: `Bearer ${TOKEN}` };

let dir: string;
let server: ApiServer;
let shutdownReasons: string[];

async function startServer(withShutdown: boolean): Promise<ApiServer> {
  const tunnels = new FakeTunnels();
  tunnels.add(makeStatus('db', { state: 'open', sessionIds: ['s-1', 's-2'] }));
  tunnels.add(makeStatus('cache', { state: 'open', sessionIds: ['s-3'] }));
  tunnels.add(makeStatus('idle'));
  const store = new ConfigStore({ file: join(dir, 'config.json') });
  store.load();
  return startApiServer({
    manager: tunnels,
    store,
    token: TOKEN,
    logger: pino({ level: 'silent' }),
    describeTargets: async () => [],
    shutdown: withShutdown ? (reason) => shutdownReasons.push(reason) : undefined,
  });
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bastionless-lifecycle-api-'));
  shutdownReasons = [];
});

afterEach(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Gives a 'close' listener on the reply time to run before the test checks its effect. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 50));
}

describe('POST /v1/shutdown', () => {
  it('replies 202 and then shuts down', async () => {
    server = await startServer(true);
    const response = await rawRequest(server.port, 'POST', '/v1/shutdown', { headers: auth });
    expect(response.status).toBe(202);
    expect(response.json).toEqual({
      status: 'stopping',
      pid: process.pid,
      tunnels: 2,
      sessions: 3,
    });
    await settle();
    expect(shutdownReasons).toEqual(['shutdown requested through the control API']);
  });

  it.each([
    ['a missing token', {}, 401, 'ERR_UNAUTHORIZED'],
    ['a wrong token', { authorization: 'Bearer not-the-token' }, 401, 'ERR_UNAUTHORIZED'],
    ['a foreign Host', { ...auth, host: 'attacker.example' }, 403, 'ERR_FORBIDDEN_HOST'],
    ['a foreign Origin', { ...auth, origin: 'https://evil.example' }, 403, 'ERR_FORBIDDEN_ORIGIN'],
  ])('rejects %s', async (_case, headers: Record<string, string>, status, code) => {
    server = await startServer(true);
    const response = await rawRequest(server.port, 'POST', '/v1/shutdown', { headers });
    expect(response.status).toBe(status);
    expect((response.json as { error: { code: string } }).error.code).toBe(code);
    await settle();
    expect(shutdownReasons).toEqual([]);
  });

  it('accepts only POST', async () => {
    server = await startServer(true);
    const response = await rawRequest(server.port, 'GET', '/v1/shutdown', { headers: auth });
    expect(response.status).toBe(404);
    await settle();
    expect(shutdownReasons).toEqual([]);
  });

  it('is absent without a shutdown handler', async () => {
    server = await startServer(false);
    const response = await rawRequest(server.port, 'POST', '/v1/shutdown', { headers: auth });
    expect(response.status).toBe(404);
  });
});
