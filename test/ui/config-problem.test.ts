import { describe, expect, it } from 'vitest';
import { describeConfigProblem, MAX_LISTED_FIELDS } from '../../ui/src/lib/config-problem.js';
import type { ConfigErrorStatus } from '../../ui/src/lib/types.js';

const FILE = '/home/dev/.config/bastionless/config.json';
const EDIT_FIX =
  'fix it in an editor, or move it aside and add the profiles again with `bastionless add`';

function invalidError(messages: string[]): ConfigErrorStatus {
  const reason = `${messages[0]}${messages.length > 1 ? ` (and ${messages.length - 1} more)` : ''}`;
  return {
    code: 'ERR_CONFIG_INVALID',
    message: `config file ${FILE} is invalid: ${reason}; ${EDIT_FIX}`,
    reason,
    fix: EDIT_FIX,
    fields: messages.map((message, index) => ({ path: `profiles[${index}].name`, message })),
  };
}

describe('describeConfigProblem', () => {
  it('returns null for a valid file', () => {
    expect(describeConfigProblem({ configFile: FILE, configError: null, tunnels: 2 })).toBeNull();
  });

  it('names the file, problem and fix', () => {
    const problem = describeConfigProblem({
      configFile: FILE,
      configError: invalidError(['profile "db": the name is already used by profiles[0]']),
      tunnels: 2,
    });

    expect(problem?.title).toBe(`The daemon rejected its config file ${FILE}.`);
    expect(problem?.problem).toBe('Profile "db": the name is already used by profiles[0].');
    expect(problem?.fix).toBe(`${EDIT_FIX.charAt(0).toUpperCase()}${EDIT_FIX.slice(1)}.`);
    expect(problem?.details).toEqual([]);
    expect(problem?.consequence).toContain('keeps the 2 profiles it loaded before');
  });

  it('says when no profiles are loaded', () => {
    const problem = describeConfigProblem({
      configFile: FILE,
      configError: invalidError(['bad']),
      tunnels: 0,
    });

    expect(problem?.consequence).toMatch(/^The daemon has no profiles loaded\./);
  });

  it('uses the singular for one profile', () => {
    const problem = describeConfigProblem({
      configFile: FILE,
      configError: invalidError(['bad']),
      tunnels: 1,
    });

    expect(problem?.consequence).toContain('keeps the 1 profile it loaded before');
  });

  it('lists further fields in place of the count', () => {
    const problem = describeConfigProblem({
      configFile: FILE,
      configError: invalidError(['first problem', 'second problem', 'third problem']),
      tunnels: 1,
    });

    expect(problem?.problem).toBe('First problem.');
    expect(problem?.details).toEqual([
      'profiles[1].name: second problem',
      'profiles[2].name: third problem',
    ]);
  });

  it('caps the listed fields', () => {
    const messages = Array.from({ length: MAX_LISTED_FIELDS + 5 }, (_, index) => `p${index}`);

    const problem = describeConfigProblem({
      configFile: FILE,
      configError: invalidError(messages),
      tunnels: 1,
    });

    expect(problem?.details).toHaveLength(MAX_LISTED_FIELDS + 1);
    expect(problem?.details.at(-1)).toBe('and 4 more problems');
  });

  it('falls back to the message of an older daemon', () => {
    const message = `config file ${FILE} is not valid JSON (line 1); ${EDIT_FIX}`;

    const problem = describeConfigProblem({
      configFile: FILE,
      configError: { code: 'ERR_CONFIG_PARSE', message } as ConfigErrorStatus,
      tunnels: 0,
    });

    expect(problem?.problem).toBe(`C${message.slice(1)}.`);
    expect(problem?.fix).toBeNull();
    expect(problem?.details).toEqual([]);
  });
});
