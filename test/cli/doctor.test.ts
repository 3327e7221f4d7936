// `doctor` and `up` for a tunnel whose local port another process holds: which tunnel states
// count as holding the port, and the real CLI against a running daemon.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { holdsLocalPort } from '../../daemon/cli/doctor.js';
import { upDownResult } from '../../daemon/cli/tunnel-commands.js';
import type { Profile, TunnelState, TunnelStatus } from '../../daemon/config/types.js';
import { tunnelStatus } from '../ui/fixtures.js';
import { makeProfile } from '../aws/helpers/fixtures.js';
import { cliEnv, freePort, runCli, setupEmulatorAndEcho, waitFor } from './helpers.js';

describe('holdsLocalPort', () => {
  const profile: Profile = makeProfile({ name: 'busy', localPort: 40575 });
  const table: Array<[TunnelState, boolean]> = [
    ['listening', true],
    ['connecting', true],
    ['open', true],
    ['reconnecting', true],
    ['needs-login', true],
    ['failed', false],
    ['stopped', false],
  ];
  for (const [state, holds] of table) {
    it(`${holds ? 'counts' : 'ignores'} a ${state} tunnel`, () => {
      const tunnel = tunnelStatus({ name: 'busy', state, localAddress: '127.0.0.1:40575' });
      expect(holdsLocalPort(tunnel, profile)).toBe(holds);
    });
  }

  it('ignores a tunnel on another port', () => {
    const tunnel = tunnelStatus({ name: 'busy', state: 'open', localAddress: '127.0.0.1:40576' });
    expect(holdsLocalPort(tunnel, profile)).toBe(false);
  });

  it('ignores a missing tunnel', () => {
    expect(holdsLocalPort(undefined, profile)).toBe(false);
  });
});

describe('upDownResult', () => {
  const at = '2025-01-01T00:00:00.000Z';

  it('adds the error and hint of a failed tunnel', () => {
    const tunnel = tunnelStatus({
      name: 'busy',
      state: 'failed',
      localAddress: '127.0.0.1:40575',
      lastError: {
        code: 'ERR_PORT_IN_USE',
        message: 'Port 127.0.0.1:40575 is already in use by python3 (pid 7)',
        hint: 'Stop the program that uses port 40575.',
        at,
      },
    });
    expect(upDownResult(tunnel).split('\n')).toEqual([
      'busy: failed on 127.0.0.1:40575: ERR_PORT_IN_USE: Port 127.0.0.1:40575 is already in use by python3 (pid 7)',
      '  hint: Stop the program that uses port 40575.',
    ]);
  });

  it('prints one line for a listening tunnel', () => {
    const tunnel = tunnelStatus({ name: 'db', state: 'listening', localAddress: '127.0.0.1:5432' });
    expect(upDownResult(tunnel)).toBe('db: listening on 127.0.0.1:5432');
  });

  it('omits the address of a stopped tunnel', () => {
    expect(upDownResult(tunnelStatus({ name: 'db', state: 'stopped' }))).toBe('db: stopped');
  });
});

describe('doctor and up with a port held by another process', () => {
  const fixture = setupEmulatorAndEcho();
  let home: string;
  let env: NodeJS.ProcessEnv;
  let holder: ChildProcess;
  let port: number;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'bastionless-doctor-'));
    env = cliEnv(home);
    port = await freePort();
    // A separate process, so the owner lookup names a program other than the daemon.
    holder = spawn(
      process.execPath,
      [
        '-e',
        `require('node:net').createServer().listen(${port}, '127.0.0.1', () => console.log('ready'))`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve, reject) => {
      holder.stdout!.once('data', () => resolve());
      holder.once('exit', (code) => reject(new Error(`port holder exited with ${code}`)));
    });
    const url = fixture.emulator.url;
    const profile = fixture.profile('busy', port, { endpoints: { ssm: url, sts: url, ec2: url } });
    writeFileSync(join(home, 'config.json'), JSON.stringify({ version: 2, profiles: [profile] }));
    const started = await runCli(['start'], env);
    expect(started.code).toBe(0);
  });

  afterAll(async () => {
    await runCli(['stop'], env).catch(() => undefined);
    holder?.kill();
    rmSync(home, { recursive: true, force: true });
  });

  it('up prints the holder and the hint', { timeout: 60_000 }, async () => {
    await waitFor('the daemon to list the busy tunnel', async () => {
      const status = await runCli(['status', '--json'], env);
      const tunnels = JSON.parse(status.stdout || '[]') as TunnelStatus[];
      return tunnels.some((tunnel) => tunnel.name === 'busy') ? true : undefined;
    });
    const up = await runCli(['up', 'busy'], env);
    expect(up.code).toBe(1);
    const lines = up.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(
      `busy: failed on 127.0.0.1:${port}: ERR_PORT_IN_USE: Port 127.0.0.1:${port} is already ` +
        `in use by node (pid ${holder.pid})`,
    );
    expect(lines[1]).toBe(
      `  hint: Stop the program that uses port ${port} or choose another port with ` +
        '`bastionless edit busy --local-port N` (localPort).',
    );
  });

  it('doctor fails the port of a failed tunnel', { timeout: 60_000 }, async () => {
    const doctor = await runCli(['doctor', 'busy'], env);
    expect(doctor.code).toBe(1);
    const lines = doctor.stdout.split('\n');
    const index = lines.findIndex((line) => line.includes('Local port free'));
    expect(lines[index]).toBe(
      `  [FAIL] Local port free: 127.0.0.1:${port} is in use by node (pid ${holder.pid})`,
    );
    expect(lines[index + 1]).toBe(
      `         fix: Stop the program that uses port ${port} or choose another port with ` +
        '`bastionless edit busy --local-port N` (localPort).',
    );
  });
});
