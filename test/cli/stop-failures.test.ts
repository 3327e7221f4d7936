// `stop` counts as shutdown failures only the warnings and errors the daemon logged after the
// shutdown request, not a config rejection logged while `stop` started.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { countShutdownFailures, type LogEntry } from '../../daemon/cli/process-commands.js';
import { cliEnv, runCli, spawnCli } from './helpers.js';

const WARN = 40;
const ERROR = 50;
const INFO = 30;

describe('countShutdownFailures', () => {
  const since = 1_000_000;

  it('skips errors before the request', () => {
    const entries: LogEntry[] = [
      {
        level: ERROR,
        time: since + 5,
        msg: 'config file rejected; keeping the last good profiles',
      },
      { level: INFO, time: since + 10, msg: 'shutdown requested' },
      { level: INFO, time: since + 11, msg: 'daemon stopping' },
    ];
    expect(countShutdownFailures(entries, since)).toBe(0);
  });

  it('counts warnings and errors after it', () => {
    const entries: LogEntry[] = [
      {
        level: ERROR,
        time: since + 5,
        msg: 'config file rejected; keeping the last good profiles',
      },
      { level: INFO, time: since + 10, msg: 'shutdown requested' },
      { level: WARN, time: since + 12, msg: 'closing the API failed' },
      { level: ERROR, time: since + 13, msg: 'stopping failed' },
      { level: INFO, time: since + 14, msg: 'daemon stopped' },
    ];
    expect(countShutdownFailures(entries, since)).toBe(2);
  });

  it('uses the last request', () => {
    const entries: LogEntry[] = [
      { level: INFO, time: since + 1, msg: 'shutdown requested' },
      {
        level: ERROR,
        time: since + 2,
        msg: 'config file rejected; keeping the last good profiles',
      },
      { level: INFO, time: since + 3, msg: 'shutdown requested' },
    ];
    expect(countShutdownFailures(entries, since)).toBe(0);
  });

  it('ignores a request before the stop', () => {
    const entries: LogEntry[] = [
      { level: INFO, time: since - 100, msg: 'shutdown requested' },
      { level: WARN, time: since + 2, msg: 'closing the API failed' },
    ];
    expect(countShutdownFailures(entries, since)).toBe(1);
  });

  it('falls back to the time without a request line', () => {
    const entries: LogEntry[] = [
      {
        level: ERROR,
        time: since - 1,
        msg: 'config file rejected; keeping the last good profiles',
      },
      { level: WARN, time: since + 2, msg: 'closing the API failed' },
      { level: INFO, time: since + 3, msg: 'daemon stopped' },
    ];
    expect(countShutdownFailures(entries, since)).toBe(1);
  });
});

let home: string;
let env: NodeJS.ProcessEnv;

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'bastionless-stop-failures-'));
  env = cliEnv(home);
});

afterEach(async () => {
  if (existsSync(join(home, 'state', 'api.json'))) {
    await runCli(['stop'], env);
  }
  rmSync(home, { recursive: true, force: true });
});

describe('stop after a config rejection', () => {
  it('reports no failure', { timeout: 90_000 }, async () => {
    const file = join(home, 'config.json');
    writeFileSync(file, '{"version": 2, "profiles": []}\n');
    const started = await runCli(['start'], env, 60_000);
    expect(started.code, started.stderr).toBe(0);

    // The file changes while `stop` starts, so the daemon may log the rejection after the
    // moment `stop` records as its request time.
    const stop = spawnCli(['stop'], env);
    let stdout = '';
    stop.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => stop.on('close', resolve));
    writeFileSync(file, '{');
    expect(await exited).toBe(0);

    const log = readFileSync(join(home, 'state', 'daemon.log'), 'utf8');
    expect(stdout).toMatch(/^the daemon \(pid \d+\) stopped: it closed 0 tunnels/);
    expect(stdout).not.toContain('failure');
    expect(log).toContain('"msg":"daemon stopped"');
  });
});
