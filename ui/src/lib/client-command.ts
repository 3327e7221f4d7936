import type { TunnelStatus } from './types.js';

/** Host and port parsed from a `host:port` or `[v6]:port` local address. */
export interface HostPort {
  host: string;
  port: number;
}

/** Parses the daemon's `localAddress`; returns null when it has no usable port. */
export function parseLocalAddress(address: string): HostPort | null {
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:]+):(\d+)$/.exec(address);
  if (!match) return null;
  const port = Number(match[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
  // A wildcard listener also accepts loopback connections, and clients cannot dial 0.0.0.0.
  let host = match[1];
  if (host === '0.0.0.0') host = '127.0.0.1';
  if (host === '::') host = '::1';
  return { host, port };
}

type Kind = 'postgres' | 'mysql' | 'redis' | 'mongodb' | 'sqlserver' | 'ssh' | 'http' | 'https';

// Well-known ports of the services people usually reach through port forwarding. The client
// is chosen from the remote port alone, because a profile name is free text, so a guess from it
// gave profiles with the same remote port different commands.
const KIND_BY_PORT: Record<number, Kind> = {
  5432: 'postgres',
  5439: 'postgres', // Amazon Redshift speaks the PostgreSQL protocol.
  3306: 'mysql',
  6379: 'redis',
  6380: 'redis',
  27017: 'mongodb',
  1433: 'sqlserver',
  22: 'ssh',
  80: 'http',
  3000: 'http',
  5000: 'http',
  8000: 'http',
  8080: 'http',
  9200: 'http',
  443: 'https',
  8443: 'https',
};

const KIND_NAMES: Record<Kind, string> = {
  postgres: 'PostgreSQL',
  mysql: 'MySQL',
  redis: 'Redis',
  mongodb: 'MongoDB',
  sqlserver: 'SQL Server',
  ssh: 'SSH',
  http: 'HTTP',
  https: 'HTTPS',
};

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** A suggested client command and the rule it was chosen by, as one sentence. */
export interface ClientCommand {
  command: string;
  basis: string;
}

type CommandInput = Pick<TunnelStatus, 'localAddress' | 'remotePort' | 'remoteHost'>;

/**
 * Suggests a ready-to-paste client command for a tunnel from its remote port. A port that is
 * not well known gets a plain `nc` check of the local port. Returns null without a usable local
 * address.
 */
export function suggestClientCommand(tunnel: CommandInput): ClientCommand | null {
  const command = buildClientCommand(tunnel);
  if (command === null) return null;
  const kind = KIND_BY_PORT[tunnel.remotePort];
  const basis = kind
    ? `Guessed from remote port ${tunnel.remotePort}, the usual ${KIND_NAMES[kind]} port.`
    : `Remote port ${tunnel.remotePort} is not a well-known port, so this only checks that ` +
      'the local port accepts connections.';
  return { command, basis };
}

/** Builds the client command of suggestClientCommand, or returns null. */
export function buildClientCommand(tunnel: CommandInput): string | null {
  const local = parseLocalAddress(tunnel.localAddress);
  if (!local) return null;
  const { host, port } = local;
  switch (KIND_BY_PORT[tunnel.remotePort]) {
    case 'postgres':
      return `psql "host=${host} port=${port} user=postgres dbname=postgres"`;
    case 'mysql':
      return `mysql -h ${host} -P ${port} -u root -p`;
    case 'redis':
      return `redis-cli -h ${host} -p ${port}`;
    case 'mongodb':
      return `mongosh "mongodb://${urlHost(host)}:${port}/"`;
    case 'sqlserver':
      return `sqlcmd -S ${host},${port} -U sa`;
    case 'ssh':
      return `ssh -p ${port} ec2-user@${host}`;
    case 'http':
      return `curl http://${urlHost(host)}:${port}/`;
    case 'https': {
      // The certificate names the remote host, so curl must send that name while dialing the
      // local port; --connect-to does exactly that.
      const name = tunnel.remoteHost ?? 'localhost';
      const remote = tunnel.remotePort;
      const url = remote === 443 ? `https://${name}/` : `https://${name}:${remote}/`;
      return `curl --connect-to ${name}:${remote}:${urlHost(host)}:${port} ${url}`;
    }
    default:
      return `nc -v ${host} ${port}`;
  }
}
