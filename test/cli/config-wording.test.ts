// One wording per config file problem. configErrorText runs on built errors first. Then the
// real CLI runs, with and without a real daemon, on a file with invalid JSON, an empty file, a
// file with two problems and a directory in place of the file.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  configErrorText,
  invalidFailure,
  MAX_LISTED_ISSUES,
  parseFailure,
  readFailure,
} from '../../daemon/config/file-errors.js';
import { runCli, sha256, useCliHome, waitFor } from './helpers.js';

const EDIT_FIX =
  'fix it in an editor, or move it aside and add the profiles again with `bastionless add`';

function syntaxErrorOf(text: string): unknown {
  try {
    JSON.parse(text);
  } catch (error) {
    return error;
  }
  throw new Error(`${text} parsed`);
}

describe('configErrorText', () => {
  it('keeps a parse error as it is', () => {
    const text = '{"version": 2,}';
    const error = parseFailure('/h/config.json', text, syntaxErrorOf(text));
    const { message, details } = configErrorText(error);
    expect(message).toBe(error.message);
    expect(message).toMatch(/^config file \/h\/config\.json is not valid JSON \(.+\); /);
    expect(message.endsWith(`; ${EDIT_FIX}`)).toBe(true);
    expect(details).toEqual([]);
  });

  it('puts left unchanged before the fix', () => {
    const text = '{"version": 2,}';
    const error = parseFailure('/h/config.json', text, syntaxErrorOf(text));
    const { message } = configErrorText(error, { leftUnchanged: true });
    expect(message).toMatch(
      /^config file \/h\/config\.json is not valid JSON \(.+\), so it was left unchanged; fix it in an editor/,
    );
  });

  it('words an empty file once', () => {
    const error = parseFailure('/h/config.json', '', syntaxErrorOf(''));
    expect(configErrorText(error, { leftUnchanged: true }).message).toBe(
      'config file /h/config.json is empty, so it was left unchanged; write {"version": 2, "profiles": []} into it, or delete it and add profiles with `bastionless add`',
    );
  });

  it('keeps a read error unchanged', () => {
    const cause = Object.assign(new Error('EISDIR: illegal operation on a directory, read'), {
      code: 'EISDIR',
    });
    const error = readFailure('/h/config.json', cause);
    expect(configErrorText(error, { leftUnchanged: true }).message).toBe(
      'cannot read config file /h/config.json: it is a directory; move the directory aside, or choose a file with --config FILE',
    );
  });

  it('lists the second problem', () => {
    const error = invalidFailure('/h/config.json', [
      { path: 'profiles[1].name', message: 'profile "a": the name is already used' },
      { path: 'profiles[1].localPort', message: 'profile "a": localPort 1 is already used' },
    ]);
    expect(error.message).toContain('(and 1 more)');
    const { message, details } = configErrorText(error);
    expect(message).toBe(
      'config file /h/config.json is invalid: profiles[1].name: profile "a": the name is already used',
    );
    expect(details).toEqual([
      '  profiles[1].localPort: profile "a": localPort 1 is already used',
      EDIT_FIX,
    ]);
  });

  it('counts the problems past the maximum', () => {
    const issues = Array.from({ length: MAX_LISTED_ISSUES + 4 }, (_, index) => ({
      path: `profiles[${index}].region`,
      message: `profile "p${index}": region is missing`,
    }));
    const { message, details } = configErrorText(invalidFailure('/h/config.json', issues));
    expect(message).toBe(
      'config file /h/config.json is invalid: profiles[0].region: profile "p0": region is missing',
    );
    expect(message).not.toContain('more)');
    expect(details).toHaveLength(MAX_LISTED_ISSUES + 2);
    expect(details[0]).toBe('  profiles[1].region: profile "p1": region is missing');
    expect(details.at(-2)).toBe('  and 3 more problems');
    expect(details.at(-1)).toBe(EDIT_FIX);
  });
});

let env: NodeJS.ProcessEnv;
let file: string;

useCliHome('bastionless-config-wording-', (created) => ({ env, file } = created));

function profile(name: string): Record<string, unknown> {
  return {
    name,
    region: 'us-east-1',
    target: 'i-0123456789abcdef0',
    remotePort: 5432,
    localPort: 15432,
  };
}

function configText(profiles: Record<string, unknown>[]): string {
  return `${JSON.stringify({ version: 2, profiles }, null, 2)}\n`;
}

/** Commands that read the file, and whether each one would have written it. */
const COMMANDS: Array<{ argv: string[]; writes: boolean }> = [
  { argv: ['status'], writes: false },
  {
    argv: [
      'add',
      'b',
      '--target',
      'i-0123456789abcdef0',
      '--remote-port',
      '1',
      '--local-port',
      '2',
    ],
    writes: true,
  },
  { argv: ['edit', 'a', '--local-port', '3'], writes: true },
  { argv: ['rm', 'a'], writes: true },
  { argv: ['policy'], writes: false },
  { argv: ['doctor'], writes: false },
];

