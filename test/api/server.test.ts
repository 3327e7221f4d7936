import { mkdirSync, mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import WebSocket from 'ws';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../daemon/api/server.js';
import { ConfigStore } from '../../daemon/config/store.js';
import type { TargetQuery } from '../../daemon/api/types.js';
import { FakeTunnels, makeStatus } from './fake-tunnels.js';
import { rawRequest } from './http.js';

const TOKEN = 'test-token-0123456789abcdefghijklmnopqrstu';

const validProfile = {
  name: 'db',
  region: 'eu-west-1',
  target: 'i-0123456789abcdef0',
  remoteHost: 'db.internal',
  remotePort: 5432,
  localPort: 15432,
};

let dir: string;
let tunnels: FakeTunnels;
let store: ConfigStore;
let server: ApiServer;
let targetQueries: TargetQuery[];
let logLines: string[];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bastionless-api-'));
  tunnels = new FakeTunnels();
  tunnels.add(makeStatus('db', { groups: ['staging'] }));
  store = new ConfigStore({ file: join(dir, 'config.json') });
  store.load();
  targetQueries = [];
  logLines = [];
  server = await startApiServer({
    manager: tunnels,
    store,
    token: TOKEN,
    logger: pino({ level: 'info' }, { write: (line: string) => logLines.push(line) }),
    describeTargets: async (query) => {
      targetQueries.push(query);
      return [
        {
          instanceId: 'i-0123456789abcdef0',
          name: 'db-host',
          computerName: 'ip-10-0-0-5.ec2.internal',
          platform: 'Amazon Linux',
          agentVersion: '3.3.987.0',
          ipAddress: '10.0.0.5',
          pingStatus: 'Online',
          lastPingAt: null,
        },
      ];
    },
  });
});

afterEach(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const auth = { authorization: `Bearer ${TOKEN}` };

function errorOf(json: unknown): {
  code: string;
  message: string;
  fields?: { path: string; message: string }[];
} {
  return (
    json as {
      error: { code: string; message: string; fields?: { path: string; message: string }[] };
    }
  ).error;
}

describe('control API guards', () => {
  it('rejects a request without token with 401', async () => {
    const res = await rawRequest(server.port, 'GET', '/v1/tunnels');
    expect(res.status).toBe(401);
    expect(errorOf(res.json).code).toBe('ERR_UNAUTHORIZED');
  });

  it('logs a rejected request without the token', async () => {
    await rawRequest(server.port, 'GET', '/v1/tunnels', {
      headers: { authorization: `Bearer ${TOKEN}x` },
    });
    const rejected = logLines
      .map((line) => JSON.parse(line))
      .filter((e) => e.msg === 'api request rejected');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatchObject({
      code: 'ERR_UNAUTHORIZED',
      method: 'GET',
      path: '/v1/tunnels',
    });
    expect(logLines.join('')).not.toContain(TOKEN);
  });

  it('rejects a wrong token with 401', async () => {
    const res = await rawRequest(server.port, 'GET', '/v1/tunnels', {
      headers: { authorization: `Bearer ${TOKEN}x` },
    });
    expect(res.status).toBe(401);
  });

  it('rejects a foreign Host with 403 even with token', async () => {
    const res = await rawRequest(server.port, 'GET', '/v1/tunnels', {
      headers: { ...auth, host: `evil.example:${server.port}` },
    });
    expect(res.status).toBe(403);
    expect(errorOf(res.json).code).toBe('ERR_FORBIDDEN_HOST');
  });

  it('rejects a foreign Host on the health check', async () => {
    const res = await rawRequest(server.port, 'GET', '/healthz', {
      headers: { host: 'rebind.example' },
    });
    expect(res.status).toBe(403);
  });

  it('accepts localhost:PORT as Host', async () => {
    const res = await rawRequest(server.port, 'GET', '/v1/tunnels', {
      headers: { ...auth, host: `localhost:${server.port}` },
    });
    expect(res.status).toBe(200);
  });

  it('rejects a foreign Origin with 403', async () => {
    const res = await rawRequest(server.port, 'POST', '/v1/tunnels/db/start', {
      headers: { ...auth, origin: 'https://evil.example' },
    });
    expect(res.status).toBe(403);
    expect(errorOf(res.json).code).toBe('ERR_FORBIDDEN_ORIGIN');
    expect(tunnels.calls).toEqual([]);
  });

  it('accepts its own Origin', async () => {
    const res = await rawRequest(server.port, 'GET', '/v1/tunnels', {
      headers: { ...auth, origin: `http://127.0.0.1:${server.port}` },
    });
    expect(res.status).toBe(200);
  });

  it('requires a token on percent-encoded paths', async () => {
    for (const path of ['/%761/tunnels', '/%6detrics', '/v1/%74unnels/db/start']) {
      const method = path.endsWith('start') ? 'POST' : 'GET';
      const res = await rawRequest(server.port, method, path);
      expect(res.status, path).toBe(401);
    }
    expect(tunnels.calls).toEqual([]);
  });

  it('serves the health check without token', async () => {
    const res = await rawRequest(server.port, 'GET', '/healthz');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'ok' });
  });

  it('sets a strict Content-Security-Policy', async () => {
    const res = await rawRequest(server.port, 'GET', '/healthz');
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain(`connect-src 'self' ws://127.0.0.1:${server.port}`);
    expect(csp).toContain("frame-ancestors 'none'");
  });

  it('answers an unknown route with 404 and a message', async () => {
    const res = await rawRequest(server.port, 'GET', '/v1/nothing', { headers: auth });
    expect(res.status).toBe(404);
    expect(errorOf(res.json).message).toContain('/v1/nothing');
  });

  it('rejects an oversized body with 413', async () => {
    const body = JSON.stringify({ ...validProfile, remoteHost: 'a'.repeat(70 * 1024) });
    const res = await rawRequest(server.port, 'POST', '/v1/profiles', {
      headers: { ...auth, 'content-type': 'application/json' },
      body,
    });
    expect(res.status).toBe(413);
    expect(errorOf(res.json).message).toBeTruthy();
  });

  it('rejects a non-JSON body with 415', async () => {
    const res = await rawRequest(server.port, 'POST', '/v1/profiles', {
      headers: { ...auth, 'content-type': 'application/xml' },
      body: '<profile name="db"/>',
    });
    expect(res.status).toBe(415);
    expect(errorOf(res.json).message).toBeTruthy();
  });

  it('rejects a JSON array as profile with 400', async () => {
    const res = await rawRequest(server.port, 'POST', '/v1/profiles', {
      headers: { ...auth, 'content-type': 'application/json' },
      body: '[]',
    });
    expect(res.status).toBe(400);
    expect(errorOf(res.json).code).toBe('ERR_PROFILE_INVALID');
  });

  it('rejects malformed JSON with 400', async () => {
    const res = await rawRequest(server.port, 'POST', '/v1/profiles', {
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{"name":',
    });
    expect(res.status).toBe(400);
  });
});

