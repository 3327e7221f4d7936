// A real daemon against the SSM emulator: when the remote host dies while the daemon has
// paused a local socket for a full data channel, the daemon still closes that socket, so the
// connection neither hangs nor stays counted.

import { randomBytes } from 'node:crypto';
import { connect, createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { listen } from '../portforward/helpers.js';
import {
  cleanupAfterEach,
  emulatorProfile,
  startEmulatorRig,
  startTestDaemon,
  waitForTunnel,
  waitUntil,
} from './helpers.js';

const MB = 1024 * 1024;
/** Upload size: more than the data channel's 4 MiB window plus the kernel socket buffers. */
const UPLOAD_BYTES = 32 * MB;

const addCleanup = cleanupAfterEach();

/** Starts a remote server that accepts connections and never reads from them. */
async function startStalledServer(): Promise<{ port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer({ pauseOnConnect: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  });
  const port = await listen(server);
  addCleanup(async () => {
    for (const socket of sockets) {
      socket.destroy();
    }
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port, sockets };
}

describe('mux remote death under back-pressure', () => {
  it('closes the paused local socket', { timeout: 60_000 }, async () => {
    const remote = await startStalledServer();
    const { home, emulator } = await startEmulatorRig(addCleanup);
    const profile = emulatorProfile(emulator, {
      name: 'up',
      awsProfile: 'static',
      remotePort: remote.port,
    });
    const daemon = await startTestDaemon(home.dir, [profile]);
    addCleanup(() => daemon.stop());
    const opened = await waitForTunnel(daemon, 'up', (s) => s.state === 'open');
    // Without acknowledgements from the agent the daemon's send window stays full, so the daemon
    // pauses the local socket until a drain that never comes.
    emulator.setFaults(opened.sessionIds[0]!, { dropAcksToClientProbability: 1 });

    const client = connect(await daemon.localPort('up'), '127.0.0.1');
    let clientError: NodeJS.ErrnoException | undefined;
    let clientClosed = false;
    client.on('error', (error: NodeJS.ErrnoException) => {
      clientError = error;
    });
    client.on('close', () => {
      clientClosed = true;
    });
    addCleanup(async () => {
      client.destroy();
    });
    client.resume();
    client.write(randomBytes(UPLOAD_BYTES));
    await waitUntil('the remote server to accept the stream', () => remote.sockets.size === 1);
    let lastBytesOut = -1;
    let stableChecks = 0;
    await waitUntil('the daemon to stop reading the upload', async () => {
      const { bytesOut } = await daemon.tunnel('up');
      stableChecks = bytesOut > 0 && bytesOut === lastBytesOut ? stableChecks + 1 : 0;
      lastBytesOut = bytesOut;
      return stableChecks >= 5;
    });
    const paused = await daemon.tunnel('up');

    expect(paused.activeConnections).toBe(1);
    expect(paused.bytesOut).toBeLessThan(UPLOAD_BYTES);

    // The remote host dies: the agent sends FIN for the stream.
    for (const socket of remote.sockets) {
      socket.destroy();
    }
    await waitUntil('the local client connection to close', () => clientClosed, 5_000);
    await waitUntil(
      'the daemon to count no connections',
      async () => (await daemon.tunnel('up')).activeConnections === 0,
      5_000,
    );

    // The upload never reached the remote, so the client must see an error.
    expect(clientError?.code).toMatch(/^(ECONNRESET|EPIPE)$/);
  });
});
