// Fuzzed requests against the control API: random JSON and non-JSON bodies, wrong types,
// oversized bodies and unknown routes must get a 4xx answer with a message, and only
// validated names and actions may reach the tunnel manager or the config file.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../daemon/api/server.js';
import { ConfigStore } from '../../daemon/config/store.js';
import { FakeTunnels, makeStatus } from '../api/fake-tunnels.js';
import { rawRequest, type RawResponse } from '../api/http.js';

const TOKEN = 'api-fuzz-token-0123456789abcdef0123456789abcdef';
const KNOWN_TUNNEL = 'db';
const CONFIG_TEXT = `${JSON.stringify({ version: 2, profiles: [] }, null, 2)}\n`;

let dir: string;
let configFile: string;
let store: ConfigStore;
let tunnels: FakeTunnels;
let server: ApiServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bastionless-api-fuzz-'));
  configFile = join(dir, 'config.json');
  writeFileSync(configFile, CONFIG_TEXT);
  store = new ConfigStore({ file: configFile });
  store.load();
  tunnels = new FakeTunnels();
  tunnels.add(makeStatus(KNOWN_TUNNEL));
  server = await startApiServer({
    manager: tunnels,
    store,
    token: TOKEN,
    logger: pino({ level: 'silent' }),
  });
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

function send(method: string, path: string, body?: string | Buffer, contentType?: string) {
  const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
  if (contentType !== undefined) {
    headers['content-type'] = contentType;
  }
  return rawRequest(server.port, method, path, { headers, body });
}

/** A client error: 4xx with a JSON body that names the problem. */
function expectClientError(response: RawResponse, what: string): void {
  const body = response.json as {
    error?: { code?: unknown; message?: unknown } | string;
    message?: unknown;
  } | null;
  if (response.status < 400 || response.status >= 500) {
    throw new Error(`${what}: expected a 4xx status, got ${response.status}: ${response.text}`);
  }
  // NOTE: fastify answers a URL it cannot decode itself (FST_ERR_BAD_URL) with its own
  // shape, a top-level message, before the API's error handler runs.
  const message = typeof body?.error === 'object' ? body.error.message : body?.message;
  if (typeof message !== 'string' || message.length === 0) {
    throw new Error(`${what}: expected an error message, got ${response.text}`);
  }
}

const jsonBody = fc.oneof(
  fc.jsonValue().map((value) => JSON.stringify(value)),
  fc
    .record(
      {
        name: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
        region: fc.oneof(fc.string(), fc.constant('us-east-1')),
        target: fc.oneof(fc.string(), fc.object()),
        remotePort: fc.oneof(fc.integer(), fc.string(), fc.double()),
        localPort: fc.oneof(fc.integer({ min: -10, max: 70_000 }), fc.string()),
        bindAddress: fc.oneof(fc.string(), fc.constant('0.0.0.0')),
        sessionPool: fc.oneof(fc.integer(), fc.string()),
      },
      { requiredKeys: [] },
    )
    .map((value) => JSON.stringify(value)),
  fc.string().map((text) => `{${text}`),
);

describe('control API under fuzzed input', () => {
  it('rejects invalid profile bodies', { timeout: 60_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(jsonBody, fc.constantFrom('POST', 'PUT'), async (body, method) => {
        const path = method === 'POST' ? '/v1/profiles' : '/v1/profiles/db';
        const response = await send(method, path, body, 'application/json');
        if (response.status === 200 || response.status === 201) {
          // A body that happens to be a valid profile is stored; anything else must fail.
          return;
        }
        expectClientError(response, `${method} ${path} ${body.slice(0, 80)}`);
      }),
      { numRuns: 300 },
    );
    expect(store.profiles.every((profile) => profile.bindAddress === '127.0.0.1')).toBe(true);
  });

  it('rejects random tunnel names and actions', { timeout: 60_000 }, async () => {
    const before = tunnels.calls.length;
    const segment = fc.string({ minLength: 1, maxLength: 40 }).map(encodeURIComponent);
    await fc.assert(
      fc.asyncProperty(segment, segment, async (name, action) => {
        const response = await send('POST', `/v1/tunnels/${name}/${action}`);
        expectClientError(response, `POST /v1/tunnels/${name}/${action}`);
      }),
      { numRuns: 300 },
    );
    expect(tunnels.calls.slice(before)).toEqual([]);
  });

  it('rejects wrong types and content types', async () => {
    const cases: Array<[string, string, string | undefined, string | undefined]> = [
      ['POST', '/v1/profiles', 'not json at all', 'application/json'],
      ['POST', '/v1/profiles', 'name=db', 'application/x-www-form-urlencoded'],
      ['POST', '/v1/profiles', '<profile/>', 'application/xml'],
      ['POST', '/v1/profiles', '[]', 'application/json'],
      ['POST', '/v1/profiles', '"db"', 'application/json'],
      ['POST', '/v1/profiles', 'null', 'application/json'],
      ['PUT', '/v1/profiles/db', '{"remotePort": "5432"}', 'application/json'],
      ['POST', '/v1/tunnels/db/explode', undefined, undefined],
      ['POST', '/v1/groups/none/start', undefined, undefined],
      ['DELETE', '/v1/profiles/does-not-exist', undefined, undefined],
      ['GET', '/v1/no-such-route', undefined, undefined],
      ['PATCH', '/v1/tunnels', '{}', 'application/json'],
      ['GET', '/v1/tunnels/%00%ff', undefined, undefined],
    ];
    for (const [method, path, body, contentType] of cases) {
      expectClientError(await send(method, path, body, contentType), `${method} ${path}`);
    }
    expect(tunnels.calls).toEqual([]);
  });

  it('rejects an oversized body with 413', async () => {
    const body = JSON.stringify({ name: 'big', padding: 'x'.repeat(200 * 1024) });
    const response = await send('POST', '/v1/profiles', body, 'application/json');
    expect(response.status).toBe(413);
    expectClientError(response, 'oversized POST /v1/profiles');
  });

  it('leaves the config file as it was', () => {
    const profiles = store.profiles;
    if (profiles.length === 0) {
      expect(readFileSync(configFile, 'utf8')).toBe(CONFIG_TEXT);
    } else {
      // Random valid profiles were stored; the file must then still parse with the same set.
      const written = JSON.parse(readFileSync(configFile, 'utf8')) as { profiles: unknown[] };
      expect(written.profiles).toHaveLength(profiles.length);
    }
  });
});