describe('tunnel routes', () => {
  it('lists and gets tunnels', async () => {
    const list = await rawRequest(server.port, 'GET', '/v1/tunnels', { headers: auth });
    expect((list.json as { name: string }[]).map((t) => t.name)).toEqual(['db']);
    const one = await rawRequest(server.port, 'GET', '/v1/tunnels/db', { headers: auth });
    expect((one.json as { state: string }).state).toBe('stopped');
  });

  it('returns 404 for an unknown tunnel', async () => {
    const res = await rawRequest(server.port, 'POST', '/v1/tunnels/nope/start', { headers: auth });
    expect(res.status).toBe(404);
    expect(errorOf(res.json).code).toBe('ERR_UNKNOWN_TUNNEL');
  });

  it('starts, stops and restarts a tunnel', async () => {
    for (const action of ['start', 'stop', 'restart']) {
      const res = await rawRequest(server.port, 'POST', `/v1/tunnels/db/${action}`, {
        headers: auth,
      });
      expect(res.status).toBe(200);
    }
    expect(tunnels.calls).toEqual(['start db', 'stop db', 'restart db']);
  });

  it('starts and stops a group', async () => {
    const up = await rawRequest(server.port, 'POST', '/v1/groups/staging/start', { headers: auth });
    expect(up.status).toBe(200);
    const down = await rawRequest(server.port, 'POST', '/v1/groups/staging/stop', {
      headers: auth,
    });
    expect(down.status).toBe(200);
    expect(tunnels.calls).toEqual(['startGroup staging', 'stopGroup staging']);
  });

  it('returns 404 for an unknown group', async () => {
    const res = await rawRequest(server.port, 'POST', '/v1/groups/prod/start', { headers: auth });
    expect(res.status).toBe(404);
  });
});

