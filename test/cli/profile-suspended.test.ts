// `add`, `edit` and `rm` write the config file while the daemon is frozen with SIGSTOP: each
// succeeds and warns that the change takes effect when the daemon resumes, which it then does.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cliEnv,
  freePort,
  runCli,
  waitFor,
  startDaemonPid,
  stopSuspendedDaemon,
} from './helpers.js';

// SIGSTOP and /proc are Linux facilities.
describe.runIf(process.platform === 'linux')('profile commands on a suspended daemon', () => {
  let home: string;
  let env: NodeJS.ProcessEnv;
  let pid = 0;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'bastionless-profile-suspended-'));
    env = cliEnv(home);
    pid = await startDaemonPid(env);
  });

  afterAll(() => stopSuspendedDaemon(pid, env, home));

  /** Runs `argv` with the daemon stopped by SIGSTOP, and resumes it afterwards. */
  async function whileSuspended(argv: string[]) {
    process.kill(pid, 'SIGSTOP');
    try {
      return await runCli(argv, env);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  }

  function expectResumeWarning(stderr: string): void {
    const lines = stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^warning: the daemon \\(pid ${pid}\\) holds the state`));
    expect(lines[0]).toContain('is suspended (process state T');
    expect(lines[0]).toContain(', and the change takes effect when it resumes; ');
    expect(
      lines[0]!.endsWith(
        `resume it with \`kill -CONT ${pid}\`, or end it with \`bastionless stop\``,
      ),
    ).toBe(true);
  }

  /** Waits until `status` lists `name` on 127.0.0.1:`port`; returns true then. */
  async function listedAddress(name: string, port: number): Promise<boolean> {
    return waitFor(`daemon lists ${name} on port ${port}`, async () => {
      const status = await runCli(['status'], env);
      const row = status.stdout.split('\n').find((line) => line.startsWith(`${name} `));
      return row?.includes(`127.0.0.1:${port}`) ? true : undefined;
    });
  }

  it('add, edit and rm warn', { timeout: 120_000 }, async () => {
    const firstPort = await freePort();
    const added = await whileSuspended([
      'add',
      'web',
      '--target',
      'i-0123456789abcdef0',
      '--remote-port',
      '8080',
      '--local-port',
      String(firstPort),
      '--region',
      'us-east-1',
    ]);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain('added profile "web"');
    expectResumeWarning(added.stderr);
    expect(await listedAddress('web', firstPort)).toBe(true);

    const secondPort = await freePort();
    const edited = await whileSuspended(['edit', 'web', '--local-port', String(secondPort)]);
    expect(edited.code, edited.stderr).toBe(0);
    expect(edited.stdout).toBe('updated profile "web"\n');
    expectResumeWarning(edited.stderr);
    expect(await listedAddress('web', secondPort)).toBe(true);

    const removed = await whileSuspended(['rm', 'web']);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toBe('removed profile "web"\n');
    expectResumeWarning(removed.stderr);
    await waitFor('daemon drops web', async () => {
      const status = await runCli(['status'], env);
      return status.stdout.includes('web ') ? undefined : true;
    });
  });

  it('edit on a running daemon stays silent', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const added = await runCli(
      [
        'add',
        'api',
        '--target',
        'i-0123456789abcdef0',
        '--remote-port',
        '80',
        '--local-port',
        String(port),
        '--region',
        'us-east-1',
      ],
      env,
    );
    expect(added.stderr).toBe('');
    const edited = await runCli(['edit', 'api', '--local-port', String(await freePort())], env);
    expect(edited.code).toBe(0);
    expect(edited.stderr).toBe('');
    const removed = await runCli(['rm', 'api'], env);
    expect(removed.stderr).toBe('');
  });
});
