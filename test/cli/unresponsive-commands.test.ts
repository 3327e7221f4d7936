// Commands that send requests to the daemon, run against a real daemon frozen with SIGSTOP:
// each one exits within a few seconds with the suspended message, not after a request timeout.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, runCli, startDaemonPid, stopSuspendedDaemon } from './helpers.js';

/** Probe of 2 s plus the CLI's start-up under tsx on a busy machine. */
const MAX_ANSWER_MS = 8000;

// SIGSTOP and /proc are Linux facilities.
describe.runIf(process.platform === 'linux')('commands on a suspended daemon', () => {
  let home: string;
  let env: NodeJS.ProcessEnv;
  let pid = 0;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'bastionless-suspended-'));
    env = cliEnv(home);
    pid = await startDaemonPid(env);
  });

  afterAll(() => stopSuspendedDaemon(pid, env, home));

  it.each([[['up', 'web']], [['down', 'web']], [['dashboard']], [['mfa']]])(
    '%j names kill -CONT',
    async (args) => {
      process.kill(pid, 'SIGSTOP');
      try {
        const startedAt = Date.now();
        const result = await runCli(args, env);
        const elapsedMs = Date.now() - startedAt;
        expect(result.code).toBe(1);
        expect(result.stdout).toBe('');
        expect(result.stderr).toContain(
          `bastionless: the daemon (pid ${pid}) holds the state directory`,
        );
        expect(result.stderr).toContain('is suspended (process state T');
        expect(result.stderr).toContain(`resume it with \`kill -CONT ${pid}\``);
        expect(result.stderr).not.toContain('/v1/');
        expect(elapsedMs).toBeLessThan(MAX_ANSWER_MS);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
    },
  );

  it('up works again after kill -CONT', async () => {
    const result = await runCli(['up', 'web'], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no tunnel or group is named "web"');
    expect(result.stderr).not.toContain('suspended');
  });
});
