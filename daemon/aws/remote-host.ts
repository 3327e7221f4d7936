// Remote hosts named by AWS resource: `rds:NAME` (DB instance), `rds-cluster:NAME` (writer
// endpoint of an Aurora cluster), `rds-cluster-reader:NAME` (its reader endpoint) and
// `elasticache:NAME` (cache cluster). Anything else is a plain host name or address.

import type { RDSClient } from '@aws-sdk/client-rds';
import type { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { BastionlessError, classifyError } from '../errors.js';

export type RemoteHostKind = 'host' | 'rds' | 'rds-cluster' | 'rds-cluster-reader' | 'elasticache';

export interface RemoteHostSpec {
  kind: RemoteHostKind;
  /** Host name for `host`, resource identifier for the others. */
  name: string;
}

export interface ResolvedRemoteHost {
  host: string;
  /** Port the resource listens on; null only for a plain host, whose port comes from the profile. */
  port: number | null;
}

export interface RemoteHostClients {
  rds: RDSClient;
  elasticache: ElastiCacheClient;
}

const RESOURCE_KINDS: readonly RemoteHostKind[] = [
  'rds',
  'rds-cluster',
  'rds-cluster-reader',
  'elasticache',
];
// RDS and ElastiCache identifiers: letters, digits and hyphens, starting with a letter.
const IDENTIFIER_PATTERN = /^[A-Za-z][A-Za-z0-9-]{0,254}$/;

export function parseRemoteHost(remoteHost: string): RemoteHostSpec {
  const colon = remoteHost.indexOf(':');
  const prefix = colon === -1 ? '' : remoteHost.slice(0, colon);
  const kind = RESOURCE_KINDS.find((candidate) => candidate === prefix);
  if (!kind) {
    return { kind: 'host', name: remoteHost };
  }
  const name = remoteHost.slice(colon + 1);
  if (!IDENTIFIER_PATTERN.test(name)) {
    throw new BastionlessError(
      'ERR_CONFIG_INVALID',
      `Invalid remoteHost ${JSON.stringify(remoteHost)}: ${JSON.stringify(name)} is not a valid ${kind} identifier.`,
      { hint: `Use ${kind}:IDENTIFIER, for example ${kind}:orders-db.` },
    );
  }
  return { kind, name };
}

function notFound(spec: RemoteHostSpec, cause?: unknown): BastionlessError {
  return new BastionlessError(
    'ERR_REMOTE_HOST_NOT_FOUND',
    `${spec.kind} ${spec.name} was not found or has no endpoint yet.`,
    {
      hint:
        'Check the identifier and the region of the profile. A resource being created has no ' +
        'endpoint until it is available, and the tunnel does not retry the lookup, so run ' +
        '`bastionless up NAME` once it is available.',
      cause,
    },
  );
}

// Exception names as the SDK reports them, plus the raw error codes of the Query protocol.
const NOT_FOUND_NAMES = new Set([
  'DBInstanceNotFound',
  'DBClusterNotFoundFault',
  'CacheClusterNotFound',
  'DBInstanceNotFoundFault',
  'DBClusterNotFoundFault',
  'CacheClusterNotFoundFault',
]);

async function lookUp(
  spec: RemoteHostSpec,
  clients: RemoteHostClients,
): Promise<ResolvedRemoteHost> {
  // The RDS and ElastiCache packages load only when a profile names such a host, because
  // each adds tens of MB to the daemon.
  if (spec.kind === 'rds') {
    const { DescribeDBInstancesCommand } = await import('@aws-sdk/client-rds');
    const output = await clients.rds.send(
      new DescribeDBInstancesCommand({ DBInstanceIdentifier: spec.name }),
    );
    const endpoint = output.DBInstances?.[0]?.Endpoint;
    return { host: endpoint?.Address ?? '', port: endpoint?.Port ?? null };
  }
  if (spec.kind === 'rds-cluster' || spec.kind === 'rds-cluster-reader') {
    const { DescribeDBClustersCommand } = await import('@aws-sdk/client-rds');
    const output = await clients.rds.send(
      new DescribeDBClustersCommand({ DBClusterIdentifier: spec.name }),
    );
    const cluster = output.DBClusters?.[0];
    const host = spec.kind === 'rds-cluster' ? cluster?.Endpoint : cluster?.ReaderEndpoint;
    return { host: host ?? '', port: cluster?.Port ?? null };
  }
  const { DescribeCacheClustersCommand } = await import('@aws-sdk/client-elasticache');
  const output = await clients.elasticache.send(
    new DescribeCacheClustersCommand({ CacheClusterId: spec.name, ShowCacheNodeInfo: true }),
  );
  const cluster = output.CacheClusters?.[0];
  const endpoint = cluster?.ConfigurationEndpoint ?? cluster?.CacheNodes?.[0]?.Endpoint;
  return { host: endpoint?.Address ?? '', port: endpoint?.Port ?? null };
}

/** Looks up the endpoint of a `rds:`, `rds-cluster:` or `elasticache:` remote host. */
export async function resolveRemoteHost(
  remoteHost: string,
  clients: RemoteHostClients,
): Promise<ResolvedRemoteHost> {
  const spec = parseRemoteHost(remoteHost);
  if (spec.kind === 'host') {
    return { host: spec.name, port: null };
  }
  let resolved: ResolvedRemoteHost;
  try {
    resolved = await lookUp(spec, clients);
  } catch (error) {
    if (error instanceof Error && NOT_FOUND_NAMES.has(error.name)) {
      throw notFound(spec, error);
    }
    throw classifyError(error);
  }
  // A profile may leave remotePort out for these hosts, so an endpoint without a port is as
  // unusable as one without an address.
  if (resolved.host === '' || resolved.port === null) {
    throw notFound(spec);
  }
  return resolved;
}

export interface RemoteHostResolver {
  /** Returns the cached endpoint while it is younger than the cache time, else looks it up. */
  resolve(): Promise<ResolvedRemoteHost>;
  /** Drops the cached endpoint, e.g. after the agent failed to dial it during a failover. */
  invalidate(): void;
}

/**
 * Caches the endpoint of one remote host for `cacheMs` (default 60 s), so a failover that
 * moves an RDS or ElastiCache endpoint is picked up without a lookup per connection.
 */
export function createRemoteHostResolver(
  remoteHost: string,
  clients: RemoteHostClients,
  options: { cacheMs?: number; now?: () => number } = {},
): RemoteHostResolver {
  const cacheMs = options.cacheMs ?? 60_000;
  const now = options.now ?? Date.now;
  let cached: { value: ResolvedRemoteHost; at: number } | undefined;
  return {
    async resolve() {
      if (cached && now() - cached.at < cacheMs) {
        return cached.value;
      }
      const value = await resolveRemoteHost(remoteHost, clients);
      cached = { value, at: now() };
      return value;
    },
    invalidate() {
      cached = undefined;
    },
  };
}
