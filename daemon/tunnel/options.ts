// Dependencies and timing settings of a tunnel, with their defaults.

import type { SSMClient } from '@aws-sdk/client-ssm';
import type pino from 'pino';
import type { AuditEntry } from '../audit/log.js';
import type { Profile } from '../config/types.js';
import type { StartPortForwardOptions } from '../portforward/start.js';
import type { PortForwardSession } from '../portforward/types.js';

export type SessionStarter = (options: StartPortForwardOptions) => Promise<PortForwardSession>;

export interface TunnelTimings {
  /** Limit for one session start (API call, websocket, handshake), in milliseconds. */
  startTimeoutMs: number;
  /** How long an accepted connection waits for a session before it is closed, in milliseconds. */
  connectionWaitMs: number;
  /** Limit for closing one session during stop, in milliseconds. */
  closeTimeoutMs: number;
  /** Interval of keep-alive probes when the profile enables keepAlive, in milliseconds. */
  keepAliveIntervalMs: number;
  /** Limit for one health check ping after a wake-up, in milliseconds. */
  healthCheckTimeoutMs: number;
  /** A session that ends sooner than this after its start counts as a failed start for backoff. */
  stableSessionMs: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** Interval of credential checks while the tunnel needs a login, in milliseconds. */
  loginPollIntervalMs: number;
  /** Interval of tag-target checks while sessions are open, in milliseconds. */
  targetCheckIntervalMs: number;
}

export const DEFAULT_TIMINGS: Readonly<TunnelTimings> = Object.freeze({
  startTimeoutMs: 45_000,
  connectionWaitMs: 60_000,
  closeTimeoutMs: 1500,
  // NOTE: Session Manager's idle timeout is set in whole minutes with 1 as the smallest
  // value as far as known. A shorter setting would need a shorter interval here.
  keepAliveIntervalMs: 50_000,
  healthCheckTimeoutMs: 5000,
  stableSessionMs: 10_000,
  backoffInitialMs: 500,
  backoffMaxMs: 60_000,
  loginPollIntervalMs: 5000,
  targetCheckIntervalMs: 30_000,
});

/** Endpoint of a remote host named by an AWS resource; `port` null means the profile's. */
export interface ResolvedEndpoint {
  host: string;
  port: number | null;
}

export interface TunnelDeps {
  logger: pino.Logger;
  startSession: SessionStarter;
  ssmClientFor: (profile: Profile) => SSMClient;
  /** Renews the credentials of the profile. The next `ssmClientFor` call must use them. */
  refreshCredentials?: (profile: Profile) => void | Promise<void>;
  /** Turns a tag target into one instance id, which profiles with tag targets require. */
  resolveTarget?: (profile: Profile) => Promise<string>;
  /**
   * Looks up the endpoint of an `rds:`, `rds-cluster:` or `elasticache:` remote host before
   * each session start. Without it such a name is passed to the agent unchanged.
   */
  resolveRemoteHost?: (profile: Profile) => Promise<ResolvedEndpoint>;
  /** Drops a cached remote-host endpoint after the agent failed to dial it. */
  invalidateRemoteHost?: (profile: Profile) => void;
  /**
   * Loads the profile's credentials again; resolves once they are usable. Polled while the
   * tunnel needs a login, so the tunnel recovers by itself after `aws sso login`.
   */
  checkCredentials?: (profile: Profile) => Promise<void>;
  /** Records one ended session in the audit log. */
  recordAudit?: (entry: AuditEntry) => Promise<void>;
  now?: () => number;
  timings?: Partial<TunnelTimings>;
}