describe('profile routes', () => {
  it('rejects an invalid profile with field errors', async () => {
    const res = await rawRequest(server.port, 'POST', '/v1/profiles', {
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ ...validProfile, localPort: 70000 }),
    });
    expect(res.status).toBe(400);
    const error = errorOf(res.json);
    expect(error.code).toBe('ERR_PROFILE_INVALID');
    expect(error.fields).toEqual([
      { path: 'localPort', message: 'profile "db": localPort 70000 is out of range; use 1-65535' },
    ]);
  });

  it('rejects a wrong field type naming the field', async () => {
    const res = await rawRequest(server.port, 'POST', '/v1/profiles', {
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ ...validProfile, autoStart: 'yes' }),
    });
    expect(res.status).toBe(400);
    expect(errorOf(res.json).fields?.[0]?.path).toBe('autoStart');
  });

  it('rejects writes while the file is missing', async () => {
    const headers = { ...auth, 'content-type': 'application/json' };
    const created = await rawRequest(server.port, 'POST', '/v1/profiles', {
      headers,
      body: JSON.stringify(validProfile),
    });
    expect(created.status).toBe(201);
    rmSync(store.file);
    store.load();

    const res = await rawRequest(server.port, 'POST', '/v1/profiles', {
      headers,
      body: JSON.stringify({ ...validProfile, name: 'cache', localPort: 16379 }),
    });
    expect(res.status).toBe(409);
    expect(errorOf(res.json).code).toBe('ERR_CONFIG_MISSING');
    expect(errorOf(res.json).message).toContain(store.file);
  });

  it('creates, reads, replaces and deletes a profile', async () => {
    const headers = { ...auth, 'content-type': 'application/json' };
    const created = await rawRequest(server.port, 'POST', '/v1/profiles', {
      headers,
      body: JSON.stringify(validProfile),
    });
    expect(created.status).toBe(201);
    expect((created.json as { bindAddress: string }).bindAddress).toBe('127.0.0.1');

    const duplicate = await rawRequest(server.port, 'POST', '/v1/profiles', {
      headers,
      body: JSON.stringify(validProfile),
    });
    expect(duplicate.status).toBe(409);

    const read = await rawRequest(server.port, 'GET', '/v1/profiles/db', { headers: auth });
    expect((read.json as { localPort: number }).localPort).toBe(15432);

    const replaced = await rawRequest(server.port, 'PUT', '/v1/profiles/db', {
      headers,
      body: JSON.stringify({ ...validProfile, localPort: 25432 }),
    });
    expect(replaced.status).toBe(200);
    const onDisk = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(onDisk.profiles[0].localPort).toBe(25432);

    const list = await rawRequest(server.port, 'GET', '/v1/profiles', { headers: auth });
    expect((list.json as unknown[]).length).toBe(1);

    const removed = await rawRequest(server.port, 'DELETE', '/v1/profiles/db', { headers: auth });
    expect(removed.status).toBe(204);
    const gone = await rawRequest(server.port, 'GET', '/v1/profiles/db', { headers: auth });
    expect(gone.status).toBe(404);
  });

  it('rejects a rename through PUT', async () => {
    const headers = { ...auth, 'content-type': 'application/json' };
    await rawRequest(server.port, 'POST', '/v1/profiles', {
      headers,
      body: JSON.stringify(validProfile),
    });
    const res = await rawRequest(server.port, 'PUT', '/v1/profiles/db', {
      headers,
      body: JSON.stringify({ ...validProfile, name: 'other' }),
    });
    expect(res.status).toBe(400);
  });
});

describe('targets route', () => {
  it('passes region and endpoint through', async () => {
    const res = await rawRequest(
      server.port,
      'GET',
      '/v1/targets?region=eu-west-1&endpoint=http://127.0.0.1:9',
      { headers: auth },
    );
    expect(res.status).toBe(200);
    expect(targetQueries).toEqual([
      { region: 'eu-west-1', endpoint: 'http://127.0.0.1:9', awsProfile: undefined },
    ]);
  });

  it('rejects a missing region with 400', async () => {
    const res = await rawRequest(server.port, 'GET', '/v1/targets', { headers: auth });
    expect(res.status).toBe(400);
    expect(errorOf(res.json).fields?.[0]?.path).toBe('region');
  });
});

