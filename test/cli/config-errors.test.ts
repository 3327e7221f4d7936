// A hand-edited config file that is invalid or unreadable, through the real CLI and a real
// daemon: what `start`, `up`, `down`, `status`, `add`, `edit`, `rm`, `policy` and `doctor`
// print, what the daemon logs, and that no command changes the file.

import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cliEnv, freePort, REPO_ROOT, runCli, sha256, useCliHome } from './helpers.js';
import type { CliResult } from './helpers.js';

let home: string;
let env: NodeJS.ProcessEnv;
let file: string;

useCliHome('bastionless-config-errors-', (created) => ({ home, env, file } = created));

const STARTED_LINE = /^bastionless started \(pid \d+, control API on 127\.0\.0\.1:\d+\)\n$/;
const NOT_LOADED = 'the daemon did not load this file and has no profiles';

function profile(name: string, localPort: number): Record<string, unknown> {
  return { name, region: 'us-east-1', target: 'i-0123456789abcdef0', remotePort: 5432, localPort };
}

function configText(profiles: Record<string, unknown>[]): string {
  return `${JSON.stringify({ version: 2, profiles }, null, 2)}\n`;
}

/** Returns a fingerprint of the config path: the SHA-256 of a file, or its type otherwise. */
function fingerprint(path: string): string {
  return statSync(path).isDirectory() ? 'a directory' : sha256(readFileSync(path));
}

interface BadFile {
  label: string;
  /** Writes the bad config file for a profile named "pg" on `port`. */
  write: (port: number) => void;
  /** Part of the message that `start`, `status`, `up` and `down` print after the file name. */
  reason: string;
}

const BAD_FILES: BadFile[] = [
  {
    label: 'a trailing comma',
    write: (port) => writeFileSync(file, configText([profile('pg', port)]).replace('}\n', '},\n')),
    reason: "not valid JSON (Unexpected token ']' at line 11, column 3)",
  },
  {
    label: 'a port as a string',
    write: (port) =>
      writeFileSync(file, configText([{ ...profile('pg', port), localPort: `${port}` }])),
    reason: 'is not an integer; use a port number 1-65535',
  },
  {
    label: 'an unknown key',
    write: (port) => writeFileSync(file, configText([{ ...profile('pg', port), host: 'db' }])),
    reason: 'profile "pg": unknown field "host"; remove it or check its spelling',
  },
  {
    label: 'an empty file',
    write: () => writeFileSync(file, ''),
    reason: 'is empty; write {"version": 2, "profiles": []} into it',
  },
  {
    label: 'a name with spaces',
    write: (port) => writeFileSync(file, configText([profile('my pg', port)])),
    reason: 'profile "my pg": name "my pg" is invalid; use 1-63 letters, digits, ".", "_" or "-"',
  },
  {
    label: 'a duplicate port',
    write: (port) => writeFileSync(file, configText([profile('pg', port), profile('db', port)])),
    reason:
      'profile "db": localPort PORT on 127.0.0.1 is already used by profile "pg"; choose another port',
  },
  {
    label: 'a directory in place of the file',
    write: () => mkdirSync(file),
    reason: 'it is a directory',
  },
];

describe('daemon with an unusable config file', () => {
  it.each(BAD_FILES)('start, up and down name $label', { timeout: 90_000 }, async (bad) => {
    const port = await freePort();
    bad.write(port);
    const reason = bad.reason.replace('PORT', String(port));
    const before = fingerprint(file);

    const started = await runCli(['start'], env, 60_000);
    expect(started.code).toBe(0);
    expect(started.stdout).toMatch(STARTED_LINE);
    const [warning, ...rest] = started.stderr.trimEnd().split('\n');
    expect(warning).toMatch(/^warning: /);
    expect(warning).toContain(file);
    expect(warning).toContain(reason);
    expect(rest.at(-1)).toBe(
      'the daemon loads the file again when it changes, so no restart is needed',
    );
    expect(fingerprint(file)).toBe(before);

    for (const command of ['up', 'down']) {
      const result = await runCli([command, 'pg'], env);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      const [message, ...details] = result.stderr.trimEnd().split('\n');
      expect(message).toMatch(/^bastionless: (config file|cannot read config file) /);
      expect(message).toContain(file);
      expect(message).toContain(reason);
      expect(details).toEqual([`${NOT_LOADED}, so no tunnel or group is named "pg"`]);
      expect(fingerprint(file)).toBe(before);
    }

    const log = readFileSync(join(home, 'state', 'daemon.log'), 'utf8');
    expect(log).toContain('config file rejected; no profiles are loaded until it is fixed');
    expect(log).not.toContain('keeping the last good profiles');
  });
});

describe('daemon log keys', () => {
  it('names no key twice in a line', { timeout: 90_000 }, async () => {
    writeFileSync(file, '{"version": 2, "profiles": [,]}');
    const started = await runCli(['start'], env, 60_000);
    expect(started.code).toBe(0);
    expect((await runCli(['up', 'pg'], env)).code).toBe(1);
    expect((await runCli(['stop'], env)).code).toBe(0);

    const lines = readFileSync(join(home, 'state', 'daemon.log'), 'utf8')
      .trimEnd()
      .split('\n');
    expect(lines.some((line) => line.includes('"msg":"daemon starting"'))).toBe(true);
    expect(lines.some((line) => line.includes('"msg":"daemon stopped"'))).toBe(true);
    for (const line of lines) {
      expect({ line, repeated: repeatedKeys(line) }).toEqual({ line, repeated: [] });
    }
  });

  it('finds a repeated key', () => {
    expect(repeatedKeys('{"pid":1,"a":{"b":1,"b":2},"pid":1}')).toEqual(['b', 'pid']);
    expect(repeatedKeys('{"a":[{"b":1},{"b":2}],"c":"\\"c\\""}')).toEqual([]);
  });
});

