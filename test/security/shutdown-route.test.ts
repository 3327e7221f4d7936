// Attacks on `POST /v1/shutdown` of a daemon process: missing, wrong and misplaced tokens,
// foreign Host and Origin, a cross-site form post, huge bodies, and two requests in a row.
// Only a request with the bearer token, a loopback Host and no foreign Origin may stop it.

import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShutdownReply } from '../../daemon/api/lifecycle-routes.js';
import {
  createTestHome,
  writeConfig,
  type TestHome,
} from '../reliability/harness/daemon-process.js';
import { rawHttp, type RawHttpResponse } from './raw-http.js';
import { readDaemonLog, startDaemonWithin, type StartedDaemon } from './restart-helpers.js';

let home: TestHome;
let started: StartedDaemon;

beforeAll(async () => {
  home = createTestHome('shutdown-route');
  writeConfig(home, []);
  started = await startDaemonWithin(home);
});

afterAll(async () => {
  await started?.daemon.stop();
  home?.remove();
});

/** Sends a request to the daemon with the given headers, Host included unless `host` is null. */
function send(
  method: string,
  target: string,
  headers: Record<string, string>,
  body: Buffer = Buffer.alloc(0),
  host: string | null = `127.0.0.1:${started.port}`,
): Promise<RawHttpResponse> {
  const lines = [`${method} ${target} HTTP/1.1`];
  if (host !== null) {
    lines.push(`Host: ${host}`);
  }
  for (const [name, value] of Object.entries(headers)) {
    lines.push(`${name}: ${value}`);
  }
  lines.push(`Content-Length: ${body.length}`);
  return rawHttp(started.port, lines.join('\r\n'), body);
}

function bearer(): Record<string, string> {
  return { Authorization: `Bearer ${started.token}` };
}

async function expectStillRunning(label: string): Promise<void> {
  // A shutdown that was accepted closes the API within milliseconds; this gives it the time.
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(started.daemon.child.exitCode, `${label}: daemon exited`).toBeNull();
  const status = await send('GET', '/v1/status', bearer());
  expect(status.status, `${label}: GET /v1/status`).toBe(200);
}

describe('POST /v1/shutdown', () => {
  // Headers are functions because the table is built before the daemon and its token exist.
  it.each([
    ['no token', () => ({})],
    ['a wrong token', () => ({ Authorization: 'Bearer wrong-token' })],
    ['a token one character short', () => ({ Authorization: `Bearer ${started.token.slice(1)}` })],
    ['basic auth', () => ({ Authorization: 'Basic Zm9vOmJhcg==' })],
    ['the token in a cookie', () => ({ Cookie: `token=${started.token}` })],
    [
      'the token as a subprotocol',
      () => ({ 'Sec-WebSocket-Protocol': `bastionless.v1, bearer.${started.token}` }),
    ],
  ])('rejects %s', async (label, headers: () => Record<string, string>) => {
    const response = await send('POST', '/v1/shutdown', headers());
    expect(response.status).toBe(401);
    await expectStillRunning(label);
  });

  it('rejects the token in the query string', async () => {
    const response = await send('POST', `/v1/shutdown?token=${started.token}`, {});
    expect(response.status).toBe(401);
    await expectStillRunning('query token');
  });

  it('rejects encoded and cased route spellings', async () => {
    for (const target of ['/v1/%73hutdown', '/%76%31/shutdown', '/v1/shutdown/', '/V1/SHUTDOWN']) {
      const response = await send('POST', target, {});
      expect([401, 404], target).toContain(response.status);
    }
    await expectStillRunning('route spellings');
  });

  it('rejects a foreign Host even with the token', async () => {
    const port = started.port;
    for (const host of ['evil.example', `evil.example:${port}`, `localhost.evil.example:${port}`]) {
      const response = await send('POST', '/v1/shutdown', bearer(), undefined, host);
      expect(response.status, host).toBe(403);
    }
    // Node.js itself rejects an HTTP/1.1 request without Host with 400.
    const missing = await send('POST', '/v1/shutdown', bearer(), undefined, null);
    expect([400, 403]).toContain(missing.status);
    await expectStillRunning('foreign Host');
  });

  it('rejects a foreign Origin even with the token', async () => {
    const origins = ['http://evil.example', 'null', `http://127.0.0.1:${started.port + 1}`];
    for (const origin of origins) {
      const response = await send('POST', '/v1/shutdown', { ...bearer(), Origin: origin });
      expect(response.status, origin).toBe(403);
    }
    await expectStillRunning('foreign Origin');
  });

  it('rejects a cross-site form post', async () => {
    // What a page can send without a CORS preflight: a simple content type and no
    // Authorization header, with the browser's Origin, or none from an older browser.
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data']) {
      const body = Buffer.from('{"reason":"csrf"}');
      const withOrigin = await send(
        'POST',
        '/v1/shutdown',
        { 'Content-Type': type, Origin: 'http://evil.example' },
        body,
      );
      expect(withOrigin.status, type).toBe(403);
      const withoutOrigin = await send('POST', '/v1/shutdown', { 'Content-Type': type }, body);
      expect(withoutOrigin.status, type).toBe(401);
    }
    await expectStillRunning('form post');
  });

  it('rejects a huge body', async () => {
    const huge = Buffer.alloc(8 * 1024 * 1024, 0x61);
    const anonymous = await send('POST', '/v1/shutdown', { 'Content-Type': 'text/plain' }, huge);
    expect([0, 401, 413]).toContain(anonymous.status);
    const authorized = await send(
      'POST',
      '/v1/shutdown',
      { ...bearer(), 'Content-Type': 'application/json' },
      huge,
    );
    // The body limit applies before the handler, so not even the token stops the daemon here.
    expect([0, 413]).toContain(authorized.status);
    await expectStillRunning('huge body');
  });

  it('stops once for two requests in a row', async () => {
    const first = await send('POST', '/v1/shutdown', bearer());
    expect(first.status).toBe(202);
    const reply = JSON.parse(first.body.toString('utf8')) as ShutdownReply;
    expect(reply.status).toBe('stopping');
    expect(reply.pid).toBe(started.daemon.pid);
    // The second request meets a closing server (503), a connection closed without a reply (0)
    // or a closed port. A 202 is harmless, because the daemon stops only once either way.
    const exited = once(started.daemon.child, 'exit');
    let second: number | string;
    try {
      second = (await send('POST', '/v1/shutdown', bearer())).status;
    } catch (error) {
      second = (error as NodeJS.ErrnoException).code ?? String(error);
    }
    expect(['ECONNREFUSED', 0, 202, 503]).toContain(second);
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
    const log = readDaemonLog(home);
    expect(log.match(/"msg":"daemon stopped"/g)).toHaveLength(1);
    expect(log).not.toContain(started.token);
  });
});
