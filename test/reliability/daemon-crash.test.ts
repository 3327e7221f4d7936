// The daemon dies with SIGKILL while its tunnels carry sessions. A new daemon on the same
// state directory must bind the ports again and terminate the sessions the old one left
// open, which it finds in sessions.json.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TunnelStatus } from '../../daemon/config/types.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import {
  createTestHome,
  reliabilityScenario,
  startDaemonProcess,
  waitFor,
  writeConfig,
  type DaemonProcess,
  type TestHome,
} from './harness/daemon-process.js';
import { freePort, portIsFree } from '../cli/helpers.js';
import { runBulk } from './harness/workload.js';
import { WorkloadServer } from './harness/workload-server.js';

let emulator: Emulator;
let target: WorkloadServer;
let home: TestHome;
const daemons: DaemonProcess[] = [];

beforeAll(async () => {
  emulator = await startEmulator({ pacing: false, scenario: reliabilityScenario() });
  target = new WorkloadServer();
  await target.listen();
  home = createTestHome('daemon-crash');
});

afterAll(async () => {
  for (const daemon of daemons) {
    await daemon.stop();
  }
  home?.remove();
  await target?.close();
  await emulator?.close();
});

async function openTunnels(daemon: DaemonProcess, count: number): Promise<TunnelStatus[]> {
  return waitFor(
    `${count} open tunnels`,
    async () => {
      const { body } = await daemon.request<TunnelStatus[]>('/v1/tunnels');
      return Array.isArray(body) && body.length === count && body.every((t) => t.state === 'open')
        ? body
        : undefined;
    },
    45_000,
  );
}

describe('daemon killed with SIGKILL', () => {
  it('rebinds ports and terminates leftovers', { timeout: 120_000 }, async () => {
    const ports = [await freePort(), await freePort()];
    writeConfig(home, [
      { name: 'first', localPort: ports[0]!, remotePort: target.port, emulatorUrl: emulator.url },
      { name: 'second', localPort: ports[1]!, remotePort: target.port, emulatorUrl: emulator.url },
    ]);
    const crashed = startDaemonProcess(home);
    daemons.push(crashed);
    const before = await openTunnels(crashed, 2);
    const leftover = before.flatMap((status) => status.sessionIds);
    expect(leftover).toHaveLength(2);
    const transfer = await runBulk({
      port: ports[0]!,
      connectionId: 1,
      uploadBytes: 1024 * 1024,
      downloadBytes: 1024 * 1024,
      readTimeoutMs: 30_000,
    });
    expect(transfer.ok).toBe(true);
    const sessionsFile = join(home.stateDir, 'sessions.json');
    await waitFor('sessions.json to list both sessions', async () => {
      try {
        const recorded = JSON.parse(readFileSync(sessionsFile, 'utf8')) as {
          sessions: Array<{ sessionId: string }>;
        };
        const ids = recorded.sessions.map((session) => session.sessionId);
        return leftover.every((id) => ids.includes(id)) ? true : undefined;
      } catch {
        return undefined;
      }
    });

    await crashed.kill();
    for (const sessionId of leftover) {
      expect(emulator.sessions.find((s) => s.sessionId === sessionId)?.state).not.toBe(
        'terminated',
      );
    }
    for (const port of ports) {
      expect(await portIsFree(port)).toBe(true);
    }

    const restarted = startDaemonProcess(home);
    daemons.push(restarted);
    const after = await openTunnels(restarted, 2);
    const terminateCalls = emulator.calls.filter((call) =>
      call.operation.endsWith('TerminateSession'),
    );
    const terminatedIds = terminateCalls.map(
      (call) => (call.input as { SessionId?: string }).SessionId,
    );
    console.log(
      JSON.stringify({ leftover, terminatedIds, newSessions: after.flatMap((t) => t.sessionIds) }),
    );

    for (const sessionId of leftover) {
      expect(terminatedIds).toContain(sessionId);
      expect(emulator.sessions.find((s) => s.sessionId === sessionId)?.state).toBe('terminated');
      expect(after.flatMap((status) => status.sessionIds)).not.toContain(sessionId);
    }
    for (const port of ports) {
      expect(await portIsFree(port)).toBe(false);
    }
    const next = await runBulk({
      port: ports[1]!,
      connectionId: 2,
      uploadBytes: 1024 * 1024,
      downloadBytes: 1024 * 1024,
      readTimeoutMs: 30_000,
    });
    expect(next.error).toBeUndefined();
    expect(next.ok).toBe(true);
    expect(existsSync(sessionsFile)).toBe(true);
  });
});
