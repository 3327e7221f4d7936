// The real CLI against a real daemon started with `start --config OTHER`: `up` of a profile
// that `add` wrote to the default config file names both files and the fix.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, runCli, useCliHome } from '../cli/helpers.js';

let env: NodeJS.ProcessEnv;
let home: string;
let file: string;

useCliHome('bastionless-up-other-config-', (created) => ({ env, home, file } = created));

describe('up with another daemon config', () => {
  it('names both config files', { timeout: 90_000 }, async () => {
    const other = join(home, 'other.json');
    writeFileSync(other, `${JSON.stringify({ version: 2, profiles: [] }, null, 2)}\n`);
    const started = await runCli(['start', '--config', other], env, 60_000);
    expect(started.code, started.stderr).toBe(0);
    const localPort = await freePort();
    const added = await runCli(
      [
        'add',
        'z1',
        '--target',
        'i-0123456789abcdef0',
        '--remote-port',
        '5432',
        '--local-port',
        String(localPort),
        '--region',
        'us-east-1',
      ],
      env,
    );
    expect(added.code, added.stderr).toBe(0);

    const up = await runCli(['up', 'z1'], env);

    expect(up.code).toBe(1);
    expect(up.stderr).toContain(`no tunnel or group is named "z1" in the running daemon`);
    expect(up.stderr).toContain(`reads config file ${other}`);
    expect(up.stderr).toContain(`\`add\` writes ${file}`);
    expect(up.stderr).toContain(`\`bastionless start --config ${file}\``);
    expect(up.stderr).toContain(`\`bastionless up z1 --config ${other}\``);
  });
});