describe('metrics route', () => {
  it('requires a token', async () => {
    const res = await rawRequest(server.port, 'GET', '/metrics');
    expect(res.status).toBe(401);
  });

  it('exports per-tunnel series', async () => {
    tunnels.add(makeStatus('db', { state: 'open', bytesIn: 1234, activeConnections: 2 }));
    const res = await rawRequest(server.port, 'GET', '/metrics', { headers: auth });
    expect(res.status).toBe(200);
    expect(res.text).toContain('bastionless_tunnel_state{tunnel="db",state="open"} 1');
    expect(res.text).toContain('bastionless_tunnel_bytes_in_total{tunnel="db"} 1234');
    expect(res.text).toContain('bastionless_tunnel_active_connections{tunnel="db"} 2');
  });

  it('counts CPU time since the process started', async () => {
    const before = process.cpuUsage();
    const res = await rawRequest(server.port, 'GET', '/metrics', { headers: auth });
    const line = res.text
      .split('\n')
      .find((entry) => entry.startsWith('bastionless_process_cpu_seconds_total '));
    const seconds = Number(line?.split(' ')[1]);

    // The registry is built on the first scrape; its counters include the time before it.
    expect(seconds).toBeGreaterThanOrEqual((before.user + before.system) / 1e6);
    expect(res.text.match(/^bastionless_process_cpu_seconds_total /gm)).toHaveLength(1);
  });
});

function openEvents(url: string, protocols?: string[], headers?: Record<string, string>) {
  return new WebSocket(url, protocols, { headers });
}

function firstMessage(ws: WebSocket): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no websocket message within 5 s')), 5000);
    ws.once('message', (data) => {
      clearTimeout(timer);
      resolve(JSON.parse(String(data)));
    });
    ws.once('error', reject);
  });
}

/** Queues every message of `ws`; each call of the returned function takes the oldest one. */
function queueMessages(ws: WebSocket): () => Promise<unknown> {
  const queued: unknown[] = [];
  const waiting: ((message: unknown) => void)[] = [];
  ws.on('message', (data) => {
    const message = JSON.parse(String(data));
    const waiter = waiting.shift();
    if (waiter) waiter(message);
    else queued.push(message);
  });
  return () =>
    new Promise((resolve, reject) => {
      if (queued.length > 0) {
        resolve(queued.shift());
        return;
      }
      const timer = setTimeout(() => reject(new Error('no websocket message within 5 s')), 5000);
      waiting.push((message) => {
        clearTimeout(timer);
        resolve(message);
      });
    });
}

function rejectionStatus(ws: WebSocket): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no upgrade response within 5 s')), 5000);
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.once('open', () => reject(new Error('websocket opened without a valid token')));
    ws.once('error', () => {});
  });
}

describe('events websocket', () => {
  it('refuses a connection without token', async () => {
    const ws = openEvents(`ws://127.0.0.1:${server.port}/v1/events`);
    expect(await rejectionStatus(ws)).toBe(401);
  });

  it('refuses a foreign Origin', async () => {
    const ws = openEvents(`ws://127.0.0.1:${server.port}/v1/events?token=${TOKEN}`, undefined, {
      origin: 'https://evil.example',
    });
    expect(await rejectionStatus(ws)).toBe(403);
  });

  it('streams a snapshot then state changes', async () => {
    const ws = openEvents(`ws://127.0.0.1:${server.port}/v1/events`, [
      'bastionless.v1',
      `bearer.${TOKEN}`,
    ]);
    const next = queueMessages(ws);
    const snapshot = (await next()) as { type: string; tunnel: { name: string } };
    expect(ws.protocol).toBe('bastionless.v1');
    expect(snapshot.type).toBe('state');
    expect(snapshot.tunnel.name).toBe('db');
    expect(await next()).toEqual({
      type: 'config',
      configFile: store.file,
      configError: null,
      tunnels: 1,
    });

    await tunnels.start('db');
    const change = (await next()) as { type: string; tunnel: { state: string } };
    expect(change).toMatchObject({ type: 'state', tunnel: { state: 'listening' } });

    tunnels.emit('traffic', {
      name: 'db',
      bytesIn: 10,
      bytesOut: 20,
      at: new Date().toISOString(),
    });
    expect(await next()).toMatchObject({ type: 'traffic', name: 'db', bytesIn: 10, bytesOut: 20 });
    ws.close();
  });

  it('sends config on each file load', async () => {
    const ws = openEvents(`ws://127.0.0.1:${server.port}/v1/events?token=${TOKEN}`);
    const next = queueMessages(ws);
    const configMessages = async (): Promise<Record<string, unknown>> => {
      for (;;) {
        const message = (await next()) as Record<string, unknown>;
        if (message.type === 'config') return message;
      }
    };
    expect((await configMessages()).configError).toBeNull();

    writeFileSync(store.file, '{ "version": 2, "profiles": [ }\n');
    store.load();
    const rejected = await configMessages();
    expect(rejected).toMatchObject({
      configFile: store.file,
      configError: { code: 'ERR_CONFIG_PARSE', fields: [] },
      tunnels: 1,
    });
    const error = rejected.configError as { reason: string; fix: string };
    expect(error.reason).toContain('line 1, column 31');
    expect(error.fix).toMatch(/editor/i);

    writeFileSync(store.file, JSON.stringify({ version: 2, profiles: [validProfile] }));
    store.load();
    expect((await configMessages()).configError).toBeNull();

    // A profile saved through the API is a load too, so other pages list it at once.
    const created = await rawRequest(server.port, 'POST', '/v1/profiles', {
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ ...validProfile, name: 'cache', localPort: 16379 }),
    });
    expect(created.status).toBe(201);
    expect((await configMessages()).configError).toBeNull();
    ws.close();
  });

  it('accepts the token as query parameter', async () => {
    const ws = openEvents(`ws://127.0.0.1:${server.port}/v1/events?token=${TOKEN}`);
    const snapshot = (await firstMessage(ws)) as { type: string };
    expect(snapshot.type).toBe('state');
    ws.close();
  });

  it('answers plain HTTP with 426', async () => {
    const res = await rawRequest(server.port, 'GET', '/v1/events', { headers: auth });
    expect(res.status).toBe(426);
  });

  it('refuses a wrong subprotocol token', async () => {
    const ws = openEvents(`ws://127.0.0.1:${server.port}/v1/events`, [`bearer.${TOKEN}x`]);
    expect(await rejectionStatus(ws)).toBe(401);
  });

  it('accepts the query token only on the events route', async () => {
    const res = await rawRequest(server.port, 'GET', `/v1/tunnels?token=${TOKEN}`);
    expect(res.status).toBe(401);
  });
});

