// Port owner lookup: the /proc/net/tcp parser, the lsof output parsers, a live lookup of
// a port this test process listens on, and daemon recognition by its open log file.

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  findDaemonIdentity,
  findPortOwner,
  parseListeningInodes,
  parseLsofFileNames,
  parseLsofOutput,
} from '../../daemon/tunnel/port-owner.js';

const TABLE = [
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
  '   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1267 1 0000000000000000 100 0 0 10 0',
  '   1: 0100007F:911D 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 53969 1 0000000000000000 100 0 0 10 0',
  '   2: 0100007F:911D 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 53970 1 0000000000000000 20 4 30 10 -1',
  '   3: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 0 1 0000000000000000 100 0 0 10 0',
  '',
].join('\n');

describe('parseListeningInodes', () => {
  it('returns the inode of a listening port', () => {
    expect(parseListeningInodes(TABLE, 0x911d)).toEqual(['53969']);
  });

  it('skips connections in other states', () => {
    // Line 2 has the same local port but state 01 (ESTABLISHED).
    expect(parseListeningInodes(TABLE, 0x911d)).not.toContain('53970');
  });

  it('skips sockets without an inode', () => {
    expect(parseListeningInodes(TABLE, 0x1f90)).toEqual([]);
  });

  it('returns nothing for an unknown port', () => {
    expect(parseListeningInodes(TABLE, 1)).toEqual([]);
  });
});

describe('parseLsofOutput', () => {
  it('reads pid and command', () => {
    expect(parseLsofOutput('p4242\ncpostgres\nf5\n')).toEqual({ pid: 4242, command: 'postgres' });
  });

  it('returns undefined for empty output', () => {
    expect(parseLsofOutput('')).toBeUndefined();
  });
});

describe('findPortOwner', () => {
  it('finds this test process', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    try {
      const owner = await findPortOwner((server.address() as AddressInfo).port);
      expect(owner?.pid).toBe(process.pid);
      expect(owner?.command).toBeTruthy();
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('parseLsofFileNames', () => {
  it('returns every n line', () => {
    expect(parseLsofFileNames('p42\nf1\nn/dev/null\nf18\nn/home/a/state/daemon.log\n')).toEqual([
      '/dev/null',
      '/home/a/state/daemon.log',
    ]);
  });
});

describe('findDaemonIdentity', () => {
  /**
   * Starts a process that keeps `<home>/state/daemon.log` open, as a daemon does, and writes
   * daemon.pid with `pidOffset` added to its pid.
   */
  async function withLogHolder(
    pidOffset: number,
    apiFile: ((pid: number) => object) | undefined,
    check: (pid: number, stateDir: string) => Promise<void>,
  ): Promise<void> {
    const home = mkdtempSync(join(tmpdir(), 'bastionless-identity-'));
    const stateDir = join(home, 'state');
    mkdirSync(stateDir);
    const logFile = join(stateDir, 'daemon.log');
    const child = spawn(
      process.execPath,
      [
        '-e',
        `require('fs').openSync(${JSON.stringify(logFile)}, 'a'); console.log('open'); setInterval(() => {}, 1000)`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise((resolve) => child.stdout.once('data', resolve));
      const pid = child.pid as number;
      writeFileSync(join(stateDir, 'daemon.pid'), `${pid + pidOffset}\n`);
      if (apiFile) {
        writeFileSync(join(stateDir, 'api.json'), JSON.stringify(apiFile(pid)));
      }
      await check(pid, stateDir);
    } finally {
      child.kill('SIGTERM');
      rmSync(home, { recursive: true, force: true });
    }
  }

  it('reads state dir and config file', async () => {
    await withLogHolder(
      0,
      () => ({ port: 1, pid: 1, url: 'x', configFile: '/a/config.json' }),
      async (pid, stateDir) => {
        expect(await findDaemonIdentity(pid)).toEqual({ stateDir, configFile: '/a/config.json' });
      },
    );
  });

  it('omits a config file api.json lacks', async () => {
    await withLogHolder(0, undefined, async (pid, stateDir) => {
      expect(await findDaemonIdentity(pid)).toEqual({ stateDir });
    });
  });

  it('accepts the pid from api.json', async () => {
    await withLogHolder(
      1,
      (pid) => ({ port: 1, pid, url: 'x' }),
      async (pid, stateDir) => {
        expect(await findDaemonIdentity(pid)).toEqual({ stateDir });
      },
    );
  });

  it('ignores a pid file naming another pid', async () => {
    await withLogHolder(1, undefined, async (pid) => {
      expect(await findDaemonIdentity(pid)).toBeUndefined();
    });
  });

  it('ignores a process without a daemon log', async () => {
    expect(await findDaemonIdentity(process.pid)).toBeUndefined();
  });
});
