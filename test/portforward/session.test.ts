// End-to-end port forwarding through the local SSM emulator to TCP servers on 127.0.0.1.

import { once } from 'node:events';
import { connect, createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';

import { startPortForwardSession } from '../../daemon/portforward/index.js';
import type { PortForwardSession, SessionEnd } from '../../daemon/portforward/types.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import {
  TransferServer,
  emulatorClient,
  forwardListener,
  listen,
  transfer,
  waitFor,
} from './helpers.js';

const TARGET = 'i-0123456789abcdef0';
const MB = 1024 * 1024;

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
});
