// Parallel `add` and `rm` processes, and the daemon's profile API writing at the same time as
// the CLI: every change must be in the config file afterwards, because each writer re-reads
// the file under its lock file.

import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { freePort, runCli, useCliHome, waitFor } from './helpers.js';
import { addArgs } from './config-test-helpers.js';
import { DaemonClient } from '../../daemon/cli/client.js';
import { probeDaemon } from '../../daemon/instance-lock.js';
import { resolvePaths } from '../../daemon/paths.js';

const PARALLEL = 10;

let env: NodeJS.ProcessEnv;
let file: string;
let home: string;

useCliHome('bastionless-config-concurrent-', (created) => ({ env, file, home } = created));

function profileNamesOnDisk(): string[] {
  const document = JSON.parse(readFileSync(file, 'utf8')) as { profiles: { name: string }[] };
  return document.profiles.map((profile) => profile.name).sort();
}

const names = Array.from({ length: PARALLEL }, (_, index) => `r${index}`);

/** Starts PARALLEL `add` processes at once and checks that each succeeded. */
async function addInParallel(basePort: number): Promise<void> {
  const results = await Promise.all(
    names.map((name, index) => runCli(addArgs(name, basePort + index), env, 60_000)),
  );
  for (const [index, result] of results.entries()) {
    expect({ name: names[index], code: result.code, stderr: result.stderr }).toEqual({
      name: names[index],
      code: 0,
      stderr: '',
    });
  }
}

describe('concurrent config writes', () => {
  it('parallel add and rm keep every change', { timeout: 180_000 }, async () => {
    const basePort = 20_000 + Math.floor(Math.random() * 20_000);
    await addInParallel(basePort);
    expect(profileNamesOnDisk()).toEqual([...names].sort());

    const removed = await Promise.all(names.map((name) => runCli(['rm', name], env, 60_000)));
    for (const [index, result] of removed.entries()) {
      expect({ name: names[index], code: result.code, stderr: result.stderr }).toEqual({
        name: names[index],
        code: 0,
        stderr: '',
      });
    }
    expect(profileNamesOnDisk()).toEqual([]);
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it('CLI and daemon API write together', { timeout: 180_000 }, async () => {
    const started = await runCli(['start'], env, 60_000);
    expect(started.code, started.stderr).toBe(0);
    const probe = await probeDaemon(resolvePaths({ env: { BASTIONLESS_HOME: home } }));
    if (probe.state !== 'running') {
      throw new Error(`the daemon is ${probe.state}`);
    }
    const client = new DaemonClient(probe.url, probe.token, probe.pid);
    const basePort = await freePort();
    const apiNames = Array.from({ length: PARALLEL }, (_, index) => `api${index}`);
    const apiWrites = (async () => {
      for (const [index, name] of apiNames.entries()) {
        await client.request('POST', '/v1/profiles', {
          name,
          region: 'us-east-1',
          target: 'i-0123456789abcdef0',
          remotePort: 1,
          localPort: basePort + 100 + index,
          endpoints: { ssm: 'http://127.0.0.1:9' },
        });
      }
    })();
    await Promise.all([addInParallel(basePort), apiWrites]);

    const expected = [...names, ...apiNames].sort();
    expect(profileNamesOnDisk()).toEqual(expected);
    await waitFor('the daemon loads every profile', async () => {
      const loaded = await client.request<{ name: string }[]>('GET', '/v1/profiles');
      const loadedNames = loaded.map((profile) => profile.name).sort();
      return JSON.stringify(loadedNames) === JSON.stringify(expected) ? true : undefined;
    });
  });
});