describe('one wording across commands', () => {
  it('words invalid JSON the same way', { timeout: 90_000 }, async () => {
    writeFileSync(file, configText([profile('a')]).replace('}\n', '},\n'));
    const before = sha256(readFileSync(file));
    const problem = `bastionless: config file ${file} is not valid JSON (Unexpected token ']' at line 11, column 3)`;
    for (const { argv, writes } of COMMANDS) {
      const result = await runCli(argv, env);
      const [message] = result.stderr.split('\n');
      const unchanged = writes ? ', so it was left unchanged' : '';
      expect({ argv, code: result.code }).toEqual({ argv, code: 1 });
      expect({ argv, message }).toEqual({ argv, message: `${problem}${unchanged}; ${EDIT_FIX}` });
    }
    expect(sha256(readFileSync(file))).toBe(before);
  });

  it('lists both problems of a file', { timeout: 90_000 }, async () => {
    writeFileSync(file, configText([profile('a'), profile('a')]));
    const second =
      '  profiles[1].localPort: profile "a": localPort 15432 on 127.0.0.1 is already used by profile "a"; choose another port';
    for (const { argv, writes } of COMMANDS) {
      const result = await runCli(argv, env);
      const [message, ...details] = result.stderr.trimEnd().split('\n');
      const unchanged = writes ? ', so it was left unchanged' : '';
      expect({ argv, message }).toEqual({
        argv,
        message: `bastionless: config file ${file} is invalid${unchanged}: profiles[1].name: profile "a": the name is already used by profiles[0]; choose another name`,
      });
      expect({ argv, details }).toEqual({ argv, details: [second, EDIT_FIX] });
    }
  });
});

describe('daemon with a rejected config file', () => {
  it('status and up lead with the file', { timeout: 120_000 }, async () => {
    writeFileSync(file, '');
    const started = await runCli(['start'], env, 60_000);
    expect(started.code).toBe(0);
    const emptyProblem = `config file ${file} is empty; write {"version": 2, "profiles": []} into it, or delete it and add profiles with \`bastionless add\``;
    expect(started.stderr.split('\n')[0]).toBe(`warning: ${emptyProblem}`);

    const status = await runCli(['status'], env);
    expect(status.code).toBe(1);
    expect(status.stderr).toBe(`bastionless: ${emptyProblem}\n`);
    const [daemonLine, tunnelsLine] = status.stdout.trimEnd().split('\n');
    expect(daemonLine).toMatch(/^bastionless is running \(pid \d+, control API on [^)]+\); /);
    expect(daemonLine).toContain('it has no profiles loaded and loads the file again');
    expect(daemonLine).not.toContain('keeps');
    expect(tunnelsLine).toBe(
      'no tunnels; fix the config file as described above, and the daemon loads it within a second',
    );

    const up = await runCli(['up', 'web'], env);
    expect(up.code).toBe(1);
    expect(up.stderr).toBe(
      `bastionless: ${emptyProblem}\nthe daemon did not load this file and has no profiles, so no tunnel or group is named "web"\n`,
    );

    rmSync(file);
    mkdirSync(file);
    const directoryProblem = `cannot read config file ${file}: it is a directory; move the directory aside, or choose a file with --config FILE`;
    const upOnDirectory = await waitFor('daemon reads the directory', async () => {
      const result = await runCli(['up', 'web'], env);
      return result.stderr.includes('it is a directory') ? result : undefined;
    });
    expect(upOnDirectory.stderr).toBe(
      `bastionless: ${directoryProblem}\nthe daemon did not load this file and has no profiles, so no tunnel or group is named "web"\n`,
    );
    expect(upOnDirectory.stderr).not.toContain('profiles added to it');

    const statusOnDirectory = await runCli(['status'], env);
    expect(statusOnDirectory.code).toBe(1);
    expect(statusOnDirectory.stderr).toBe(`bastionless: ${directoryProblem}\n`);
    expect(statusOnDirectory.stdout).toContain('it has no profiles loaded');
    expect(statusOnDirectory.stdout).not.toContain('bastionless add');
  });

  it('status counts the profiles it keeps', { timeout: 120_000 }, async () => {
    writeFileSync(file, configText([profile('a')]));
    const started = await runCli(['start'], env, 60_000);
    expect(started.code, started.stderr).toBe(0);
    writeFileSync(file, '{');
    const status = await waitFor('daemon rejects the file', async () => {
      const result = await runCli(['up', 'web'], env);
      return result.stderr.includes('not valid JSON') ? result : undefined;
    });
    expect(status.stderr).toContain(
      'the daemon did not load this file and keeps the 1 profile it loaded before, but no tunnel or group among them is named "web"',
    );
    const listed = await runCli(['status'], env);
    expect(listed.stdout).toContain('it keeps the 1 profile it loaded before and loads the file');
    expect(listed.stdout).toMatch(/\na +stopped /);
  });
});
