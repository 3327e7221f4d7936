// 404 replies for a tunnel or group name the daemon does not know, over a real socket: while
// the config file is rejected, the reply names the file's problem, because the name may be
// defined there.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../daemon/api/server.js';
import { ConfigStore } from '../../daemon/config/store.js';
import { FakeTunnels, makeStatus } from './fake-tunnels.js';
import { rawRequest } from './http.js';

const TOKEN = 'test-token-0123456789abcdefghijklmnopqrstu';
const auth = { authorization: `Bearer ${TOKEN}` };
const REJECTED = 'the daemon did not load its config file: ';

let dir: string;
let file: string;
let server: ApiServer;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bastionless-unknown-name-'));
  file = join(dir, 'config.json');
});

afterEach(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts the API on a store that has loaded `text` as the config file. */
async function startWith(text: string): Promise<ConfigStore> {
  writeFileSync(file, text);
  const store = new ConfigStore({ file });
  store.load();
  const tunnels = new FakeTunnels();
  tunnels.add(makeStatus('db', { groups: ['staging'] }));
  server = await startApiServer({
    manager: tunnels,
    store,
    token: TOKEN,
    logger: pino({ level: 'silent' }),
  });
  return store;
}

async function errorFor(method: string, path: string): Promise<{ code: string; message: string }> {
  const response = await rawRequest(server.port, method, path, { headers: auth });
  expect(response.status).toBe(404);
  return (response.json as { error: { code: string; message: string } }).error;
}

describe('unknown names with a rejected config file', () => {
  it.each(['start', 'stop', 'restart'])('names the file for POST %s', async (action) => {
    const store = await startWith('{"version": 2, "profiles": [,]}');
    const error = await errorFor('POST', `/v1/tunnels/pg/${action}`);
    expect(error.code).toBe('ERR_UNKNOWN_TUNNEL');
    expect(error.message).toBe(`tunnel "pg" not found; ${REJECTED}${store.error!.message}`);
    expect(error.message).toContain('at line 1, column 29');
  });

  it('names the file for a group', async () => {
    const store = await startWith('');
    const error = await errorFor('POST', '/v1/groups/prod/start');
    expect(error.code).toBe('ERR_UNKNOWN_GROUP');
    expect(error.message).toBe(`group "prod" not found; ${REJECTED}${store.error!.message}`);
  });
});

describe('unknown names with a valid config file', () => {
  it('points to the tunnel list', async () => {
    await startWith('{"version": 2, "profiles": []}');
    const error = await errorFor('GET', '/v1/tunnels/pg');
    expect(error.message).toBe('tunnel "pg" not found; list tunnels with GET /v1/tunnels');
  });

  it('points to --group', async () => {
    await startWith('{"version": 2, "profiles": []}');
    const error = await errorFor('POST', '/v1/groups/prod/stop');
    expect(error.message).toBe('group "prod" not found; add a profile with --group prod');
  });
});
