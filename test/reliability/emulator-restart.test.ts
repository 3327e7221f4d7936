// The emulator (service and agent) dies with SIGKILL mid-transfer and comes back on the
// same port without any memory of the old session: the tunnel must show `reconnecting`,
// then start a new session on its own, and the user's next connection must work.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TunnelStatus } from '../../daemon/config/types.js';
import type { SessionRecord } from '../emulator/index.js';
import {
  createTestHome,
  startDaemonProcess,
  waitFor,
  writeConfig,
  type DaemonProcess,
  type TestHome,
} from './harness/daemon-process.js';
import { startEmulatorProcess, type EmulatorProcess } from './harness/emulator-process.js';
import { freePort } from '../cli/helpers.js';
import { runBulk } from './harness/workload.js';
import { WorkloadServer } from './harness/workload-server.js';

const DOWNTIME_MS = 3000;

let emulatorPort: number;
let emulator: EmulatorProcess;
let target: WorkloadServer;
let home: TestHome;
let daemon: DaemonProcess;
let localPort: number;

async function tunnel(): Promise<TunnelStatus | undefined> {
  const { status, body } = await daemon.request<TunnelStatus[]>('/v1/tunnels');
  return status === 200 ? body[0] : undefined;
}

beforeAll(async () => {
  emulatorPort = await freePort();
  emulator = await startEmulatorProcess(emulatorPort);
  target = new WorkloadServer();
  await target.listen();
  home = createTestHome('emulator-restart');
  localPort = await freePort();
  writeConfig(home, [
    { name: 'restart', localPort, remotePort: target.port, emulatorUrl: emulator.url },
  ]);
  daemon = startDaemonProcess(home);
});

afterAll(async () => {
  await daemon?.stop();
  home?.remove();
  await emulator?.kill();
  await target?.close();
});

describe('emulator killed and restarted', () => {
  it('recovers with a new session', { timeout: 120_000 }, async () => {
    await waitFor('the tunnel to open', async () =>
      (await tunnel())?.state === 'open' ? true : undefined,
    );
    const before = await emulator.control<SessionRecord[]>('/_emulator/sessions');
    expect(before).toHaveLength(1);
    const firstSession = before[0]!.sessionId;

    const interrupted = runBulk({
      port: localPort,
      connectionId: 1,
      uploadBytes: 64 * 1024 * 1024,
      downloadBytes: 64 * 1024 * 1024,
      readTimeoutMs: 60_000,
    });
    await waitFor('the transfer to be under way', async () => {
      const sessions = await emulator.control<SessionRecord[]>('/_emulator/sessions');
      return (sessions[0]?.bytesFromClient ?? 0) > 1024 * 1024 ? true : undefined;
    });
    await emulator.kill();
    const states = new Set<string>();
    const watch = setInterval(() => {
      void tunnel()
        .then((status) => status && states.add(status.state))
        .catch(() => undefined);
    }, 100);
    try {
      await waitFor('the tunnel to report reconnecting', async () =>
        (await tunnel())?.state === 'reconnecting' ? true : undefined,
      );
      await new Promise((resolve) => setTimeout(resolve, DOWNTIME_MS));
      emulator = await startEmulatorProcess(emulatorPort);
      await waitFor(
        'the tunnel to open a new session',
        async () => {
          const status = await tunnel();
          return status?.state === 'open' && !status.sessionIds.includes(firstSession)
            ? status
            : undefined;
        },
        60_000,
      );
    } finally {
      clearInterval(watch);
    }

    const cut = await interrupted;
    const after = await emulator.control<SessionRecord[]>('/_emulator/sessions');
    const next = await runBulk({
      port: localPort,
      connectionId: 2,
      uploadBytes: 4 * 1024 * 1024,
      downloadBytes: 4 * 1024 * 1024,
      readTimeoutMs: 60_000,
    });
    const status = await tunnel();
    console.log(JSON.stringify({ states: [...states], cut, next, reconnects: status?.reconnects }));

    expect(states.has('reconnecting')).toBe(true);
    // The old session died with the emulator, so the connection it carried is the one the
    // scenario kills; it must fail, never deliver wrong bytes.
    expect(cut.ok).toBe(false);
    expect(cut.mismatch).toBeUndefined();
    expect(after.length).toBeGreaterThanOrEqual(1);
    expect(after.some((session) => session.state === 'connected')).toBe(true);
    expect(next.error).toBeUndefined();
    expect(next.mismatch).toBeUndefined();
    expect(next.ok).toBe(true);
    expect(status?.state).toBe('open');
  });
});
