// Layout of an invalid config file's message. The left-unchanged note follows "is invalid",
// every problem has its field path, and the fix is the last line. A problem's own next step,
// such as "use 1-65535", then does not read as the reason the file was left alone.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configErrorText, invalidFailure } from '../../daemon/config/file-errors.js';
import { cliEnv, runCli, sha256 } from './helpers.js';

const EDIT_FIX =
  'fix it in an editor, or move it aside and add the profiles again with `bastionless add`';

describe('configErrorText for an invalid file', () => {
  const rangeIssue = {
    path: 'profiles[0].remotePort',
    message: 'profile "a": remotePort 70000 is out of range; use 1-65535',
  };

  it('puts the note after is invalid', () => {
    const error = invalidFailure('/h/config.json', [rangeIssue]);
    const { message, details } = configErrorText(error, { leftUnchanged: true });
    expect(message).toBe(
      'config file /h/config.json is invalid, so it was left unchanged: profiles[0].remotePort: profile "a": remotePort 70000 is out of range; use 1-65535',
    );
    expect(details).toEqual([EDIT_FIX]);
  });

  it('leaves out the note for reads', () => {
    const { message } = configErrorText(invalidFailure('/h/config.json', [rangeIssue]));
    expect(message).not.toContain('left unchanged');
    expect(message).toContain('is invalid: profiles[0].remotePort: ');
  });

  it('keeps a file-wide problem without a path', () => {
    const error = invalidFailure('/h/config.json', [
      { path: '', message: 'the config must be a JSON object with "version" and "profiles"' },
    ]);
    expect(configErrorText(error).message).toBe(
      'config file /h/config.json is invalid: the config must be a JSON object with "version" and "profiles"',
    );
  });

  it('keeps the API message whole', () => {
    const error = invalidFailure('/h/config.json', [rangeIssue, rangeIssue]);
    expect(error.message).toBe(
      `config file /h/config.json is invalid: ${rangeIssue.message} (and 1 more); ${EDIT_FIX}`,
    );
  });
});

let home: string;
let env: NodeJS.ProcessEnv;
let file: string;

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'bastionless-config-layout-'));
  env = cliEnv(home);
  file = join(home, 'config.json');
});

afterEach(() => {
  rmSync(home, { recursive: true, force: true });
});

describe('edit on an invalid file', () => {
  it('prints paths, then the fix', { timeout: 60_000 }, async () => {
    const profile = {
      name: 'a',
      region: 'us-east-1',
      target: 'i-0123456789abcdef0',
      remotePort: 70000,
      localPort: 15432,
    };
    const second = { ...profile, name: 'b', remotePort: 5432, localPort: 0 };
    writeFileSync(file, `${JSON.stringify({ version: 2, profiles: [profile, second] })}\n`);
    const before = sha256(readFileSync(file));

    const result = await runCli(['edit', 'a', '--local-port', '15433'], env);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trimEnd().split('\n')).toEqual([
      `bastionless: config file ${file} is invalid, so it was left unchanged: profiles[0].remotePort: profile "a": remotePort 70000 is out of range; use 1-65535`,
      '  profiles[1].localPort: profile "b": localPort 0 is out of range; use 1-65535',
      EDIT_FIX,
    ]);
    expect(sha256(readFileSync(file))).toBe(before);
  });
});
