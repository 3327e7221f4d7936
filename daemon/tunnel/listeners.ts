// Local listeners of a tunnel: which addresses a bindAddress means, the loopback rule, and
// binding that reports a port in use with the process that uses it.

import { createServer, isIP, type Server, type Socket } from 'node:net';
import { basename, dirname } from 'node:path';
import { BastionlessError } from '../errors.js';
import { findDaemonIdentity, findPortOwner, type DaemonIdentity } from './port-owner.js';

// The owner lookup scans /proc, and this bound keeps "port in use" reported within a second.
const OWNER_LOOKUP_TIMEOUT_MS = 700;

export function isLoopbackAddress(address: string): boolean {
  if (address === 'localhost' || address === '::1') {
    return true;
  }
  const v4 = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/**
 * Returns the IP addresses to listen on. `localhost` means both 127.0.0.1 and ::1, because
 * clients resolve it to either family depending on the platform and resolver settings.
 */
export function resolveBindAddresses(bindAddress: string, allowNonLoopback: boolean): string[] {
  const address = bindAddress.trim() || '127.0.0.1';
  if (address === 'localhost') {
    return ['127.0.0.1', '::1'];
  }
  if (isIP(address) === 0) {
    throw new BastionlessError(
      'ERR_CONFIG_INVALID',
      `Invalid bindAddress "${bindAddress}": expected an IP address or "localhost"`,
      {
        hint: 'Use 127.0.0.1, another 127.x.y.z address, ::1 or localhost, e.g. `bastionless edit NAME --bind 127.0.0.1` (bindAddress).',
      },
    );
  }
  if (!isLoopbackAddress(address) && !allowNonLoopback) {
    throw new BastionlessError(
      'ERR_NON_LOOPBACK',
      `bindAddress ${address} is not a loopback address, so other machines could use the tunnel`,
      {
        hint:
          'Accept this with `bastionless edit NAME --allow-non-loopback` (allowNonLoopback: true), ' +
          'or listen on loopback with `bastionless edit NAME --bind 127.0.0.1`.',
      },
    );
  }
  return [address];
}

export function formatHostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

function listenOnce(server: Server, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => {
      server.off('listening', onListening);
      reject(error);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    // exclusive: a port must not be shared with another worker through the cluster module.
    server.listen({ host: address, port, exclusive: true });
  });
}

export interface PortInUseText {
  /** Text after "is already in use", empty when the owner is unknown. */
  owner: string;
  hint: string;
}

/** Quotes a path for a POSIX shell when it contains characters the shell would interpret. */
function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Returns the command that stops another daemon. `bastionless stop` finds a daemon through its
 * state directory, and only BASTIONLESS_HOME=DIR (state in DIR/state) can point it at another
 * one, because --config selects the config file but not the state directory. For any other
 * state directory the command sends the SIGTERM that `bastionless stop` would send.
 */
function stopCommandFor(pid: number, identity: DaemonIdentity): string {
  if (basename(identity.stateDir) === 'state') {
    return `BASTIONLESS_HOME=${shellQuote(dirname(identity.stateDir))} bastionless stop`;
  }
  return `kill ${pid}`;
}

/**
 * Names the process that listens on `port`, and another bastionless daemon as such, for
 * ERR_PORT_IN_USE. `alternative` ends the hint, e.g. how `connect` picks another port.
 */
