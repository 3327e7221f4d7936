// Validation messages of the control API for a profile body with fields left out: a missing
// field is named as missing, and a value is quoted only when the body gave one.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../daemon/api/server.js';
import { ConfigStore } from '../../daemon/config/store.js';
import { FakeTunnels } from './fake-tunnels.js';
import { rawRequest } from './http.js';

const TOKEN = 'test-token-0123456789abcdefghijklmnopqrstu';
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

const web = {
  name: 'web',
  region: 'eu-west-1',
  target: 'i-0123456789abcdef0',
  remotePort: 8080,
  localPort: 18080,
};

let dir: string;
let server: ApiServer;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bastionless-api-missing-'));
  const store = new ConfigStore({ file: join(dir, 'config.json') });
  store.load();
  store.create(web);
  server = await startApiServer({
    manager: new FakeTunnels(),
    store,
    token: TOKEN,
    logger: pino({ level: 'silent' }),
    describeTargets: async () => [],
  });
});

afterEach(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

interface ErrorBody {
  error: { code: string; message: string; fields?: { path: string; message: string }[] };
}

async function put(body: Record<string, unknown>): Promise<ErrorBody['error']> {
  const res = await rawRequest(server.port, 'PUT', '/v1/profiles/web', {
    headers,
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(400);
  return (res.json as ErrorBody).error;
}

describe('PUT with missing fields', () => {
  it('names each missing field', async () => {
    const error = await put({ name: 'web', target: 'i-0123456789abcdef0', localPort: 18081 });
    const messages = (error.fields ?? []).map((field) => field.message);
    expect(messages).toContain('profile "web": region is missing; use e.g. eu-west-1');
    expect(messages).toContain('profile "web": remotePort is missing; use a port number 1-65535');
    expect(error.message).not.toContain('undefined');
    for (const message of messages) {
      expect(message).not.toContain('undefined');
    }
  });

  it('quotes a value that was given', async () => {
    const error = await put({ ...web, region: 'Europe', remotePort: 'http' });
    const messages = (error.fields ?? []).map((field) => field.message);
    expect(messages).toContain('profile "web": region "Europe" is invalid; use e.g. eu-west-1');
    expect(messages).toContain(
      'profile "web": remotePort "http" is not an integer; use a port number 1-65535',
    );
  });

  it('names a missing local port', async () => {
    const rest: Record<string, unknown> = { ...web };
    delete rest.localPort;
    const error = await put(rest);
    expect(error.fields?.map((field) => field.message)).toEqual([
      'profile "web": localPort is missing; use a port number 1-65535',
    ]);
  });
});