describe('dashboard files', () => {
  let ui: ApiServer;

  beforeEach(async () => {
    const uiDir = join(dir, 'ui');
    mkdirSync(uiDir);
    writeFileSync(join(uiDir, 'index.html'), '<!doctype html><title>dashboard</title>');
    mkdirSync(join(uiDir, 'assets'));
    writeFileSync(join(uiDir, 'assets', 'index-abc123.js'), 'console.log("dashboard");');
    writeFileSync(join(uiDir, '.env'), 'SECRET=not-served');
    // A file beside the dashboard folder, which traversal attempts aim at.
    writeFileSync(join(dir, 'outside.txt'), 'outside the dashboard');
    ui = await startApiServer({
      manager: tunnels,
      store,
      token: TOKEN,
      logger: pino({ level: 'silent' }),
      uiDir,
    });
  });

  afterEach(async () => {
    await ui.close();
  });

  it('serves index.html without token', async () => {
    const res = await rawRequest(ui.port, 'GET', '/');
    expect(res.status).toBe(200);
    expect(res.text).toContain('<title>dashboard</title>');
    expect(String(res.headers['content-security-policy'])).toContain("script-src 'self'");
  });

  it('still guards API routes', async () => {
    for (const path of ['/v1/tunnels', '/%761/tunnels', '/metrics']) {
      const res = await rawRequest(ui.port, 'GET', path);
      expect(res.status, path).toBe(401);
    }
  });

  it('answers a missing file with 404', async () => {
    const res = await rawRequest(ui.port, 'GET', '/missing.js');
    expect(res.status).toBe(404);
  });

  it('serves hashed assets as immutable', async () => {
    const res = await rawRequest(ui.port, 'GET', '/assets/index-abc123.js');
    expect(res.status).toBe(200);
    expect(res.text).toBe('console.log("dashboard");');
    expect(res.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
  });

  it('revalidates index.html on each load', async () => {
    const res = await rawRequest(ui.port, 'GET', '/index.html');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-cache');
  });

  it('keeps API responses out of caches', async () => {
    const res = await rawRequest(ui.port, 'GET', '/v1/tunnels', {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('answers HEAD without a body', async () => {
    const res = await rawRequest(ui.port, 'HEAD', '/assets/index-abc123.js');
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
    expect(res.headers['content-length']).toBe(String('console.log("dashboard");'.length));
  });

  it('serves no dot file or path outside the folder', async () => {
    const attempts = [
      '/.env',
      '/../outside.txt',
      '/assets/../../outside.txt',
      '/%2e%2e/outside.txt',
      '/assets/%2e%2e%2f%2e%2e%2foutside.txt',
      '/assets/..%5c..%5coutside.txt',
      '//outside.txt',
      '/./index.html/../../outside.txt',
    ];
    for (const path of attempts) {
      const res = await rawRequest(ui.port, 'GET', path);
      expect(res.status, path).toBe(404);
      expect(res.text, path).not.toContain('outside the dashboard');
      expect(res.text, path).not.toContain('not-served');
    }
  });
});
