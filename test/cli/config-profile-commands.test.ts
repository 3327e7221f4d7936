// `add`, `edit` and `rm` with real CLI processes: flag errors, the printed address, messages
// for missing profiles and taken ports, parallel edits, and the warning when the running
// daemon reads another config file. Also the examples at the end of each command's help.

import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, runCli, useCliHome } from './helpers.js';
import { addArgs, expectHelpExamples } from './config-test-helpers.js';

let env: NodeJS.ProcessEnv;
let file: string;
let home: string;

useCliHome('bastionless-config-commands-', (created) => ({ env, file, home } = created));

function profileOnDisk(name: string): Record<string, unknown> | undefined {
  const document = JSON.parse(readFileSync(file, 'utf8')) as {
    profiles: Record<string, unknown>[];
  };
  return document.profiles.find((profile) => profile.name === name);
}

describe('profile commands', () => {
  it('reject bad --mode and --session-pool', async () => {
    const port = await freePort();
    const mode = await runCli(addArgs('pg', port, ['--mode', 'sometimes']), env);
    expect(mode.code).toBe(2);
    expect(mode.stderr).toContain(
      'invalid --mode sometimes: must be on-demand or always-on; see `bastionless add --help`',
    );
    const pool = await runCli(addArgs('pg', port, ['--session-pool', '9']), env);
    expect(pool.code).toBe(2);
    expect(pool.stderr).toContain(
      'invalid --session-pool 9: must be a whole number 1-8; see `bastionless add --help`',
    );
    expect(existsSync(file)).toBe(false);
  });

  it('add prints IPv6 address in brackets', async () => {
    const port = await freePort();
    const added = await runCli(addArgs('v6', port, ['--bind', '::1']), env);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain(`added profile "v6" on [::1]:${port} (${file})`);
  });

  it('rm without a file suggests add', async () => {
    const removed = await runCli(['rm', 'x'], env);
    expect(removed.code).toBe(1);
    expect(removed.stderr).toContain(
      `profile "x" not found, because config file ${file} does not exist yet; add one with \`bastionless add\``,
    );
    expect(removed.stderr).not.toContain('bastionless status');
  });

  it('edit names the edited profile first', async () => {
    const [pgPort, httpPort] = [await freePort(), await freePort()];
    expect((await runCli(addArgs('pg', pgPort), env)).code).toBe(0);
    expect((await runCli(addArgs('http', httpPort), env)).code).toBe(0);
    const edited = await runCli(['edit', 'pg', '--local-port', String(httpPort)], env);
    expect(edited.code).toBe(1);
    expect(edited.stderr).toContain(
      `profile "pg": localPort ${httpPort} on 127.0.0.1 is already used by profile "http"; choose another port`,
    );
  });

  it('parallel edits keep every field', { timeout: 60_000 }, async () => {
    const port = await freePort();
    expect((await runCli(addArgs('pg', port), env)).code).toBe(0);
    // A held lock makes every edit read the file first and then wait, so all of them would
    // write the profile as they read it unless they read it again under the lock.
    const lockFile = `${file}.lock`;
    writeFileSync(lockFile, JSON.stringify({ pid: process.pid, time: Date.now() }));
    const edits = Promise.all([
      runCli(['edit', 'pg', '--mode', 'always-on'], env),
      runCli(['edit', 'pg', '--session-pool', '3'], env),
      runCli(['edit', 'pg', '--group', 'prod'], env),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    rmSync(lockFile);
    for (const result of await edits) {
      expect(result.code, result.stderr).toBe(0);
    }
    const profile = profileOnDisk('pg');
    expect(profile?.mode).toBe('always-on');
    expect(profile?.sessionPool).toBe(3);
    expect(profile?.groups).toEqual(['prod']);
  });

  it('warns when daemon reads another file', { timeout: 120_000 }, async () => {
    const otherDir = join(home, 'other');
    mkdirSync(otherDir);
    const other = join(otherDir, 'other.json');
    writeFileSync(other, '{"version": 2, "profiles": []}\n');
    const started = await runCli(['start', '--config', other], env, 60_000);
    expect(started.code, started.stderr).toBe(0);

    const warning =
      `warning: the running daemon uses config file ${other}, not ${file}, so it does not apply this change; ` +
      `pass \`--config ${other}\` to change its profiles, or restart it on this file with ` +
      `\`bastionless stop\` and \`bastionless start --config ${file}\``;
    const port = await freePort();
    for (const argv of [addArgs('z1', port), ['edit', 'z1', '--mode', 'always-on'], ['rm', 'z1']]) {
      const result = await runCli(argv, env);
      expect({ argv, code: result.code }).toEqual({ argv, code: 0 });
      expect(result.stderr).toBe(`${warning}\n`);
    }
    const same = await runCli([...addArgs('z2', port), '--config', other], env);
    expect(same.code).toBe(0);
    expect(same.stderr).toBe('');
  });

  it.each(['add', 'edit', 'rm'])('%s help ends with examples', async (command) => {
    await expectHelpExamples(command, env);
  });
});
