// The ps, lsof and netstat path of the suspended-daemon checks: parsers on sample output, and
// the fallbacks when a program is missing or fails. The macOS path also runs for real on this
// machine: an inspector with `platform: 'darwin'` runs the real ps and lsof on real processes.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createConnection, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  INSPECT_COMMAND_TIMEOUT_MS,
  ownsListeningSocket,
  parseLsofPids,
  parseNetstatListeners,
  parsePsState,
  processCondition,
  SYSTEM_INSPECTOR,
  type CommandOutput,
  type ProcessCondition,
  type ProcessInspector,
} from '../../daemon/cli/unresponsive.js';
import { processExists } from '../../daemon/paths.js';

describe('parsePsState', () => {
  it.each([
    ['T\n', 'T'],
    ['T+\n', 'T'],
    ['Ss\n', 'S'],
    ['Sl\n', 'S'],
    ['R+\n', 'R'],
    ['U\n', 'U'],
    ['t\n', 't'],
    ['   Ss  \n', 'S'],
    ['\n\nZ\n', 'Z'],
    ['STAT\nI\n', 'I'],
    ['T\r\n', 'T'],
  ])('reads the state of %j', (output, state) => {
    expect(parsePsState(output)).toBe(state);
  });

  it.each([[''], ['\n'], ['   \n  \n'], ['STAT\n'], ['123\n'], ['+\n']])(
    'returns null for %j',
    (output) => {
      expect(parsePsState(output)).toBeNull();
    },
  );
});

describe('parseLsofPids', () => {
  it('reads one pid', () => {
    expect(parseLsofPids('p1134\n')).toEqual([1134]);
  });

  it('reads several pids', () => {
    expect(parseLsofPids('p1134\nf21\np1200\nf7\n')).toEqual([1134, 1200]);
  });

  it('skips other fields', () => {
    const output = 'p1134\ncnode\nf21\nn127.0.0.1:35799\nTST=LISTEN\n';
    expect(parseLsofPids(output)).toEqual([1134]);
  });

  it('accepts odd spacing', () => {
    expect(parseLsofPids('  p1134  \r\n\n\tp77\n')).toEqual([1134, 77]);
  });

  it.each([[''], ['\n'], ['f21\n'], ['p\n'], ['p12x\n'], ['pid 1134\n']])(
    'finds no pid in %j',
    (output) => {
      expect(parseLsofPids(output)).toEqual([]);
    },
  );
});

