// The real CLI's `--help` of status, up, down and dashboard ends with one to three examples,
// each a command line of that command that uses only options its usage line names.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, runCli } from '../cli/helpers.js';

let home: string;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'bastionless-tunnel-help-'));
});

afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('tunnel command help', () => {
  it.each(['status', 'up', 'down', 'dashboard'])('%s ends with examples', async (command) => {
    const result = await runCli([command, '--help'], cliEnv(home));
    const lines = result.stdout.trimEnd().split('\n');
    const heading = lines.lastIndexOf('Examples:');
    const examples = lines.slice(heading + 1);
    const usage = lines[0]!;

    expect(result.code).toBe(0);
    expect(usage).toMatch(new RegExp(`^Usage: bastionless ${command}\\b`));
    expect(heading).toBeGreaterThan(0);
    expect(lines[heading - 1]).toBe('');
    expect(examples.length).toBeGreaterThanOrEqual(1);
    expect(examples.length).toBeLessThanOrEqual(3);
    for (const example of examples) {
      expect(example).toMatch(new RegExp(`^  bastionless ${command}( |$)`));
      for (const option of example.match(/--[a-z-]+/g) ?? []) {
        expect(usage).toContain(option);
      }
    }
  });
});
