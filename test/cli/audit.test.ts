// `audit`: the line printed when no session matches, and the real CLI reading a log with
// sessions of other profiles.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../daemon/audit/log.js';
import { noSessionsMessage } from '../../daemon/cli/audit.js';
import { cliEnv, runCli } from './helpers.js';

function entry(profile: string, sessionId: string): AuditEntry {
  return {
    profile,
    target: 'i-0123456789abcdef0',
    remoteHost: null,
    remotePort: 5432,
    sessionId,
    start: '2026-12-04T10:00:00.000Z',
    end: '2026-12-04T10:30:00.000Z',
    reason: 'closed by user',
    bytesIn: 10,
    bytesOut: 20,
  };
}

describe('noSessionsMessage', () => {
  const file = '/state/audit.jsonl';

  it('names the file of an empty log', () => {
    expect(noSessionsMessage([], 'nosuch', file)).toBe(
      'no sessions recorded in /state/audit.jsonl',
    );
  });

  it('lists the profiles that have sessions', () => {
    const entries = [entry('b', 's-1'), entry('a', 's-2'), entry('b', 's-3')];
    expect(noSessionsMessage(entries, 'nosuch', file)).toBe(
      'no sessions for profile nosuch (3 sessions recorded for: a, b)',
    );
  });

  it('counts one session in the singular', () => {
    expect(noSessionsMessage([entry('a', 's-1')], 'nosuch', file)).toBe(
      'no sessions for profile nosuch (1 session recorded for: a)',
    );
  });
});

describe('bastionless audit', () => {
  let home: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), 'bastionless-audit-cli-'));
    env = cliEnv(home);
    mkdirSync(join(home, 'state'), { recursive: true });
    const lines = [entry('a', 's-1'), entry('b', 's-2')].map((item) => JSON.stringify(item));
    writeFileSync(join(home, 'state', 'audit.jsonl'), `${lines.join('\n')}\n`);
  });

  afterAll(() => {
    rmSync(home, { recursive: true, force: true });
  });

  it('names recorded profiles for an unknown one', async () => {
    const result = await runCli(['audit', '--profile', 'nosuch'], env);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('no sessions for profile nosuch (2 sessions recorded for: a, b)\n');
  });

  it('prints the sessions of a known profile', async () => {
    const result = await runCli(['audit', '--profile', 'b'], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('s-2');
    expect(result.stdout).not.toContain('s-1');
  });
});
