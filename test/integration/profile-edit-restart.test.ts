// A real daemon against the SSM emulator, with profiles edited by the real `bastionless edit`
// while a connection through the tunnel stays open. An edit of groups only must keep the
// tunnel and its connections, and an edit of the local port must restart the tunnel.

import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliEnv, runCli } from '../cli/helpers.js';
import { freePort, sha256 } from '../tunnel/helpers.js';
import {
  cleanupAfterEach,
  emulatorProfile,
  startEmulatorRig,
  startTestDaemon,
  waitForTunnel,
} from './helpers.js';

const addCleanup = cleanupAfterEach();

/** Opens a connection and keeps it until the test ends. */
async function openConnection(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  addCleanup(async () => {
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

/**
 * Sends `size` random bytes over an open connection to the echo server and returns the
 * SHA-256 of what was sent and what came back, or rejects when the connection closes first.
 */
function exchange(
  socket: Socket,
  size = 64 * 1024,
  timeoutMs = 10_000,
): Promise<{ sent: string; received: string }> {
  if (socket.destroyed) {
    return Promise.reject(new Error('connection closed before the echo'));
  }
  const payload = randomBytes(size);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const finish = (error?: Error): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      if (error) {
        reject(error);
      } else {
        resolve({ sent: sha256(payload), received: sha256(Buffer.concat(chunks)) });
      }
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= size) {
        finish();
      }
    };
    const onClose = (): void =>
      finish(new Error(`connection closed after ${length} of ${size} echoed bytes`));
    const timer = setTimeout(
      () => finish(new Error(`echo timed out with ${length} of ${size} bytes`)),
      timeoutMs,
    );
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write(payload);
  });
}

/** Starts a daemon with the open always-on tunnel `pg` in group `data`. */
async function openTunnel() {
  const { home, emulator, echo } = await startEmulatorRig(addCleanup);
  const profile = emulatorProfile(emulator, {
    name: 'pg',
    awsProfile: 'static',
    remotePort: echo.port,
    groups: ['data'],
  });
  const daemon = await startTestDaemon(home.dir, [profile]);
  addCleanup(() => daemon.stop());
  const opened = await waitForTunnel(daemon, 'pg', (s) => s.state === 'open');
  const env = { ...cliEnv(home.dir), BASTIONLESS_HOME: join(home.dir, 'bastionless') };
  return { daemon, opened, env };
}

describe('profile edit of a running tunnel', () => {
  it('keeps connections on a groups edit', { timeout: 60_000 }, async () => {
    const { daemon, opened, env } = await openTunnel();
    const socket = await openConnection(await daemon.localPort('pg'));
    const before = await exchange(socket);
    expect(before.received).toBe(before.sent);

    const edit = await runCli(['edit', 'pg', '--group', 'data', '--group', 'extra'], env);

    expect(edit.code).toBe(0);
    const edited = await waitForTunnel(daemon, 'pg', (s) => s.groups.includes('extra'));
    const after = await exchange(socket);
    expect(after.received).toBe(after.sent);
    expect(edited.groups).toEqual(['data', 'extra']);
    expect(edited.state).toBe('open');
    expect(edited.sessionIds).toEqual(opened.sessionIds);
    expect(edited.openSince).toBe(opened.openSince);
    const upByGroup = await runCli(['up', 'extra'], env);
    expect(upByGroup.stdout).toContain('pg: open');
  });

  it('restarts on a local port edit', { timeout: 60_000 }, async () => {
    const { daemon, opened, env } = await openTunnel();
    const socket = await openConnection(await daemon.localPort('pg'));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const newPort = await freePort();

    const edit = await runCli(['edit', 'pg', '--local-port', String(newPort)], env);

    expect(edit.code).toBe(0);
    await closed;
    const reopened = await waitForTunnel(
      daemon,
      'pg',
      (s) => s.state === 'open' && s.localAddress.endsWith(`:${newPort}`),
    );
    expect(reopened.sessionIds).not.toEqual(opened.sessionIds);
    const moved = await openConnection(newPort);
    const roundTrip = await exchange(moved);
    expect(roundTrip.received).toBe(roundTrip.sent);
  });
});
