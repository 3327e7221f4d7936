// `doctor` while the config's own daemon, whose tunnel listens on the profile's port, is frozen
// with SIGSTOP. The port check must name the suspended daemon and `kill -CONT`, not "another
// bastionless daemon".

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TunnelStatus } from '../../daemon/config/types.js';
import {
  cliEnv,
  freePort,
  runCli,
  setupEmulatorAndEcho,
  waitFor,
  startDaemonPid,
  stopSuspendedDaemon,
} from './helpers.js';

// SIGSTOP and /proc are Linux facilities.
describe.runIf(process.platform === 'linux')('doctor with a suspended daemon', () => {
  const fixture = setupEmulatorAndEcho();
  let home: string;
  let env: NodeJS.ProcessEnv;
  let port: number;
  let pid = 0;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'bastionless-doctor-suspended-'));
    env = cliEnv(home);
    port = await freePort();
    const url = fixture.emulator.url;
    const profile = fixture.profile('web', port, { endpoints: { ssm: url, sts: url, ec2: url } });
    writeFileSync(join(home, 'config.json'), JSON.stringify({ version: 2, profiles: [profile] }));
    pid = await startDaemonPid(env);
    await waitFor('the tunnel to listen', async () => {
      const up = await runCli(['up', 'web'], env);
      const status = await runCli(['status', '--json'], env);
      const tunnels = JSON.parse(status.stdout || '[]') as TunnelStatus[];
      const web = tunnels.find((tunnel) => tunnel.name === 'web');
      return up.code === 0 && web?.localAddress.endsWith(`:${port}`) ? true : undefined;
    });
  });

  afterAll(() => stopSuspendedDaemon(pid, env, home));

  it('passes the port of a running daemon', { timeout: 60_000 }, async () => {
    const doctor = await runCli(['doctor', 'web'], env);
    const line = doctor.stdout.split('\n').find((text) => text.includes('Local port free'));
    expect(line).toBe(
      `  [ok  ] Local port free: 127.0.0.1:${port} is held by this profile's tunnel`,
    );
  });

  it('names kill -CONT for a suspended daemon', { timeout: 60_000 }, async () => {
    process.kill(pid, 'SIGSTOP');
    let doctor;
    try {
      doctor = await runCli(['doctor', 'web'], env);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(doctor.code).toBe(1);
    const lines = doctor.stdout.split('\n');
    const index = lines.findIndex((text) => text.includes('Local port free'));
    expect(lines[index]).toContain(
      `[FAIL] Local port free: 127.0.0.1:${port} is held by this config's own daemon. `,
    );
    expect(lines[index]).toContain(`(pid ${pid})`);
    expect(lines[index]).toContain('is suspended (process state T');
    expect(lines[index]).not.toContain('another bastionless daemon');
    expect(lines[index + 1]).toContain(`fix: Resume it with \`kill -CONT ${pid}\``);
  });
});
