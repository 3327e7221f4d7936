// `start --config` with a missing file or folder, and the examples at the end of the help of
// `start`, `stop` and `daemon`.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, useCliHome } from './helpers.js';
import { expectHelpExamples } from './config-test-helpers.js';

let env: NodeJS.ProcessEnv;
let home: string;

useCliHome('bastionless-config-start-', (created) => ({ env, home } = created));

describe('start with --config', () => {
  it('start warns on a missing --config file', { timeout: 120_000 }, async () => {
    const missing = join(home, 'typo.json');
    const started = await runCli(['start', '--config', missing], env, 60_000);
    expect(started.code, started.stderr).toBe(0);
    expect(started.stderr).toContain(
      `warning: config file ${missing} does not exist, so the daemon starts with no profiles; it loads the file when it is created`,
    );
  });

  it('start rejects a missing --config folder', async () => {
    const missing = join(home, 'no-such-folder', 'config.json');
    const started = await runCli(['start', '--config', missing], env, 60_000);
    expect(started.code).toBe(1);
    expect(started.stderr).toContain(
      `config file ${missing} not found, and its folder ${join(home, 'no-such-folder')} does not exist either; check the path`,
    );
    expect(existsSync(join(home, 'state', 'api.json'))).toBe(false);
    expect(existsSync(join(home, 'no-such-folder'))).toBe(false);
  });

  it.each(['start', 'stop', 'daemon'])('%s help ends with examples', async (command) => {
    await expectHelpExamples(command, env);
  });
});