/**
 * Returns the keys that appear twice in one object of a JSON line. JSON.parse keeps the last
 * of repeated keys, so the line is scanned as text: strings are skipped whole, and a string
 * followed by a colon is a key of the innermost open object.
 */
function repeatedKeys(line: string): string[] {
  const objects: Set<string>[] = [];
  const repeated: string[] = [];
  let index = 0;
  while (index < line.length) {
    const char = line[index]!;
    if (char === '{') {
      objects.push(new Set());
    } else if (char === '}') {
      objects.pop();
    } else if (char === '"') {
      let end = index + 1;
      while (line[end] !== '"') {
        end += line[end] === '\\' ? 2 : 1;
      }
      const key = JSON.parse(line.slice(index, end + 1)) as string;
      index = end;
      if (/^\s*:/.test(line.slice(end + 1)) && objects.length > 0) {
        const keys = objects.at(-1)!;
        if (keys.has(key)) {
          repeated.push(key);
        }
        keys.add(key);
      }
    }
    index += 1;
  }
  return repeated.sort();
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Commands that read the config file without a daemon, each given an existing name. */
const FILE_COMMANDS: string[][] = [
  ['status'],
  ['add', 'other', '--target', 'i-0123456789abcdef0', '--remote-port', '1', '--local-port', '2'],
  ['edit', 'pg', '--local-port', '3'],
  ['rm', 'pg'],
  ['policy', 'pg'],
  ['doctor', 'pg'],
];

describe('commands without a daemon', () => {
  it.each(FILE_COMMANDS)('%s names a JSON error by line', { timeout: 60_000 }, async (...argv) => {
    writeFileSync(file, configText([profile('pg', 15432)]).replace('}\n', '},\n'));
    const before = fingerprint(file);
    const result = await runCli(argv, env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(file);
    expect(result.stderr).toContain("Unexpected token ']' at line 11, column 3");
    expect(result.stderr).not.toContain('position');
    expect(fingerprint(file)).toBe(before);
  });

  it.each(FILE_COMMANDS)(
    '%s names a directory as unreadable',
    { timeout: 60_000 },
    async (...argv) => {
      mkdirSync(file);
      const result = await runCli(argv, env);
      expectUnreadable(result, 'it is a directory; move the directory aside');
      expect(statSync(file).isDirectory()).toBe(true);
    },
  );
});

/** Checks the output of a command that cannot read the config file. */
function expectUnreadable(result: CliResult, problem: string): void {
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(
    new RegExp(`^bastionless: cannot read config file ${escape(file)}: ${escape(problem)}`),
  );
  expect(result.stderr).not.toContain('invalid');
  expect(result.stderr).not.toContain('fix it in an editor');
  expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
}

/** Runs the CLI as the user nobody, for whom a root-owned file of mode 600 is unreadable. */
function runCliAsNobody(argv: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'runuser',
      ['-u', 'nobody', '--', process.execPath, '--import', 'tsx', 'daemon/cli/main.ts', ...argv],
      { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`bastionless ${argv.join(' ')} as nobody timed out; stderr: ${stderr}`));
    }, 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const runsAsRoot = process.getuid?.() === 0 && existsSync('/usr/sbin/runuser');

describe.runIf(runsAsRoot)('commands as another user', () => {
  // The test run's temporary folder may sit inside a folder of mode 700, which nobody cannot
  // enter, so these homes go directly under /tmp.
  beforeEach(() => {
    rmSync(home, { recursive: true, force: true });
    home = mkdtempSync('/tmp/bastionless-config-errors-');
    env = cliEnv(home);
    file = join(home, 'config.json');
  });
  afterEach(() => {
    rmSync(home, { recursive: true, force: true });
  });

  it.each(FILE_COMMANDS)('%s names permission denied', { timeout: 60_000 }, async (...argv) => {
    writeFileSync(file, configText([profile('pg', 15432)]), { mode: 0o600 });
    chmodSync(home, 0o755);
    const before = fingerprint(file);
    const result = await runCliAsNobody(argv);
    expectUnreadable(
      result,
      `permission denied; check its owner and mode (for example \`chmod 600 ${file}\`)`,
    );
    expect(fingerprint(file)).toBe(before);
  });

  it('status names a home it cannot enter', { timeout: 60_000 }, async () => {
    writeFileSync(file, configText([profile('pg', 15432)]), { mode: 0o600 });
    chmodSync(home, 0o700);
    const result = await runCliAsNobody(['status']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^bastionless: \S+ \S+ failed: permission denied; /);
    expect(result.stderr).toContain(`check the owner and mode of ${home}/`);
    expect(result.stderr).toContain('or set BASTIONLESS_HOME to a folder you own');
    expect(result.stderr).not.toContain('EACCES');
  });
});
