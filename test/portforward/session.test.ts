// End-to-end port forwarding through the local SSM emulator to TCP servers on 127.0.0.1.

import { once } from 'node:events';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';

import { SsmPortForwardSession, startPortForwardSession } from '../../daemon/portforward/index.js';
import type { PortForwardSession, SessionEnd } from '../../daemon/portforward/types.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import {
  TransferServer,
  emulatorClient,
  forwardListener,
  listen,
  sha256,
  transfer,
  waitFor,
} from './helpers.js';

const TARGET = 'i-0123456789abcdef0';
const MB = 1024 * 1024;
/** Size of each direction of the 50-connection test; BASTIONLESS_TRANSFER_MB overrides it. */
const TRANSFER_BYTES = Number(process.env.BASTIONLESS_TRANSFER_MB ?? '5') * MB;

const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

async function emulator(agentVersion?: string): Promise<Emulator> {
  const started = await startEmulator({ agentVersion, pacing: false });
  cleanups.push(() => started.close());
  return started;
}

async function targetServer(): Promise<{ target: TransferServer; port: number }> {
  const target = new TransferServer();
  const port = await listen(target.server);
  cleanups.push(() => {
    for (const socket of target.sockets) {
      socket.destroy();
    }
    target.server.close();
  });
  return { target, port };
}

async function session(
  sim: Emulator,
  remotePort: number,
): Promise<{ session: PortForwardSession; port: number }> {
  const ssm = emulatorClient(sim.url);
  const started = await startPortForwardSession({
    getSsmClient: () => ssm,
    target: TARGET,
    remoteHost: '127.0.0.1',
    remotePort,
  });
  const { server, port } = await forwardListener(started);
  cleanups.push(async () => {
    server.close();
    await started.close('test finished');
  });
  return { session: started, port };
}

