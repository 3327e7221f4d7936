// The wording and the `start`/`stop` handling of a daemon that holds the state directory but
// does not respond: /proc parsing on sample lines, then a real daemon frozen with SIGSTOP and a
// process that accepts connections on the API port but never answers. The ps, lsof and netstat
// path is tested in process-inspect.test.ts.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  conditionFromState,
  describeUnresponsiveDaemon,
  listeningSocketInode,
  ownsListeningSocket,
  parseProcStatState,
  processCondition,
  SYSTEM_INSPECTOR,
  unresponsiveDaemonError,
  type ProcessInspector,
} from '../../daemon/cli/unresponsive.js';
import { processExists } from '../../daemon/paths.js';
import { cliEnv, runCli } from './helpers.js';

const IS_LINUX = process.platform === 'linux';

describe('parseProcStatState', () => {
  it.each([
    ['1134 (node) T 1 1134 1134 0 -1 4194304 25889 0 0 0 64 6', 'T'],
    ['42 (node) S 1 42 42 0 -1 4194560 1200 0 0 0 3 1', 'S'],
    ['77 (gdb-target) t 76 77 76 34816 77 1077936128 98', 't'],
    ['9 (bad) name) R 1 9 9 0 -1', 'R'],
    ['10 (with space) Z 1 10 10 0 -1', 'Z'],
  ])('reads the state of %s', (line, state) => {
    expect(parseProcStatState(line)).toBe(state);
  });

  it.each([[''], ['1134 node T 1'], ['1134 (node)'], ['1134 (node) 12 1']])(
    'rejects %j',
    (line) => {
      expect(parseProcStatState(line)).toBeNull();
    },
  );
});

describe('conditionFromState', () => {
  it.each([
    ['T', 'suspended'],
    ['t', 'traced'],
    ['S', 'other'],
    ['R', 'other'],
    ['D', 'other'],
    [null, 'unknown'],
  ] as const)('maps %s to %s', (state, condition) => {
    expect(conditionFromState(state)).toBe(condition);
  });
});

/** Stands in for runCommand where a test expects no program to run. */
function noCommand(file: string): never {
  throw new Error(`unexpected run of ${file}`);
}

describe('processCondition', () => {
  const inspector = (platform: NodeJS.Platform, stat: string): ProcessInspector => ({
    platform,
    readTextFile: (file) => {
      expect(file).toBe('/proc/1134/stat');
      return stat;
    },
    runCommand: noCommand,
  });

  it('reads a stopped process on Linux', () => {
    expect(processCondition(1134, inspector('linux', '1134 (node) T 1 1134'))).toBe('suspended');
  });

  it('reads ps on macOS', () => {
    const calls: string[][] = [];
    const darwin: ProcessInspector = {
      platform: 'darwin',
      readTextFile: () => {
        throw new Error('no /proc on macOS');
      },
      runCommand: (file, args) => {
        calls.push([file, ...args]);
        return { status: 0, stdout: 'T+\n', stderr: '' };
      },
    };
    expect(processCondition(1134, darwin)).toBe('suspended');
    expect(calls).toEqual([['ps', '-o', 'stat=', '-p', '1134']]);
  });

  it('returns unknown when the read fails', () => {
    const failing: ProcessInspector = {
      platform: 'linux',
      readTextFile: () => {
        throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      },
      runCommand: noCommand,
    };
    expect(processCondition(1134, failing)).toBe('unknown');
  });
});

