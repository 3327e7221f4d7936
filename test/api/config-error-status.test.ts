// GET /v1/status of a daemon whose config file is rejected: the reply carries the problem,
// the fix and every invalid field, so the dashboard can show them as `bastionless status` does.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../daemon/api/server.js';
import type { DaemonStatusBody } from '../../daemon/api/types.js';
import { ConfigStore } from '../../daemon/config/store.js';
import { FakeTunnels, makeStatus } from './fake-tunnels.js';
import { rawRequest } from './http.js';

const TOKEN = 'test-token-0123456789abcdefghijklmnopqrstu';

const profile = {
  name: 'db',
  region: 'eu-west-1',
  target: 'i-0123456789abcdef0',
  remoteHost: 'db.internal',
  remotePort: 5432,
  localPort: 15432,
};

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

/** Starts the API on a store that loaded `text` as its config file, with one loaded tunnel. */
async function statusFor(text: string): Promise<{ body: DaemonStatusBody; file: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'bastionless-config-status-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'config.json');
  writeFileSync(file, text);
  const store = new ConfigStore({ file });
  store.load();
  const tunnels = new FakeTunnels();
  tunnels.add(makeStatus('db'));
  const server: ApiServer = await startApiServer({
    manager: tunnels,
    store,
    token: TOKEN,
    logger: pino({ level: 'silent' }),
  });
  cleanups.push(() => server.close());
  const response = await rawRequest(server.port, 'GET', '/v1/status', {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  expect(response.status).toBe(200);
  return { body: response.json as DaemonStatusBody, file };
}

describe('GET /v1/status configError', () => {
  it('is null for a valid file', async () => {
    const { body } = await statusFor(JSON.stringify({ version: 2, profiles: [profile] }));

    expect(body.configError).toBeNull();
    expect(body.tunnels).toBe(1);
  });

  it('lists a duplicate profile name', async () => {
    const text = JSON.stringify({ version: 2, profiles: [profile, { ...profile }] });

    const { body, file } = await statusFor(text);
    const error = body.configError;

    expect(error?.code).toBe('ERR_CONFIG_INVALID');
    expect(error?.message).toContain(file);
    expect(error?.reason).toContain('db');
    expect(error?.fix).toMatch(/fix it in an editor/);
    expect(error?.message.endsWith(`; ${error.fix}`)).toBe(true);
    expect(error?.fields.length).toBeGreaterThan(0);
    expect(error?.fields[0]?.path).toMatch(/^profiles\[1\]/);
    expect(body.tunnels).toBe(1);
  });

  it('gives the fix for invalid JSON', async () => {
    const { body } = await statusFor('{"version": 2, "profiles": [');
    const error = body.configError;

    expect(error?.code).toBe('ERR_CONFIG_PARSE');
    expect(error?.reason).toMatch(/^not valid JSON/);
    expect(error?.fix).toMatch(/fix it in an editor/);
    expect(error?.fields).toEqual([]);
  });
});