describe('port forwarding through the emulator', () => {
  it('forwards one connection both ways', async () => {
    const sim = await emulator();
    const { target, port: remotePort } = await targetServer();
    const { session: tunnel, port } = await session(sim, remotePort);
    const result = await transfer(port, 100_000, 200_000);
    await waitFor(() => target.uploads.has(result.downloadKey), 'the server to hash the upload');

    expect(tunnel.mode).toBe('mux');
    expect(result.downloadBytes).toBe(200_000);
    expect(result.downloadOk).toBe(true);
    expect(target.uploads.get(result.downloadKey)!.sha256).toBe(result.uploadSha256);
  });

  it('carries 50 concurrent connections', async () => {
    const sim = await emulator();
    const { target, port: remotePort } = await targetServer();
    const { session: tunnel, port } = await session(sim, remotePort);
    const results = await Promise.all(
      Array.from({ length: 50 }, () => transfer(port, TRANSFER_BYTES, TRANSFER_BYTES)),
    );
    await waitFor(() => target.uploads.size === 50, 'the server to hash 50 uploads', 30_000);

    for (const result of results) {
      expect(result.downloadBytes).toBe(TRANSFER_BYTES);
      expect(result.downloadOk).toBe(true);
      expect(target.uploads.get(result.downloadKey)?.sha256).toBe(result.uploadSha256);
    }
    expect(tunnel.stats.totalConnections).toBe(50);
    expect(tunnel.stats.bytesOut).toBe(50 * (TRANSFER_BYTES + 8));
    expect(tunnel.stats.bytesIn).toBe(50 * (TRANSFER_BYTES + 32));
    await waitFor(() => tunnel.stats.activeConnections === 0, 'every connection to close');
  }, 120_000);

  it('keeps streams moving past a slow reader', async () => {
    const sim = await emulator();
    const { target, port: remotePort } = await targetServer();
    const { session: tunnel, port } = await session(sim, remotePort);

    // The slow client requests 2 MB and reads nothing until the fast transfer is done.
    const slow = connect(port, '127.0.0.1');
    await once(slow, 'connect');
    slow.pause();
    const header = Buffer.alloc(8);
    header.writeBigUInt64BE(BigInt(2 * MB));
    slow.write(header);
    await waitFor(() => tunnel.stats.bytesIn > MB, 'part of the slow download', 30_000);
    const fast = await transfer(port, 500_000, 500_000);

    expect(fast.downloadOk).toBe(true);
    const chunks: Buffer[] = [];
    let received = 0;
    slow.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
    });
    slow.resume();
    await waitFor(() => received === 32 + 2 * MB, 'the rest of the slow download', 30_000);
    const data = Buffer.concat(chunks);
    expect(sha256(data.subarray(32))).toBe(data.subarray(0, 32).toString('hex'));
    slow.end();
    await waitFor(() => target.uploads.size === 2, 'both uploads');
  });

  it('closes only the connection whose dial failed', async () => {
    const sim = await emulator();
    const { target, port: remotePort } = await targetServer();
    const { session: tunnel, port } = await session(sim, remotePort);
    let dialFailures = 0;
    tunnel.on('dial-failed', () => dialFailures++);

    // Hold one connection open, then stop accepting so the next dial is refused.
    const live = connect(port, '127.0.0.1');
    await once(live, 'connect');
    const header = Buffer.alloc(8);
    header.writeBigUInt64BE(4n);
    live.write(header);
    await once(live, 'data');
    target.server.close();

    const failing = connect(port, '127.0.0.1');
    let failingError: Error | undefined;
    failing.on('error', (error) => {
      failingError = error;
    });
    await new Promise((resolve) => failing.once('close', resolve));
    await waitFor(() => dialFailures === 1, 'the dial-failed event');

    expect(tunnel.stats.dialFailures).toBe(1);
    expect((failingError as NodeJS.ErrnoException | undefined)?.code).toBe('ECONNRESET');
    expect(live.destroyed).toBe(false);
    live.write(Buffer.from('still here'));
    const liveClosed = once(live, 'close');
    live.end();
    await liveClosed;
    await waitFor(() => target.uploads.size === 1, 'the live upload');
    expect([...target.uploads.values()][0]!.bytes).toBe(10);
    expect(sim.sessions[0]!.state).toBe('connected');
  });

  it('ends with flag and API on close', async () => {
    const sim = await emulator();
    const { port: remotePort } = await targetServer();
    const { session: tunnel, port } = await session(sim, remotePort);
    const ended = once(tunnel, 'ended');
    const client = connect(port, '127.0.0.1');
    await once(client, 'connect');
    let clientError: NodeJS.ErrnoException | undefined;
    client.on('error', (error: NodeJS.ErrnoException) => {
      clientError = error;
    });
    const clientClosed = new Promise((resolve) => client.once('close', resolve));
    await tunnel.close('user pressed Ctrl-C');
    const [end] = (await ended) as [SessionEnd];
    await clientClosed;

    // The connection was cut, not ended by the remote host, so the client sees a reset.
    expect(clientError?.code).toBe('ECONNRESET');
    expect(end.by).toBe('client');
    expect(end.reason).toBe('user pressed Ctrl-C');
    const operations = sim.calls.map((call) => call.operation);
    expect(operations).toContain('AmazonSSM.TerminateSession');
    await waitFor(() => sim.sessions[0]!.state === 'terminated', 'the emulator to end the session');
    expect(sim.sessions[0]!.terminatedBy).toBe('client-flag');
  });

  it('answers a ping', async () => {
    const sim = await emulator();
    const { port: remotePort } = await targetServer();
    const { session: tunnel } = await session(sim, remotePort);
    const rttMs = await tunnel.ping!(2_000);

    expect(rttMs).toBeGreaterThanOrEqual(0);
    expect(rttMs).toBeLessThan(2_000);
  });

  it('reports service termination as ended', async () => {
    const sim = await emulator();
    const { port: remotePort } = await targetServer();
    const { session: tunnel } = await session(sim, remotePort);
    const ended = once(tunnel, 'ended');
    sim.terminateSession(tunnel.sessionId);
    const [end] = (await ended) as [SessionEnd];

    expect(end.by).toBe('service');
    expect(end.reason).toContain('terminated by an administrator');
  });
});

