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

// Well-known ports of the services people usually reach through port forwarding.
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

// Checked in order when the port is not well known, so "pg-redis-cache" counts as redis.
const KIND_BY_NAME: [RegExp, Kind][] = [
  [/redis|valkey|elasticache|cache/i, 'redis'],
  [/postgres|pg|psql|redshift|aurora-pg/i, 'postgres'],
  [/mysql|maria|aurora/i, 'mysql'],
  [/mongo|docdb/i, 'mongodb'],
  [/mssql|sqlserver/i, 'sqlserver'],
  [/https/i, 'https'],
  [/http|web|api|grafana|kibana/i, 'http'],
];

function guessKind(remotePort: number, name: string): Kind | null {
  const byPort = KIND_BY_PORT[remotePort];
  if (byPort) return byPort;
  for (const [pattern, kind] of KIND_BY_NAME) {
    if (pattern.test(name)) return kind;
  }
  return null;
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Builds a ready-to-paste client command for a tunnel, guessed from the remote port and then
 * from the profile name; unknown services get a plain `nc` check of the local port.
 */
export function buildClientCommand(
  tunnel: Pick<TunnelStatus, 'name' | 'localAddress' | 'remotePort' | 'remoteHost'>,
): string | null {
  const local = parseLocalAddress(tunnel.localAddress);
  if (!local) return null;
  const { host, port } = local;
  switch (guessKind(tunnel.remotePort, tunnel.name)) {
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