describe('parseNetstatListeners', () => {
  // Shape of `netstat -ano -p TCP` on Windows: a title, a header, then one socket per line.
  const english = [
    '',
    'Active Connections',
    '',
    '  Proto  Local Address          Foreign Address        State           PID',
    '  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING       1044',
    '  TCP    0.0.0.0:35799          0.0.0.0:0              LISTENING       2210',
    '  TCP    127.0.0.1:35799        0.0.0.0:0              LISTENING       1134',
    '  TCP    127.0.0.1:35799        127.0.0.1:50123        ESTABLISHED     1134',
    '  TCP    127.0.0.1:50123        127.0.0.1:35799        ESTABLISHED     4420',
    '  TCP    127.0.0.1:3579         0.0.0.0:0              LISTENING       77',
    '  TCP    127.0.0.1:357990       0.0.0.0:0              LISTENING       78',
    '  TCP    [::]:35799             [::]:0                 LISTENING       3300',
    '  TCP    [::1]:35799            [::]:0                 LISTENING       3301',
    '  UDP    127.0.0.1:35799        *:*                                    5000',
    '',
  ].join('\r\n');

  it('finds the listener on 127.0.0.1', () => {
    expect(parseNetstatListeners(english, 35799)).toEqual([1134]);
  });

  it('ignores headers and other lines', () => {
    expect(parseNetstatListeners(english, 135)).toEqual([]);
    expect(parseNetstatListeners(english, 50123)).toEqual([]);
  });

  it('returns no pid without a listener', () => {
    expect(parseNetstatListeners(english, 40000)).toEqual([]);
    expect(parseNetstatListeners('', 35799)).toEqual([]);
  });

  it('reads several pids', () => {
    const output = [
      '  TCP    127.0.0.1:35799        0.0.0.0:0              LISTENING       1134',
      '  TCP    127.0.0.1:35799        0.0.0.0:0              LISTENING       5120',
    ].join('\r\n');
    expect(parseNetstatListeners(output, 35799)).toEqual([1134, 5120]);
  });

  it('reads a translated state', () => {
    const german = [
      'Aktive Verbindungen',
      '  Proto  Lokale Adresse         Remoteadresse          Status           PID',
      '  TCP    127.0.0.1:35799        0.0.0.0:0              ABHÖREN         1134',
      '  TCP    127.0.0.1:35799        127.0.0.1:50123        HERGESTELLT     1134',
    ].join('\r\n');
    expect(parseNetstatListeners(german, 35799)).toEqual([1134]);
    const mangled = '  TCP    127.0.0.1:35799        0.0.0.0:0              ABH?REN         1134';
    expect(parseNetstatListeners(mangled, 35799)).toEqual([1134]);
  });

  it('reads a state with a space', () => {
    const french = "  TCP    127.0.0.1:35799        0.0.0.0:0              À L'ÉCOUTE      1134";
    expect(parseNetstatListeners(french, 35799)).toEqual([1134]);
  });

  it('accepts tabs and lower case', () => {
    const output = 'tcp\t127.0.0.1:35799\t0.0.0.0:0\tLISTENING\t1134\n';
    expect(parseNetstatListeners(output, 35799)).toEqual([1134]);
  });

  it('skips a line without a pid', () => {
    const output = '  TCP    127.0.0.1:35799        0.0.0.0:0              LISTENING';
    expect(parseNetstatListeners(output, 35799)).toEqual([]);
  });
});

/** Builds an inspector whose programs print `output`, and records each run in `calls`. */
function fakeInspector(
  platform: NodeJS.Platform,
  output: CommandOutput | null,
): { inspector: ProcessInspector; calls: string[][] } {
  const calls: string[][] = [];
  const inspector: ProcessInspector = {
    platform,
    readTextFile: (file) => {
      throw new Error(`unexpected read of ${file}`);
    },
    runCommand: (file, args) => {
      calls.push([file, ...args]);
      return output;
    },
  };
  return { inspector, calls };
}

const ok = (stdout: string): CommandOutput => ({ status: 0, stdout, stderr: '' });

describe('processCondition with ps', () => {
  it('runs ps on macOS and the BSDs', () => {
    for (const platform of ['darwin', 'freebsd', 'netbsd', 'openbsd'] as const) {
      const { inspector, calls } = fakeInspector(platform, ok('T\n'));
      expect(processCondition(1134, inspector)).toBe('suspended');
      expect(calls).toEqual([['ps', '-o', 'stat=', '-p', '1134']]);
    }
  });

  it('reads a sleeping process as other', () => {
    const { inspector } = fakeInspector('darwin', ok('Ss\n'));
    expect(processCondition(1134, inspector)).toBe('other');
  });

  it('returns unknown without ps', () => {
    const { inspector } = fakeInspector('darwin', null);
    expect(processCondition(1134, inspector)).toBe('unknown');
  });

  it('returns unknown when ps fails', () => {
    const { inspector } = fakeInspector('darwin', { status: 1, stdout: '', stderr: '' });
    expect(processCondition(1134, inspector)).toBe('unknown');
  });

  it('runs nothing on Windows', () => {
    const { inspector, calls } = fakeInspector('win32', ok('T\n'));
    expect(processCondition(1134, inspector)).toBe('unknown');
    expect(calls).toEqual([]);
  });
});