describe('agent versions and reconnects', () => {
  it('keeps smux keepalive on for old mux agents', async () => {
    const sim = await emulator('3.1.1511.0');
    const { target, port: remotePort } = await targetServer();
    const { session: tunnel, port } = await session(sim, remotePort);
    const result = await transfer(port, 10_000, 10_000);

    expect(tunnel.mode).toBe('mux');
    expect((tunnel as SsmPortForwardSession).smuxKeepAlive).toBe(true);
    expect(result.downloadOk).toBe(true);
    await waitFor(() => target.uploads.has(result.downloadKey), 'the upload');
  });

  it('resumes after the websocket closes', async () => {
    const sim = await emulator();
    const { target, port: remotePort } = await targetServer();
    const { session: tunnel, port } = await session(sim, remotePort);
    const events: string[] = [];
    tunnel.on('reconnecting', () => events.push('reconnecting'));
    tunnel.on('reconnected', () => events.push('reconnected'));
    const first = await transfer(port, 50_000, 50_000);

    expect((tunnel as SsmPortForwardSession).smuxKeepAlive).toBe(false);
    expect(sim.closeWebsocket(tunnel.sessionId)).toBe(true);
    await waitFor(() => events.includes('reconnected'), 'the reconnect', 20_000);
    const second = await transfer(port, 200_000, 200_000);
    await waitFor(() => target.uploads.size === 2, 'both uploads');

    expect(events).toEqual(['reconnecting', 'reconnected']);
    expect(tunnel.stats.reconnects).toBe(1);
    for (const result of [first, second]) {
      expect(result.downloadOk).toBe(true);
      expect(target.uploads.get(result.downloadKey)?.sha256).toBe(result.uploadSha256);
    }
    expect(sim.calls.map((call) => call.operation)).toContain('AmazonSSM.ResumeSession');
  });
});

describe('session start and faults', () => {
  it('terminates a session aborted during start', async () => {
    const sim = await emulator();
    sim.setDefaultFaults({ handshakeDelayMs: 5_000 });
    const ssm = emulatorClient(sim.url);
    const controller = new AbortController();
    const starting = startPortForwardSession({
      getSsmClient: () => ssm,
      target: TARGET,
      remotePort: 80,
      signal: controller.signal,
    });
    await waitFor(() => sim.sessions.length === 1, 'StartSession');
    controller.abort();

    await expect(starting).rejects.toMatchObject({ code: 'ERR_SESSION_ABORTED' });
    expect(sim.calls.map((call) => call.operation)).toContain('AmazonSSM.TerminateSession');
  });

  it('stays byte-exact over a lossy channel', async () => {
    const sim = await emulator();
    sim.setDefaultFaults({
      seed: 7,
      dropProbability: 0.03,
      duplicateProbability: 0.03,
      reorderProbability: 0.03,
      reorderWindow: 4,
    });
    const { target, port: remotePort } = await targetServer();
    const { port } = await session(sim, remotePort);
    const results = await Promise.all(
      Array.from({ length: 10 }, () => transfer(port, 100_000, 100_000)),
    );
    await waitFor(() => target.uploads.size === 10, 'ten uploads', 30_000);

    for (const result of results) {
      expect(result.downloadOk).toBe(true);
      expect(target.uploads.get(result.downloadKey)?.sha256).toBe(result.uploadSha256);
    }
  });
});

describe('basic mode through the emulator', () => {
  it('carries connections one at a time', async () => {
    const sim = await emulator('3.0.196.0');
    const { target, port: remotePort } = await targetServer();
    const { session: tunnel, port } = await session(sim, remotePort);

    expect(tunnel.mode).toBe('basic');
    // Two connections at once: the second waits until the first closed.
    const results = await Promise.all([transfer(port, MB, 2 * MB), transfer(port, 2 * MB, MB)]);
    const third = await transfer(port, 300_000, 300_000);
    await waitFor(() => target.uploads.size === 3, 'the server to hash three uploads');

    for (const result of [...results, third]) {
      expect(result.downloadOk).toBe(true);
      expect(target.uploads.get(result.downloadKey)?.sha256).toBe(result.uploadSha256);
    }
    expect(tunnel.stats.totalConnections).toBe(3);
    expect(sim.sessions[0]!.mode).toBe('basic');
  });
});
