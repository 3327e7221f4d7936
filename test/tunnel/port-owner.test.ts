// Port owner lookup: the /proc/net/tcp parser, the lsof output parser, and a live lookup of
// a port this test process listens on.

import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  findPortOwner,
  parseListeningInodes,
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
