import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import {
  EventStream,
  parseDaemonEvent,
  type StreamStatus,
  type WebSocketLike,
} from '../../ui/src/lib/events.js';
import type { DaemonEvent } from '../../ui/src/lib/types.js';
import { tunnelStatus, waitFor } from './fixtures.js';

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startWsServer(port = 0): Promise<{ server: WebSocketServer; port: number }> {
  const server = new WebSocketServer({
    host: '127.0.0.1',
    port,
    handleProtocols: (protocols) => [...protocols][0] ?? false,
  });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const closeServer = () =>
    new Promise<void>((resolve) => {
      for (const client of server.clients) client.terminate();
      server.close(() => resolve());
    });
  cleanups.push(closeServer);
  return { server, port: (server.address() as AddressInfo).port };
}

function startStream(port: number, events: DaemonEvent[], statuses: StreamStatus[]) {
  const stream = new EventStream({
    url: `ws://127.0.0.1:${port}/v1/events`,
    token: 'tok123',
    createSocket: (url, protocols) => new WebSocket(url, protocols) as unknown as WebSocketLike,
    onEvent: (event) => events.push(event),
    onStatus: (status) => statuses.push(status),
    initialDelayMs: 50,
    maxDelayMs: 200,
  });
  stream.start();
  cleanups.push(() => stream.stop());
  return stream;
}

describe('EventStream', () => {
  it('sends the token as subprotocol and delivers events', async () => {
    const { server, port } = await startWsServer();
    const protocols: string[] = [];
    server.on('connection', (socket) => {
      protocols.push(socket.protocol);
      socket.send('not json');
      socket.send(JSON.stringify({ type: 'unknown' }));
      socket.send(JSON.stringify({ type: 'state', tunnel: tunnelStatus({ state: 'open' }) }));
      socket.send(
        JSON.stringify({ type: 'traffic', name: 'db', bytesIn: 5, bytesOut: 7, at: 'x' }),
      );
    });
    const events: DaemonEvent[] = [];
    const statuses: StreamStatus[] = [];
    startStream(port, events, statuses);
    await waitFor(() => events.length === 2 || undefined);
    expect(protocols).toEqual(['bearer.tok123']);
    expect(events[0].type).toBe('state');
    expect(events[1]).toMatchObject({ type: 'traffic', bytesIn: 5, bytesOut: 7 });
    expect(statuses).toEqual(['connecting', 'open']);
  });

  it('reconnects after the server goes away', async () => {
    const first = await startWsServer();
    const events: DaemonEvent[] = [];
    const statuses: StreamStatus[] = [];
    const stream = startStream(first.port, events, statuses);
    await waitFor(() => statuses.includes('open') || undefined);
    await cleanups.shift()!();
    await waitFor(() => statuses.includes('closed') || undefined);
    await waitFor(() => stream.failedAttempts >= 2 || undefined);

    const second = await startWsServer(first.port);
    second.server.on('connection', (socket) =>
      socket.send(JSON.stringify({ type: 'state', tunnel: tunnelStatus({ name: 'back' }) })),
    );
    await waitFor(() => events.length === 1 || undefined);
    expect(events[0]).toMatchObject({ type: 'state', tunnel: { name: 'back' } });
    expect(stream.failedAttempts).toBe(0);
    expect(statuses.filter((status) => status === 'open')).toHaveLength(2);
  });

  it('stops retrying after stop()', async () => {
    const { port } = await startWsServer();
    await cleanups.shift()!();
    const statuses: StreamStatus[] = [];
    const stream = startStream(port, [], statuses);
    await waitFor(() => stream.failedAttempts >= 1 || undefined);
    stream.stop();
    const attempts = statuses.filter((status) => status === 'connecting').length;
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(statuses.filter((status) => status === 'connecting')).toHaveLength(attempts);
    expect(statuses.at(-1)).toBe('closed');
  });
});

describe('parseDaemonEvent for MFA', () => {
  const request = {
    id: 'r1',
    profile: 'db',
    awsProfile: null,
    mfaSerial: 'arn:aws:iam::123456789012:mfa/alice',
    requestedAt: '2025-01-01T10:00:00.000Z',
  };

  it('accepts mfa-required and mfa-settled', () => {
    const required = parseDaemonEvent(JSON.stringify({ type: 'mfa-required', request }));
    expect(required).toEqual({ type: 'mfa-required', request });
    const settled = JSON.stringify({ type: 'mfa-settled', request, outcome: 'answered' });
    expect(parseDaemonEvent(settled)).toEqual({
      type: 'mfa-settled',
      request,
      outcome: 'answered',
    });
  });

  it('drops a request without an id', () => {
    const event = JSON.stringify({ type: 'mfa-required', request: { ...request, id: undefined } });
    expect(parseDaemonEvent(event)).toBeNull();
  });

  it('drops an event without a request', () => {
    expect(parseDaemonEvent(JSON.stringify({ type: 'mfa-settled' }))).toBeNull();
  });
});

describe('parseDaemonEvent', () => {
  it('accepts a removed tunnel', () => {
    const event = parseDaemonEvent(JSON.stringify({ type: 'removed', name: 'db' }));
    expect(event).toEqual({ type: 'removed', name: 'db' });
    expect(parseDaemonEvent(JSON.stringify({ type: 'removed', name: 7 }))).toBeNull();
    expect(parseDaemonEvent(JSON.stringify({ type: 'removed' }))).toBeNull();
  });

  it('parses config messages', () => {
    const valid = {
      type: 'config',
      configFile: '/home/a/config.json',
      configError: null,
      tunnels: 2,
    };
    expect(parseDaemonEvent(JSON.stringify(valid))).toEqual(valid);
    const configError = { code: 'ERR_CONFIG_PARSE', message: 'config file is not valid JSON' };
    const rejected = { ...valid, configError };
    expect(parseDaemonEvent(JSON.stringify(rejected))).toEqual(rejected);
    expect(parseDaemonEvent(JSON.stringify({ ...valid, configError: 'broken' }))).toBeNull();
    expect(parseDaemonEvent(JSON.stringify({ ...valid, configError: {} }))).toBeNull();
    expect(parseDaemonEvent(JSON.stringify({ ...valid, tunnels: '2' }))).toBeNull();
    const withoutFile: Record<string, unknown> = { ...valid };
    delete withoutFile.configFile;
    expect(parseDaemonEvent(JSON.stringify(withoutFile))).toBeNull();
  });

  it('rejects events missing required fields', () => {
    expect(parseDaemonEvent(JSON.stringify({ type: 'state', tunnel: { name: 'x' } }))).toBeNull();
    expect(
      parseDaemonEvent(JSON.stringify({ type: 'traffic', name: 'x', bytesIn: '1' })),
    ).toBeNull();
    expect(parseDaemonEvent('null')).toBeNull();
  });

  it('reads Buffer payloads from the ws package', () => {
    const data = Buffer.from(
      JSON.stringify({ type: 'traffic', name: 'x', bytesIn: 1, bytesOut: 2 }),
    );
    expect(parseDaemonEvent(data)).toMatchObject({ name: 'x', bytesIn: 1 });
  });
});