export async function describePortOwner(
  port: number,
  alternative = 'choose another port with `bastionless edit NAME --local-port N` (localPort)',
): Promise<PortInUseText> {
  const fallback: PortInUseText = {
    owner: '',
    hint: `Stop the program that uses port ${port} or ${alternative}.`,
  };
  const lookup = async (): Promise<PortInUseText> => {
    const owner = await findPortOwner(port);
    if (!owner) {
      return fallback;
    }
    // Tunnels of this daemon share its pid, and they are not "another daemon".
    const identity = owner.pid === process.pid ? undefined : await findDaemonIdentity(owner.pid);
    if (!identity) {
      return { ...fallback, owner: ` by ${owner.command} (pid ${owner.pid})` };
    }
    const files = identity.configFile
      ? `config ${identity.configFile}`
      : `state directory ${identity.stateDir}`;
    return {
      owner: ` by another bastionless daemon (pid ${owner.pid}, ${files})`,
      hint: `Stop that daemon with \`${stopCommandFor(owner.pid, identity)}\`, or ${alternative}.`,
    };
  };
  const timeout = new Promise<PortInUseText>((resolve) => {
    setTimeout(() => resolve(fallback), OWNER_LOOKUP_TIMEOUT_MS).unref();
  });
  return Promise.race([lookup().catch(() => fallback), timeout]);
}

async function bindError(
  error: NodeJS.ErrnoException,
  address: string,
  port: number,
): Promise<BastionlessError> {
  const where = formatHostPort(address, port);
  if (error.code === 'EADDRINUSE') {
    const { owner, hint } = await describePortOwner(port);
    return new BastionlessError('ERR_PORT_IN_USE', `Port ${where} is already in use${owner}`, {
      hint,
      cause: error,
    });
  }
  if (error.code === 'EACCES') {
    return new BastionlessError('ERR_PORT_PERMISSION', `Permission denied to listen on ${where}`, {
      hint: 'Choose a port above 1023 with `bastionless edit NAME --local-port N` (localPort), or grant the daemon permission to bind low ports.',
      cause: error,
    });
  }
  if (error.code === 'EADDRNOTAVAIL') {
    return new BastionlessError(
      'ERR_BIND_ADDRESS',
      `Address ${address} is not available on this machine`,
      {
        hint:
          'Listen on an address of this machine with `bastionless edit NAME --bind ADDRESS` ' +
          '(bindAddress); on macOS, add 127.0.0.2 and up with `ifconfig lo0 alias`.',
        cause: error,
      },
    );
  }
  return new BastionlessError('ERR_BIND_ADDRESS', `Cannot listen on ${where}: ${error.message}`, {
    cause: error,
  });
}

export interface BoundListeners {
  servers: Server[];
  /** Addresses actually bound, as host:port. */
  addresses: string[];
  /** Port bound, which differs from the requested one when that was 0. */
  port: number;
  /** Stops accepting at once and frees the port. Open connections stay open. */
  close(): Promise<void>;
}

/**
 * Binds every address to the same port, or none: a failure closes what was bound. For
 * `localhost`, a missing IPv6 stack (EADDRNOTAVAIL or EAFNOSUPPORT on ::1) is skipped.
 */
export async function bindListeners(
  addresses: string[],
  port: number,
  onConnection: (socket: Socket) => void,
  onSkippedAddress: (address: string, error: Error) => void = () => {},
): Promise<BoundListeners> {
  const servers: Server[] = [];
  const bound: string[] = [];
  let boundPort = port;
  const closeAll = (): Promise<void> => closeServers(servers);
  for (const address of addresses) {
    const server = createServer(onConnection);
    try {
      await listenOnce(server, address, boundPort);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (
        address === '::1' &&
        addresses.length > 1 &&
        (code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT')
      ) {
        onSkippedAddress(address, error as Error);
        continue;
      }
      await closeAll();
      throw await bindError(error as NodeJS.ErrnoException, address, boundPort);
    }
    const info = server.address();
    if (info && typeof info === 'object') {
      boundPort = info.port;
    }
    servers.push(server);
    bound.push(formatHostPort(address, boundPort));
  }
  return { servers, addresses: bound, port: boundPort, close: closeAll };
}

function closeServers(servers: Server[]): Promise<void> {
  // server.close() releases the listening socket at once. Its callback waits for open
  // connections, which the sessions own, so it is not awaited here.
  for (const server of servers) {
    if (server.listening) {
      server.close();
    }
  }
  return Promise.resolve();
}
