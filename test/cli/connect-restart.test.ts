// `bastionless connect` as a real process while its session resumes, and while the emulator
// stops and starts again on the same port. New connections wait during a resume, are closed at
// once while it fails for a lasting reason, and a new session replaces the one the restarted
// service no longer has.

import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RESUME_FAST_CLOSE_NOTICE } from '../../daemon/tunnel/reconnect-failure.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { spawnCli, type CliProcess } from '../helpers/cli.js';
import { cliEnv, echoThrough, openHeldConnection, startEchoServer, waitFor } from './helpers.js';

const TARGET = 'i-0123456789abcdef0';
const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

/** Starts an emulator on `port` (0 picks one) whose close() may run twice. */
async function emulatorOn(port: number): Promise<Emulator> {
  const emulator = await startEmulator({ pacing: false, port });
  const stop = emulator.close.bind(emulator);
  let closed = false;
  const close = async (): Promise<void> => {
    if (!closed) {
      closed = true;
      await stop();
    }
  };
  cleanups.push(close);
  return Object.assign(emulator, { close });
}

/** Runs `connect` through `endpointUrl` to 127.0.0.1:`remotePort` on a free local port. */
function spawnConnect(endpointUrl: string, remotePort: number): CliProcess {
  const home = mkdtempSync(join(tmpdir(), 'bastionless-connect-restart-'));
  cleanups.push(() => rmSync(home, { recursive: true, force: true }));
  const args = ['--target', TARGET, '--host', '127.0.0.1', '--remote-port', String(remotePort)];
  const run = spawnCli(
    ['connect', ...args, '--local-port', '0', '--endpoint-url', endpointUrl],
    cliEnv(home),
  );
  cleanups.push(() => {
    if (run.child.exitCode === null && run.child.signalCode === null) {
      run.child.kill('SIGKILL');
    }
  });
  return run;
}

/** Connects to `port` and returns the milliseconds until the connection closes. */
async function timeUntilClosed(port: number, timeoutMs: number): Promise<number> {
  const begin = Date.now();
  const socket = createConnection({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connection to port ${port} still open after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - begin);
    });
  });
}

describe('bastionless connect across an endpoint restart', () => {
  it('closes new connections, then starts a new session', { timeout: 60_000 }, async () => {
    const first = await emulatorOn(0);
    const endpointPort = Number(new URL(first.url).port);
    const echo = await startEchoServer();
    cleanups.push(() => void echo.server.close());
    const run = spawnConnect(first.url, echo.port);
    const listening = await run.waitForLine(/^Listening on 127\.0\.0\.1:\d+/);
    const localPort = Number(/:(\d+)/.exec(listening)![1]);
    await run.waitForLine(/^Session \S+ open/);
    const oldSessionId = first.sessions[0]!.sessionId;
    const oldConnection = await openHeldConnection(localPort);
    const oldConnectionClosed = new Promise<void>((resolve) =>
      oldConnection.once('close', () => resolve()),
    );

    await first.close();
    const fastClose = await run.waitForLine(new RegExp(RESUME_FAST_CLOSE_NOTICE));
    expect(fastClose).toMatch(/^ERR_ENDPOINT_UNREACHABLE: /);
    expect(await timeUntilClosed(localPort, 5_000)).toBeLessThan(1_000);

    const second = await emulatorOn(endpointPort);
    const restart = await run.waitForLine(/starting a new session/, 40_000);
    await waitFor('StartSession on the restarted emulator', async () =>
      second.sessions.length > 0 ? true : undefined,
    );
    const newSessionId = second.sessions[0]!.sessionId;
    await run.waitForLine(new RegExp(`^Session ${newSessionId} open`));
    await oldConnectionClosed;

    expect(restart).toContain(`session ${oldSessionId} ended (ERR_SESSION_NOT_FOUND`);
    expect(restart).toContain(`still listening on 127.0.0.1:${localPort}`);
    const finalAttempt = await run.waitForLine(/^reconnect attempt \d+ failed .*does not exist/);
    expect(finalAttempt).toMatch(/does not exist; no further attempt/);
    expect(second.sessions).toHaveLength(1);
    expect(second.sessions[0]!.target).toBe(TARGET);
    const { sent, received } = await echoThrough(localPort, 256 * 1024);
    expect(received).toBe(sent);
    expect(run.child.exitCode).toBeNull();

    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
    expect(run.output()).toContain(`SIGINT received; ending session ${newSessionId}`);
  });

  it('exits when the target went offline', { timeout: 60_000 }, async () => {
    const first = await emulatorOn(0);
    const endpointPort = Number(new URL(first.url).port);
    const run = spawnConnect(first.url, 80);
    await run.waitForLine(/^Session \S+ open/);

    await first.close();
    await run.waitForLine(/^reconnect attempt 1 failed/);
    const second = await emulatorOn(endpointPort);
    // Set in the same tick as the listen, so no request of connect reaches it before.
    second.state.scenario.instances.find((instance) => instance.instanceId === TARGET)!.pingStatus =
      'ConnectionLost';

    expect(await run.exited).toBe(1);
    expect(run.output()).toContain('starting a new session');
    expect(run.output()).toContain(`bastionless connect: ERR_TARGET_NOT_CONNECTED: `);
    expect(run.output()).toContain('Start the instance and its SSM agent');
    expect(second.sessions).toHaveLength(0);
    const startCalls = second.calls.filter((call) => call.operation === 'AmazonSSM.StartSession');
    expect(startCalls).toHaveLength(1);
  });
});

