// `bastionless logs`: one line per logged error without --verbose, the stack with it, on log
// lines written by the daemon's own logger.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BastionlessError } from '../../daemon/errors.js';
import { formatLogLine, withoutRepeatedCauses } from '../../daemon/cli/logs-command.js';
import { createLogger } from '../../daemon/log.js';
import { cliEnv, runCli } from './helpers.js';

const TIME = Date.UTC(2026, 0, 2, 3, 4, 5);
const STAMP = '2026-01-02T03:04:05.000Z';

function entry(fields: Record<string, unknown>): string {
  return JSON.stringify({ level: 50, time: TIME, pid: 1, hostname: 'h', ...fields });
}

function serialized(message: string, extra: Record<string, unknown> = {}) {
  return { type: 'Error', message, stack: `Error: ${message}\n    at run (file.js:1:1)`, ...extra };
}

describe('formatLogLine', () => {
  it('prints code and message of an error', () => {
    const line = entry({
      msg: 'session failed',
      tunnel: 'db',
      err: serialized('socket closed', { code: 'ERR_SESSION_FAILED', hint: 'retry' }),
    });
    expect(formatLogLine(line)).toBe(
      `${STAMP} ERROR session failed tunnel=db code=ERR_SESSION_FAILED err=socket closed`,
    );
  });

  it('keeps an entry code once', () => {
    const line = entry({
      msg: 'start failed',
      code: 'ERR_X',
      err: serialized('boom', { code: 'E' }),
    });
    expect(formatLogLine(line)).toBe(`${STAMP} ERROR start failed code=ERR_X err=boom`);
  });

  it('joins a multi-line message', () => {
    const line = entry({ msg: 'failed', err: serialized('first\n  second') });
    expect(formatLogLine(line)).toBe(`${STAMP} ERROR failed err=first second`);
  });

  it('uses AggregateError member messages', () => {
    const error = {
      ...serialized(''),
      aggregateErrors: [
        serialized('connect ECONNREFUSED ::1:1'),
        serialized('connect ECONNREFUSED 127.0.0.1:1'),
      ],
    };
    const formatted = formatLogLine(entry({ msg: 'dial failed', err: error }));
    expect(formatted).toBe(
      `${STAMP} ERROR dial failed err=connect ECONNREFUSED ::1:1; connect ECONNREFUSED 127.0.0.1:1`,
    );
  });

  it('prints no stack without verbose', () => {
    const formatted = formatLogLine(entry({ msg: 'failed', err: serialized('boom') }));
    expect(formatted).not.toContain('\n');
    expect(formatted).not.toContain('at run');
  });

  it('prints the stack with verbose', () => {
    const formatted = formatLogLine(entry({ msg: 'failed', err: serialized('boom') }), {
      verbose: true,
    });
    expect(formatted.split('\n')).toEqual([
      `${STAMP} ERROR failed err=boom`,
      '    Error: boom',
      '    at run (file.js:1:1)',
    ]);
  });

  it('leaves plain objects as JSON', () => {
    const formatted = formatLogLine(entry({ msg: 'applied', fields: { message: 'm' } }));
    expect(formatted).toBe(`${STAMP} ERROR applied fields={"message":"m"}`);
  });

  it('returns a non-JSON line unchanged', () => {
    expect(formatLogLine('plain text')).toBe('plain text');
    expect(formatLogLine('42')).toBe('42');
  });
});

describe('withoutRepeatedCauses', () => {
  const cases: Array<[string, string]> = [
    [
      'StartSession on i-0abc failed: i-0abc is not connected.: i-0abc is not connected.',
      'StartSession on i-0abc failed: i-0abc is not connected.',
    ],
    ['a: b: b: b', 'a: b'],
    ['outer: inner', 'outer: inner'],
    ['no colon', 'no colon'],
    ['trailing: ', 'trailing: '],
  ];
  for (const [input, expected] of cases) {
    it(`reduces "${input}"`, () => {
      expect(withoutRepeatedCauses(input)).toBe(expected);
    });
  }

  it('applies to a logged error', () => {
    const message =
      'StartSession on i-0abc failed: i-0abc is not connected.: i-0abc is not connected.';
    const formatted = formatLogLine(entry({ msg: 'start failed', err: serialized(message) }));
    expect(formatted).toBe(
      `${STAMP} ERROR start failed err=StartSession on i-0abc failed: i-0abc is not connected.`,
    );
  });
});

describe('bastionless logs with logged errors', () => {
  let home: string;

  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), 'bastionless-logs-'));
    const log = createLogger({ stateDir: join(home, 'state') });
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), {
      code: 'ECONNREFUSED',
    });
    const error = new BastionlessError('ERR_ENDPOINT_UNREACHABLE', 'Cannot reach the endpoint', {
      hint: 'Check the network.',
      cause,
    });
    log.logger.info({ tunnel: 'db' }, 'tunnel listening');
    log.logger.error({ tunnel: 'db', err: error }, 'session start failed');
    log.close();
  });

  afterAll(() => {
    rmSync(home, { recursive: true, force: true });
  });

  it('prints one line per entry', async () => {
    const result = await runCli(['logs'], cliEnv(home));
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(
      /^\S+ ERROR session start failed tunnel=db code=ERR_ENDPOINT_UNREACHABLE err=Cannot reach the endpoint/,
    );
    expect(result.stdout).not.toContain('    at ');
    expect(result.stdout).not.toContain('"stack"');
  });

  it('prints stacks with --verbose', async () => {
    const result = await runCli(['logs', '--verbose'], cliEnv(home));
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(3);
    expect(lines[2]).toBe('    BastionlessError: Cannot reach the endpoint');
    expect(result.stdout).toContain('    caused by: Error: connect ECONNREFUSED 127.0.0.1:9');
    expect(lines.slice(2).every((line) => line.startsWith('    '))).toBe(true);
  });

  it('keeps the cause fields with --json', async () => {
    const result = await runCli(['logs', '--json'], cliEnv(home));
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    const { err } = JSON.parse(lines[1]!) as {
      err: {
        message: string;
        stack: string;
        cause: { message: string; code: string; stack: string };
      };
    };
    expect(err.message).toBe('Cannot reach the endpoint: connect ECONNREFUSED 127.0.0.1:9');
    expect(err.stack).not.toContain('caused by');
    expect(err.cause.message).toBe('connect ECONNREFUSED 127.0.0.1:9');
    expect(err.cause.code).toBe('ECONNREFUSED');
    expect(err.cause.stack).toMatch(/^Error: connect ECONNREFUSED 127\.0\.0\.1:9\n\s+at /);
  });

  it('documents --verbose in help', async () => {
    const result = await runCli(['logs', '--help'], cliEnv(home));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('--verbose');
    expect(result.stdout).toContain('stack trace');
  });
});