describe('ownsListeningSocket with lsof', () => {
  it('runs lsof for the pid and port', () => {
    const { inspector, calls } = fakeInspector('darwin', ok('p1134\n'));
    expect(ownsListeningSocket(1134, 35799, inspector)).toBe(true);
    expect(calls).toEqual([
      [
        'lsof',
        '-w',
        '-n',
        '-P',
        '-a',
        '-p',
        '1134',
        '-iTCP@127.0.0.1:35799',
        '-sTCP:LISTEN',
        '-Fp',
      ],
    ]);
  });

  it('returns false for another pid', () => {
    const { inspector } = fakeInspector('darwin', ok('p2000\n'));
    expect(ownsListeningSocket(1134, 35799, inspector)).toBe(false);
  });

  it('returns false when nothing matches', () => {
    const { inspector } = fakeInspector('darwin', { status: 1, stdout: '', stderr: '' });
    expect(ownsListeningSocket(1134, 35799, inspector)).toBe(false);
  });

  it('returns null when lsof fails', () => {
    const failed = { status: 1, stdout: '', stderr: 'lsof: unsupported TCP/TPI info selection\n' };
    const { inspector } = fakeInspector('darwin', failed);
    expect(ownsListeningSocket(1134, 35799, inspector)).toBeNull();
  });

  it('returns null without lsof', () => {
    const { inspector } = fakeInspector('darwin', null);
    expect(ownsListeningSocket(1134, 35799, inspector)).toBeNull();
  });

  it('returns null on other platforms', () => {
    const { inspector, calls } = fakeInspector('sunos', ok('p1134\n'));
    expect(ownsListeningSocket(1134, 35799, inspector)).toBeNull();
    expect(calls).toEqual([]);
  });
});

describe('ownsListeningSocket with netstat', () => {
  const table = [
    '  Proto  Local Address          Foreign Address        State           PID',
    '  TCP    127.0.0.1:35799        0.0.0.0:0              LISTENING       1134',
  ].join('\r\n');

  it('finds the owner on Windows', () => {
    const { inspector, calls } = fakeInspector('win32', ok(table));
    expect(ownsListeningSocket(1134, 35799, inspector)).toBe(true);
    expect(calls).toEqual([['netstat', '-ano', '-p', 'TCP']]);
  });

  it('returns false for another pid', () => {
    const { inspector } = fakeInspector('win32', ok(table));
    expect(ownsListeningSocket(2000, 35799, inspector)).toBe(false);
  });

  it('returns null for output without the port', () => {
    const { inspector } = fakeInspector('win32', ok(table));
    expect(ownsListeningSocket(1134, 40000, inspector)).toBeNull();
  });

  it('returns null when netstat fails', () => {
    const { inspector } = fakeInspector('win32', { status: 1, stdout: '', stderr: 'error' });
    expect(ownsListeningSocket(1134, 35799, inspector)).toBeNull();
  });

  it('returns null without netstat', () => {
    const { inspector } = fakeInspector('win32', null);
    expect(ownsListeningSocket(1134, 35799, inspector)).toBeNull();
  });
});

/** Fails with the install command when `program` is not on PATH; CI installs both in .ci/run. */
function expectInstalled(program: string, debianPackage: string): void {
  const result = spawnSync(program, ['-h'], { stdio: 'ignore' });
  expect(
    result.error,
    `${program} is missing from PATH, which this test needs; install it with \`apt-get install ${debianPackage}\``,
  ).toBeUndefined();
}

