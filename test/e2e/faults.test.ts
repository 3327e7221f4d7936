// A 100 MB transfer each way through one port-forwarding session while the emulator
// closes the websocket every few MB and loses, duplicates and reorders frames and acks.

import { afterEach, describe, expect, it } from 'vitest';

import { startPortForwardSession } from '../../daemon/portforward/index.js';
import type { PortForwardSession } from '../../daemon/portforward/types.js';
import { startEmulator } from '../emulator/index.js';
import type { Faults } from '../emulator/faults.js';
import {
  TransferServer,
  emulatorClient,
  forwardListener,
  listen,
  transfer,
  waitFor,
} from '../portforward/helpers.js';

const MB = 1024 * 1024;
const TRANSFER_BYTES = Number(process.env.BASTIONLESS_FAULTS_MB ?? '100') * MB;

const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

describe('transfer under injected faults', () => {
  it('stays byte-exact in one session', async () => {
    // The agent repairs a lost frame or a lost ack of its own output at one message per
    // 100 ms tick, so 1% loss on 100,000 download messages alone would take over 100 s.
    // Frames toward the agent and acks toward this client are lost instead, and this
    // client's retransmission repairs them. Duplicates and reordering act both ways.
    const faults: Faults = {
      seed: 11,
      closeEveryBytes: 16 * MB,
      frameDirection: 'both',
      dropDirection: 'to-agent',
      dropProbability: 0.01,
      duplicateProbability: 0.05,
      reorderProbability: 0.05,
      reorderWindow: 64,
      dropAcksToClientProbability: 0.01,
    };
    const emulator = await startEmulator({ pacing: false });
    cleanups.push(() => emulator.close());
    emulator.setDefaultFaults(faults);
    const target = new TransferServer();
    const remotePort = await listen(target.server);
    cleanups.push(() => {
      for (const socket of target.sockets) {
        socket.destroy();
      }
      target.server.close();
    });
    const ssm = emulatorClient(emulator.url);
    const session: PortForwardSession = await startPortForwardSession({
      getSsmClient: () => ssm,
      target: 'i-0123456789abcdef0',
      remoteHost: '127.0.0.1',
      remotePort,
    });
    const { server, port } = await forwardListener(session);
    cleanups.push(async () => {
      server.close();
      await session.close('test finished');
    });
    let ended = false;
    session.on('ended', () => {
      ended = true;
    });

    const result = await transfer(port, TRANSFER_BYTES, TRANSFER_BYTES);
    await waitFor(() => target.uploads.has(result.downloadKey), 'the server to hash the upload');

    expect(result.downloadBytes).toBe(TRANSFER_BYTES);
    expect(result.downloadOk).toBe(true);
    expect(target.uploads.get(result.downloadKey)?.bytes).toBe(TRANSFER_BYTES);
    expect(target.uploads.get(result.downloadKey)?.sha256).toBe(result.uploadSha256);
    expect(ended).toBe(false);
    expect(emulator.sessions).toHaveLength(1);
    expect(emulator.sessions[0]!.sessionId).toBe(session.sessionId);
    expect(session.stats.reconnects).toBeGreaterThan(0);
  }, 120_000);
});