describe('describeUnresponsiveDaemon', () => {
  const daemon = { pid: 1134, port: 35799 };

  it('gives kill -CONT for a suspended daemon', () => {
    const text = describeUnresponsiveDaemon(daemon, 'suspended');
    expect(text.problem).toContain('(pid 1134)');
    expect(text.problem).toContain('is suspended');
    expect(text.problem).toContain('127.0.0.1:35799');
    expect(text.nextStep).toContain('`kill -CONT 1134`');
    expect(text.nextStep).toContain('`bastionless stop`');
  });

  it('gives stop then start for a hung daemon', () => {
    for (const condition of ['other', 'unknown'] as const) {
      const text = describeUnresponsiveDaemon(daemon, condition);
      expect(text.problem).toContain('may be hung');
      expect(text.problem).toContain('within 2 s');
      expect(text.nextStep).toBe('end it with `bastionless stop`, then run `bastionless start`');
    }
  });

  it('names the debugger for a traced daemon', () => {
    const text = describeUnresponsiveDaemon(daemon, 'traced');
    expect(text.problem).toContain('debugger');
    expect(text.nextStep).toContain('`bastionless stop`');
  });

  it('gives the hung wording on Windows', () => {
    const windows: ProcessInspector = {
      platform: 'win32',
      readTextFile: () => {
        throw new Error('no /proc on Windows');
      },
      runCommand: noCommand,
    };
    const error = unresponsiveDaemonError(daemon, windows);
    expect(error.message).toContain('may be hung');
    expect(error.exitCode).toBe(1);
    expect(error.details).toEqual(['end it with `bastionless stop`, then run `bastionless start`']);
  });
});

describe('listeningSocketInode', () => {
  const table = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:8BB7 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 51234 1 0000000000000000 100 0 0 10 0',
    '   1: 0100007F:8BB7 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 51299 1 0000000000000000 20 4 30 10 -1',
    '   2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1800 1 0000000000000000 100 0 0 10 0',
  ].join('\n');

  it('finds the listening socket of 127.0.0.1:35767', () => {
    expect(listeningSocketInode(table, 0x8bb7)).toBe('51234');
  });

  it('ignores a listener on another address', () => {
    expect(listeningSocketInode(table, 22)).toBeNull();
  });

  it('returns null for a port nobody listens on', () => {
    expect(listeningSocketInode(table, 35800)).toBeNull();
  });
});

