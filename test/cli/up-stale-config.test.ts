// `up` and `down` on a known tunnel while the daemon rejects its config file: a warning with
// the file's problem comes before the result, because the tunnel runs with the old settings.

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { freePort, runCli, useCliHome, waitFor } from './helpers.js';

const WARNING_START =
  'warning: the daemon did not load the current config file and uses the profiles it loaded before: ';

let env: NodeJS.ProcessEnv;
let file: string;

useCliHome('bastionless-up-stale-', (created) => ({ env, file } = created));

/** Starts the daemon with one on-demand profile `t3`; returns its local port. */
async function startWithProfile(): Promise<number> {
  const localPort = await freePort();
  const profile = {
    name: 't3',
    region: 'us-east-1',
    target: 'i-0123456789abcdef0',
    remotePort: 5432,
    localPort,
    groups: ['team'],
    endpoints: { ssm: 'http://127.0.0.1:9' },
  };
  writeFileSync(file, `${JSON.stringify({ version: 2, profiles: [profile] }, null, 2)}\n`);
  const started = await runCli(['start'], env, 60_000);
  expect(started.code, started.stderr).toBe(0);
  return localPort;
}

/** Waits until `status` reports the file problem that contains `problem`. */
async function waitForRejection(problem: string): Promise<void> {
  await waitFor(`daemon rejects the file (${problem})`, async () => {
    const status = await runCli(['status'], env);
    return status.stderr.includes(problem) ? true : undefined;
  });
}

describe('up and down with a rejected file', () => {
  it('warns before the result', { timeout: 120_000 }, async () => {
    const localPort = await startWithProfile();
    const healthy = await runCli(['up', 't3'], env);
    expect(healthy.code, healthy.stderr).toBe(0);
    expect(healthy.stderr).toBe('');

    writeFileSync(file, '{\n  "version": 2,\n');
    await waitForRejection('not valid JSON');
    for (const argv of [
      ['up', 't3'],
      ['down', 't3'],
      ['up', 'team'],
    ]) {
      const result = await runCli(argv, env);
      const [warning, ...rest] = result.stderr.trimEnd().split('\n');
      expect({ argv, code: result.code }).toEqual({ argv, code: 0 });
      expect(warning).toMatch(
        new RegExp(`^${escape(WARNING_START)}config file ${escape(file)} is not valid JSON \\(`),
      );
      expect(warning).toContain('; fix it in an editor');
      expect(rest).toEqual([]);
      expect(result.stdout).toMatch(new RegExp(`^t3: \\w+`));
    }
    const down = await runCli(['down', 't3'], env);
    expect(down.stdout).toBe('t3: stopped\n');

    rmSync(file);
    mkdirSync(file);
    await waitForRejection('it is a directory');
    const onDirectory = await runCli(['up', 't3'], env);
    expect(onDirectory.code).toBe(0);
    expect(onDirectory.stderr).toBe(
      `${WARNING_START}cannot read config file ${file}: it is a directory; move the directory aside, or choose a file with --config FILE\n`,
    );
    expect(onDirectory.stdout).toContain(`t3: `);
    expect(onDirectory.stdout).toContain(`127.0.0.1:${localPort}`);
  });

  it('leaves a healthy file silent', { timeout: 90_000 }, async () => {
    await startWithProfile();
    for (const argv of [
      ['up', 't3'],
      ['down', 't3'],
    ]) {
      const result = await runCli(argv, env);
      expect({ argv, stderr: result.stderr }).toEqual({ argv, stderr: '' });
    }
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