// The real ps and lsof here are the Linux builds (procps-ng, lsof 4.95), not the macOS ones, so
// these tests check the options and the parsing but not macOS itself. Windows has neither
// program, and no SIGSTOP.
describe.skipIf(process.platform === 'win32')('ps and lsof on real processes', () => {
  const darwin: ProcessInspector = { ...SYSTEM_INSPECTOR, platform: 'darwin' };
  const children: ChildProcess[] = [];
  const sockets: Socket[] = [];

  afterEach(() => {
    for (const socket of sockets.splice(0)) {
      socket.destroy();
    }
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
      }
    }
  });

  function spawnSleeper(): ChildProcess {
    const child = spawn('sleep', ['120'], { stdio: 'ignore' });
    children.push(child);
    return child;
  }

  /** Starts a process listening on 127.0.0.1 and returns it with its port. */
  async function spawnListener(): Promise<{ child: ChildProcess; port: number }> {
    const script = [
      "const server = require('node:net').createServer(() => {});",
      "server.listen(0, '127.0.0.1', () => console.log(server.address().port));",
    ].join('\n');
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout!.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
      child.once('exit', (code) => reject(new Error(`listener exited with code ${code}`)));
    });
    return { child, port };
  }

  /** Polls until `pid` reads as `expected` or 2 s pass, and returns the last reading. */
  async function conditionAfterSignal(
    pid: number,
    expected: ProcessCondition,
  ): Promise<ProcessCondition> {
    const deadline = Date.now() + 2000;
    let condition = processCondition(pid, darwin);
    while (condition !== expected && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      condition = processCondition(pid, darwin);
    }
    return condition;
  }

  it('runCommand returns null for a missing program', () => {
    expect(SYSTEM_INSPECTOR.runCommand('bastionless-no-such-program', [])).toBeNull();
  });

  it('runCommand returns null at the time limit', () => {
    const startedAt = Date.now();
    expect(SYSTEM_INSPECTOR.runCommand('sleep', ['10'])).toBeNull();
    const elapsedMs = Date.now() - startedAt;
    expect(elapsedMs).toBeGreaterThanOrEqual(INSPECT_COMMAND_TIMEOUT_MS - 100);
    expect(elapsedMs).toBeLessThan(INSPECT_COMMAND_TIMEOUT_MS + 3000);
  });

  it('ps reads a stopped process', async () => {
    expectInstalled('ps', 'procps');
    const sleeper = spawnSleeper();
    process.kill(sleeper.pid!, 'SIGSTOP');
    expect(await conditionAfterSignal(sleeper.pid!, 'suspended')).toBe('suspended');
    if (process.platform === 'linux') {
      expect(processCondition(sleeper.pid!)).toBe('suspended');
    }
    process.kill(sleeper.pid!, 'SIGCONT');
    expect(await conditionAfterSignal(sleeper.pid!, 'other')).toBe('other');
  });

  it('ps reads a running process', () => {
    expectInstalled('ps', 'procps');
    const sleeper = spawnSleeper();
    expect(processCondition(sleeper.pid!, darwin)).toBe('other');
    expect(processCondition(process.pid, darwin)).toBe('other');
  });

  it('ps returns unknown for a missing pid', async () => {
    expectInstalled('ps', 'procps');
    const child = spawn('true', [], { stdio: 'ignore' });
    await new Promise((resolve) => child.once('exit', resolve));
    expect(processExists(child.pid!)).toBe(false);
    expect(processCondition(child.pid!, darwin)).toBe('unknown');
  });

  it('lsof finds the listening pid', async () => {
    expectInstalled('lsof', 'lsof');
    const { child, port } = await spawnListener();
    const sleeper = spawnSleeper();
    expect(ownsListeningSocket(child.pid!, port, darwin)).toBe(true);
    expect(ownsListeningSocket(sleeper.pid!, port, darwin)).toBe(false);
    expect(ownsListeningSocket(process.pid, port, darwin)).toBe(false);
    if (process.platform === 'linux') {
      expect(ownsListeningSocket(child.pid!, port)).toBe(true);
      expect(ownsListeningSocket(sleeper.pid!, port)).toBe(false);
    }
  });

  it('lsof skips a connected client', async () => {
    expectInstalled('lsof', 'lsof');
    const { child, port } = await spawnListener();
    const socket = createConnection({ host: '127.0.0.1', port });
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    // This process now has a socket connected to the port, which only -sTCP:LISTEN excludes.
    expect(ownsListeningSocket(process.pid, port, darwin)).toBe(false);
    expect(ownsListeningSocket(child.pid!, port, darwin)).toBe(true);
  });

  it('lsof finds a stopped listener', async () => {
    expectInstalled('lsof', 'lsof');
    const { child, port } = await spawnListener();
    process.kill(child.pid!, 'SIGSTOP');
    try {
      expect(ownsListeningSocket(child.pid!, port, darwin)).toBe(true);
      expect(await conditionAfterSignal(child.pid!, 'suspended')).toBe('suspended');
    } finally {
      process.kill(child.pid!, 'SIGCONT');
    }
  });

  it('lsof returns false for a closed port', async () => {
    expectInstalled('lsof', 'lsof');
    const { child, port } = await spawnListener();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    expect(ownsListeningSocket(child.pid!, port, darwin)).toBe(false);
  });
});