// The real-process cases read /proc and send SIGSTOP, so they run on Linux only. One of them
// also runs the macOS path with this machine's ps and lsof.
describe.runIf(IS_LINUX)('unresponsive daemon processes', () => {
  let home: string;
  let env: NodeJS.ProcessEnv;
  const children: ChildProcess[] = [];
  const stopped: number[] = [];

  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'bastionless-unresponsive-'));
    env = cliEnv(home);
  });

  afterEach(async () => {
    for (const pid of stopped.splice(0)) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // Already gone, which is what the test wanted.
      }
    }
    await runCli(['stop'], env).catch(() => undefined);
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
      }
    }
    rmSync(home, { recursive: true, force: true });
  });

  /** Starts a real daemon with `bastionless start` and returns its pid and API port. */
  async function startDaemonProcess(): Promise<{ pid: number; port: number }> {
    const started = await runCli(['start'], env);
    expect(started.code, started.stderr).toBe(0);
    const match = /pid (\d+), control API on 127\.0\.0\.1:(\d+)/.exec(started.stdout);
    expect(match, started.stdout).not.toBeNull();
    return { pid: Number(match![1]), port: Number(match![2]) };
  }

  /**
   * Spawns a process that accepts connections on 127.0.0.1 but never answers and ignores
   * SIGTERM, which is how a daemon with a blocked event loop looks from outside.
   */
  async function spawnSilentServer(): Promise<{ child: ChildProcess; port: number }> {
    const script = [
      "process.on('SIGTERM', () => {});",
      "const server = require('node:net').createServer(() => {});",
      "server.listen(0, '127.0.0.1', () => console.log(server.address().port));",
    ].join('\n');
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout!.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
      child.once('exit', (code) => reject(new Error(`silent server exited with code ${code}`)));
    });
    return { child, port };
  }

  /** Writes the lock, api.json and token a daemon `pid` on `port` would write. */
  function writeStateFiles(pid: number, port: number): void {
    const stateDir = join(home, 'state');
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(stateDir, 'daemon.pid'), `${pid}\n`, { mode: 0o600 });
    const api = { port, pid, url: `http://127.0.0.1:${port}` };
    writeFileSync(join(stateDir, 'api.json'), JSON.stringify(api), { mode: 0o600 });
    writeFileSync(join(stateDir, 'token'), 'test-token-0123456789\n', { mode: 0o600 });
  }

  it('start and status name kill -CONT', async () => {
    const daemon = await startDaemonProcess();
    process.kill(daemon.pid, 'SIGSTOP');
    stopped.push(daemon.pid);
    try {
      const start = await runCli(['start'], env);
      expect(start.code).toBe(1);
      expect(start.stdout).toBe('');
      expect(start.stderr).toContain(
        `bastionless: the daemon (pid ${daemon.pid}) holds the state directory`,
      );
      expect(start.stderr).toContain('is suspended (process state T');
      expect(start.stderr).toContain(`127.0.0.1:${daemon.port} does not respond`);
      expect(start.stderr).toContain(`\`kill -CONT ${daemon.pid}\``);
      expect(start.stderr).not.toContain('already running');

      const status = await runCli(['status'], env);
      expect(status.code).toBe(1);
      expect(status.stderr).toContain('is suspended (process state T');
      expect(status.stderr).toContain(`\`kill -CONT ${daemon.pid}\``);

      const error = unresponsiveDaemonError(daemon);
      expect(error.message).toContain('is suspended');
      expect(error.details).toEqual([
        `resume it with \`kill -CONT ${daemon.pid}\`, or end it with \`bastionless stop\``,
      ]);
      expect(ownsListeningSocket(daemon.pid, daemon.port)).toBe(true);
      expect(ownsListeningSocket(process.pid, daemon.port)).toBe(false);

      // The macOS path, with the real ps and lsof of this machine.
      const darwin: ProcessInspector = { ...SYSTEM_INSPECTOR, platform: 'darwin' };
      expect(processCondition(daemon.pid, darwin)).toBe('suspended');
      expect(ownsListeningSocket(daemon.pid, daemon.port, darwin)).toBe(true);
      expect(ownsListeningSocket(process.pid, daemon.port, darwin)).toBe(false);
    } finally {
      process.kill(daemon.pid, 'SIGCONT');
    }
    const after = await runCli(['start'], env);
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toContain('already running');
  });

  it('stop ends a stopped daemon', async () => {
    const daemon = await startDaemonProcess();
    process.kill(daemon.pid, 'SIGSTOP');
    stopped.push(daemon.pid);
    const startedAt = Date.now();
    const stop = await runCli(['stop'], env);
    const elapsedMs = Date.now() - startedAt;
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout).toContain(`the daemon (pid ${daemon.pid}) did not respond`);
    expect(stop.stdout).toContain('stopped after SIGTERM');
    // A 2 s probe, the CLI's start-up, and an orderly shutdown of at most 3 s.
    expect(elapsedMs).toBeLessThan(15_000);
    expect(processExists(daemon.pid)).toBe(false);
    const status = await runCli(['status'], env);
    expect(status.stderr).toContain('not running');
  });

  it('stop kills a hung process with SIGKILL', async () => {
    const { child, port } = await spawnSilentServer();
    writeStateFiles(child.pid!, port);
    const start = await runCli(['start'], env);
    expect(start.code).toBe(1);
    expect(start.stderr).toContain('may be hung');
    expect(start.stderr).toContain('end it with `bastionless stop`, then run `bastionless start`');

    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_code, signal) => resolve(signal)),
    );
    const stop = await runCli(['stop'], env);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout).toContain('killed with SIGKILL');
    expect(await exited).toBe('SIGKILL');
  });

  it('stop leaves a reused pid alone', async () => {
    const { port } = await spawnSilentServer();
    const sleeper = spawn('sleep', ['120'], { stdio: 'ignore' });
    children.push(sleeper);
    writeStateFiles(sleeper.pid!, port);
    const stop = await runCli(['stop'], env);
    expect(stop.code).toBe(1);
    expect(stop.stderr).toContain(
      `process ${sleeper.pid} does not own the listening socket of port ${port}, so it was left alone`,
    );
    expect(sleeper.exitCode).toBeNull();
    expect(sleeper.signalCode).toBeNull();
  });
});
