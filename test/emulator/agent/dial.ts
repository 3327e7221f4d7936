// Destination dialing for the emulated agent, limited to loopback addresses so that tests
// never send traffic to another host.

import { connect, isIP, type Socket } from 'node:net';

/** Addresses the real agent refuses to forward to (instance metadata, DNS, time sync). */
const FORBIDDEN_ADDRESSES = new Set([
  '169.254.169.254',
  'fd00:ec2::254',
  '169.254.169.253',
  'fd00:ec2::253',
  '169.254.169.123',
  'fd00:ec2::123',
  '169.254.169.250',
  '169.254.169.251',
  'fd00:ec2::240',
]);

/** NOTE: the real agent has no dial timeout; this bound only keeps a stuck test finite. */
const DIAL_TIMEOUT_MS = 30_000;

export function isForbiddenHost(host: string): boolean {
  return FORBIDDEN_ADDRESSES.has(host.toLowerCase());
}

function isLoopback(host: string): boolean {
  const family = isIP(host);
  return (family === 4 && host.startsWith('127.')) || (family === 6 && host === '::1');
}

export interface DialAddress {
  host: string;
  port: number;
}

/**
 * Maps the requested destination to the loopback address to dial: `dialOverrides` entries
 * keyed by `host:port` or `host` first, then `localhost` and loopback literals. Throws for
 * anything else, which the agent reports like a failed dial.
 */
export function resolveDialAddress(
  host: string,
  port: number,
  overrides: Record<string, string> = {},
): DialAddress {
  const override = overrides[`${host}:${port}`] ?? overrides[host];
  let address: DialAddress = { host, port };
  if (override !== undefined) {
    const match = /^(.*?)(?::(\d+))?$/.exec(override)!;
    address = { host: match[1]!.replace(/^\[|\]$/g, ''), port: Number(match[2] ?? port) };
  }
  if (address.host === 'localhost' || address.host === '') {
    address.host = '127.0.0.1';
  }
  if (!isLoopback(address.host)) {
    throw new Error(
      `dial tcp ${host}:${port}: the emulator dials loopback addresses only; map "${host}" to 127.0.0.1:<port> in the scenario dialOverrides`,
    );
  }
  return address;
}

export function dialTcp(address: DialAddress): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address.host, port: address.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`dial tcp ${address.host}:${address.port}: timed out`));
    }, DIAL_TIMEOUT_MS);
    timer.unref();
    const onError = (error: Error) => {
      clearTimeout(timer);
      reject(error);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      // The caller attaches its own error listener before the next event can fire.
      socket.removeListener('error', onError);
      resolve(socket);
    });
  });
}
