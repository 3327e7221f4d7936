// Bind address rules and listener binding: loopback checks, localhost on both families,
// and all-or-nothing binding.

import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  bindListeners,
  formatHostPort,
  isLoopbackAddress,
  resolveBindAddresses,
} from '../../daemon/tunnel/listeners.js';
import { canBind } from './helpers.js';

describe('isLoopbackAddress', () => {
  const table: [string, boolean][] = [
    ['127.0.0.1', true],
    ['127.0.0.3', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['localhost', true],
    ['0.0.0.0', false],
    ['10.0.0.5', false],
    ['::', false],
  ];
  for (const [address, expected] of table) {
    it(`classifies ${address}`, () => {
      expect(isLoopbackAddress(address)).toBe(expected);
    });
  }
});

describe('resolveBindAddresses', () => {
  it('expands localhost to both families', () => {
    expect(resolveBindAddresses('localhost', false)).toEqual(['127.0.0.1', '::1']);
  });

  it('defaults an empty address to 127.0.0.1', () => {
    expect(resolveBindAddresses('', false)).toEqual(['127.0.0.1']);
  });

  it('rejects non-loopback without opt-in', () => {
    expect(() => resolveBindAddresses('0.0.0.0', false)).toThrow(
      expect.objectContaining({ code: 'ERR_NON_LOOPBACK' }),
    );
  });

  it('accepts non-loopback with opt-in', () => {
    expect(resolveBindAddresses('0.0.0.0', true)).toEqual(['0.0.0.0']);
  });

  it('rejects a host name', () => {
    expect(() => resolveBindAddresses('db.internal', true)).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }),
    );
  });
});

describe('bindListeners', () => {
  it('binds both addresses to one port', async () => {
    const bound = await bindListeners(['127.0.0.1', '::1'], 0, (socket) => socket.destroy());
    try {
      expect(bound.servers).toHaveLength(2);
      expect(bound.addresses).toEqual([
        formatHostPort('127.0.0.1', bound.port),
        formatHostPort('::1', bound.port),
      ]);
    } finally {
      await bound.close();
    }
    expect(await canBind('127.0.0.1', bound.port)).toBe(true);
  });

  it('releases the first address when the second fails', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen({ host: '::1', port: 0 }, resolve));
    const port = (blocker.address() as AddressInfo).port;
    try {
      await expect(
        bindListeners(['127.0.0.1', '::1'], port, (socket) => socket.destroy()),
      ).rejects.toMatchObject({ code: 'ERR_PORT_IN_USE' });
      expect(await canBind('127.0.0.1', port)).toBe(true);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
