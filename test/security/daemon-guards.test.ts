// Guards of a running daemon: the token file's mode, bearer auth on the API and the events
// websocket, Host and Origin checks, the dashboard's Content-Security-Policy, and listeners
// that a non-loopback address cannot reach.

import { statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokensEqual } from '../../daemon/api/auth.js';
import type { TunnelStatus } from '../../daemon/config/types.js';
import { rawRequest } from '../api/http.js';
import { freePort } from '../cli/helpers.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import {
  createTestHome,
  reliabilityScenario,
  startDaemonProcess,
  waitFor,
  writeConfig,
  type DaemonProcess,
  type TestHome,
} from '../reliability/harness/daemon-process.js';
import { WorkloadServer } from '../reliability/harness/workload-server.js';

let emulator: Emulator;
let target: WorkloadServer;
let home: TestHome;
let daemon: DaemonProcess;
let api: { port: number; token: string };
let tunnelPort: number;

beforeAll(async () => {
  emulator = await startEmulator({ pacing: false, scenario: reliabilityScenario() });
  target = new WorkloadServer();
  await target.listen();
  home = createTestHome('guards');
  tunnelPort = await freePort();
  writeConfig(home, [
    { name: 'guarded', localPort: tunnelPort, remotePort: target.port, emulatorUrl: emulator.url },
  ]);
  daemon = startDaemonProcess(home);
  api = await daemon.api();
  await waitFor('the tunnel to open', async () => {
    const { body } = await daemon.request<TunnelStatus[]>('/v1/tunnels');
    return Array.isArray(body) && body[0]?.state === 'open' ? true : undefined;
  });
});

afterAll(async () => {
  await daemon?.stop();
  home?.remove();
  await target?.close();
  await emulator?.close();
});

/** Resolves with the error code of a TCP connect, or 'connected'. */
function connectOutcome(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(3000, () => {
      socket.destroy();
      resolve('timeout');
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/** Opens the events websocket and resolves with 'open' or the HTTP status of the refusal. */
function eventsOutcome(headers: Record<string, string>, protocols: string[] = []): Promise<string> {
  return new Promise((resolve) => {
    const socket = new WebSocket(`ws://127.0.0.1:${api.port}/v1/events`, protocols, { headers });
    socket.once('open', () => {
      socket.close();
      resolve('open');
    });
    socket.once('unexpected-response', (_request, response) => {
      resolve(String(response.statusCode));
      socket.terminate();
    });
    socket.once('error', (error) => resolve(`error: ${error.message}`));
  });
}

describe('daemon guards', () => {
  it('keeps the token file at mode 0600', () => {
    const mode = statSync(join(home.stateDir, 'token')).mode & 0o777;
    expect(mode.toString(8)).toBe('600');
  });

  it('compares tokens by value only', () => {
    // The comparison hashes both sides and uses timingSafeEqual, so length leaks nothing.
    expect(tokensEqual(api.token, api.token)).toBe(true);
    expect(tokensEqual(`${api.token}x`, api.token)).toBe(false);
    expect(tokensEqual('', api.token)).toBe(false);
  });

  it.each(['/v1/tunnels', '/v1/profiles', '/v1/status', '/metrics'])(
    'rejects %s without a token',
    async (path) => {
      const missing = await rawRequest(api.port, 'GET', path);
      const wrong = await rawRequest(api.port, 'GET', path, {
        headers: { authorization: 'Bearer not-the-token' },
      });
      const right = await rawRequest(api.port, 'GET', path, {
        headers: { authorization: `Bearer ${api.token}` },
      });
      expect(missing.status).toBe(401);
      expect(wrong.status).toBe(401);
      expect(right.status).toBe(200);
    },
  );

  it('rejects the events websocket without a token', async () => {
    expect(await eventsOutcome({})).toBe('401');
    expect(await eventsOutcome({}, ['bastionless.v1', 'bearer.wrong-token'])).toBe('401');
    expect(await eventsOutcome({}, ['bastionless.v1', `bearer.${api.token}`])).toBe('open');
  });

  it('rejects a foreign Host even with the token', async () => {
    for (const host of [
      'evil.example',
      `evil.example:${api.port}`,
      `127.0.0.1.nip.io:${api.port}`,
    ]) {
      const response = await rawRequest(api.port, 'GET', '/v1/tunnels', {
        headers: { host, authorization: `Bearer ${api.token}` },
      });
      expect(response.status).toBe(403);
      expect(response.text).toContain('ERR_FORBIDDEN_HOST');
    }
  });

  it('rejects a foreign Origin even with the token', async () => {
    for (const origin of ['http://evil.example', 'null', `http://127.0.0.1:${api.port + 1}`]) {
      const response = await rawRequest(api.port, 'POST', '/v1/tunnels/guarded/stop', {
        headers: { origin, authorization: `Bearer ${api.token}` },
      });
      expect(response.status).toBe(403);
      expect(response.text).toContain('ERR_FORBIDDEN_ORIGIN');
    }
    const { body } = await daemon.request<TunnelStatus[]>('/v1/tunnels');
    expect(body[0]?.state).toBe('open');
  });

  it('sends a strict Content-Security-Policy', async () => {
    for (const path of ['/', '/v1/tunnels']) {
      const response = await rawRequest(api.port, 'GET', path, {
        headers: { authorization: `Bearer ${api.token}` },
      });
      const policy = String(response.headers['content-security-policy'] ?? '');
      expect(policy).toContain("default-src 'self'");
      expect(policy).toContain("script-src 'self'");
      expect(policy).toContain("frame-ancestors 'none'");
      expect(policy).toContain("object-src 'none'");
      expect(policy).not.toContain('unsafe-inline');
      expect(policy).not.toContain('unsafe-eval');
      expect(policy).not.toMatch(/(^|[\s;])\*/);
    }
  });

  it('binds API and tunnel to loopback only', async () => {
    // 127.0.0.2 is another loopback address of this machine, so the probe stays local.
    for (const port of [api.port, tunnelPort]) {
      expect(await connectOutcome('127.0.0.1', port)).toBe('connected');
      expect(await connectOutcome('127.0.0.2', port)).toBe('ECONNREFUSED');
    }
  });
});