describe('bastionless connect during a resume', () => {
  /** Starts connect to an echo server and returns it with its local port and session id. */
  async function connected() {
    const emulator = await emulatorOn(0);
    const echo = await startEchoServer();
    cleanups.push(() => void echo.server.close());
    const run = spawnConnect(emulator.url, echo.port);
    const listening = await run.waitForLine(/^Listening on 127\.0\.0\.1:\d+/);
    await run.waitForLine(/^Session \S+ open/);
    return {
      emulator,
      run,
      localPort: Number(/:(\d+)/.exec(listening)![1]),
      sessionId: emulator.sessions[0]!.sessionId,
    };
  }

  it('carries a waiting connection after resume', { timeout: 60_000 }, async () => {
    const { emulator, run, localPort, sessionId } = await connected();
    emulator.setFaults(sessionId, {
      rejectResume: { errorType: 'ThrottlingException', forMs: 3_000 },
    });
    expect(emulator.closeWebsocket(sessionId)).toBe(true);
    // The SDK retries throttled calls itself, so the failed attempt line may never come and
    // the loss line marks the start of the resume instead.
    await run.waitForLine(/^websocket lost/);

    const { sent, received } = await echoThrough(localPort, 128 * 1024);

    expect(received).toBe(sent);
    expect(run.output()).toMatch(/^reconnected after [1-9]\d* s/m);
    expect(run.output()).not.toContain(RESUME_FAST_CLOSE_NOTICE);
    expect(emulator.sessions).toHaveLength(1);
  });

  it('closes new connections while access is denied', { timeout: 60_000 }, async () => {
    const { emulator, run, localPort, sessionId } = await connected();
    emulator.setFaults(sessionId, {
      rejectResume: { errorType: 'AccessDeniedException', forMs: 2_000 },
    });
    expect(emulator.closeWebsocket(sessionId)).toBe(true);
    const fastClose = await run.waitForLine(new RegExp(RESUME_FAST_CLOSE_NOTICE));

    expect(fastClose).toMatch(/^ERR_ACCESS_DENIED: /);
    expect(await timeUntilClosed(localPort, 5_000)).toBeLessThan(1_000);
    await run.waitForLine(/^reconnected after /, 30_000);
    const { sent, received } = await echoThrough(localPort, 128 * 1024);
    expect(received).toBe(sent);
    expect(emulator.sessions).toHaveLength(1);
  });

  it('resets an open connection while access is denied', { timeout: 60_000 }, async () => {
    const { emulator, run, localPort, sessionId } = await connected();
    const held = await openHeldConnection(localPort);
    cleanups.push(() => void held.destroy());
    const closed = new Promise<string>((resolve) => {
      held.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      held.once('close', () => resolve('closed without an error'));
    });
    emulator.setFaults(sessionId, {
      rejectResume: { errorType: 'AccessDeniedException', forMs: 5_000 },
    });
    expect(emulator.closeWebsocket(sessionId)).toBe(true);

    const begin = Date.now();
    expect(await closed).toBe('ECONNRESET');
    expect(Date.now() - begin).toBeLessThan(8_000);
    await run.waitForLine(/^reset 1 open connection, because the resume failed/);
  });
});
