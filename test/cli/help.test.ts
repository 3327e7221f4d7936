// `bastionless help COMMAND` and the examples at the end of each command's help.

import { describe, expect, it } from 'vitest';
import { cliEnv, runCli, type CliResult } from './helpers.js';

const env = cliEnv('/nonexistent-bastionless-home');

/** Commands whose help must end with examples. */
const COMMANDS_WITH_EXAMPLES = [
  'audit',
  'connect',
  'doctor',
  'logs',
  'mfa',
  'policy',
  'profiles',
  'targets',
];

/** Runs `bastionless ...args` for each entry, four processes at a time to bound the load. */
async function runAll(argsList: string[][]): Promise<CliResult[]> {
  const results: CliResult[] = [];
  for (let start = 0; start < argsList.length; start += 4) {
    const batch = argsList.slice(start, start + 4).map((args) => runCli(args, env));
    results.push(...(await Promise.all(batch)));
  }
  return results;
}

/** Returns the command names listed under "Commands:" in the general help. */
function listedCommands(usage: string): string[] {
  const section = usage.split('\nCommands:\n')[1]!.split('\n\n')[0]!;
  return section.split('\n').map((line) => line.trim().split(/\s+/)[0]!);
}

describe('bastionless help', () => {
  it('prints the general help without a command', async () => {
    const result = await runCli(['help'], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: bastionless COMMAND \[options\]/);
    expect(result.stdout).toContain('`bastionless help COMMAND`');
  });

  it('prints the help of every command', { timeout: 120_000 }, async () => {
    const names = listedCommands((await runCli(['--help'], env)).stdout);
    expect(names).toContain('add');
    expect(names).toContain('connect');
    // Each pair runs at once, so both read the same version of the command's file.
    const results = await runAll(
      names.flatMap((name) => [
        ['help', name],
        [name, '--help'],
      ]),
    );
    names.forEach((name, index) => {
      const viaHelp = results[2 * index]!;
      const viaFlag = results[2 * index + 1]!;
      expect(viaHelp.code, name).toBe(0);
      expect(viaHelp.stderr, name).toBe('');
      expect(viaHelp.stdout, name).toMatch(new RegExp(`^Usage: bastionless ${name}\\b`));
      expect(viaHelp.stdout, name).toBe(viaFlag.stdout);
    });
  });

  it('rejects an unknown command with exit 2', async () => {
    const result = await runCli(['help', 'nosuch'], env);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      'bastionless: unknown command "nosuch"; run `bastionless --help` for the list\n',
    );
  });

  it('suggests the closest command', async () => {
    const result = await runCli(['help', 'statsu'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('did you mean `bastionless status`?');
  });

  it('rejects a second command', async () => {
    const result = await runCli(['help', 'add', 'rm'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unexpected argument "rm"');
  });

  it('ignores a leading --config', async () => {
    const result = await runCli(['--config', '/tmp/other.json', 'help', 'stop'], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: bastionless stop\b/);
  });
});

describe('command help examples', () => {
  it('ends each help with examples', { timeout: 120_000 }, async () => {
    const results = await runAll(COMMANDS_WITH_EXAMPLES.map((name) => [name, '--help']));
    COMMANDS_WITH_EXAMPLES.forEach((name, index) => {
      const help = results[index]!.stdout.trimEnd();
      const [options, examples] = help.split('\n\nExamples:\n');
      expect(examples, name).toBeDefined();
      const lines = examples!.split('\n');
      expect(lines.length, name).toBeGreaterThanOrEqual(1);
      expect(lines.length, name).toBeLessThanOrEqual(3);
      for (const line of lines) {
        expect(line, name).toMatch(new RegExp(`^  bastionless ${name}( |$)`));
        // Each option an example uses is one the help documents.
        for (const flag of line.match(/ --?[a-z][a-z-]*/g) ?? []) {
          expect(options, `${name}: ${line}`).toContain(flag.trim());
        }
      }
    });
  });
});
