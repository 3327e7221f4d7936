// Helpers of the config file CLI tests: `add` arguments and the help examples check.

import { expect } from 'vitest';
import { runCli } from './helpers.js';

/** Returns `add NAME` arguments for a profile on `localPort` that no test connects through. */
export function addArgs(name: string, localPort: number, extra: string[] = []): string[] {
  return [
    'add',
    name,
    '--target',
    'i-0123456789abcdef0',
    '--remote-port',
    '1',
    '--local-port',
    String(localPort),
    '--endpoint-url',
    'http://127.0.0.1:9',
    ...extra,
  ];
}

/** Checks that `bastionless COMMAND --help` ends with `Examples:` and 1-3 example lines. */
export async function expectHelpExamples(command: string, env: NodeJS.ProcessEnv): Promise<void> {
  const help = await runCli([command, '--help'], env);
  expect(help.code).toBe(0);
  const blocks = help.stdout.trimEnd().split('\n\n');
  const [heading, ...examples] = blocks.at(-1)!.split('\n');
  expect(heading).toBe('Examples:');
  expect(examples.length).toBeGreaterThanOrEqual(1);
  expect(examples.length).toBeLessThanOrEqual(3);
  for (const example of examples) {
    expect(example).toMatch(new RegExp(`^  bastionless ${command}( |$)`));
  }
}
