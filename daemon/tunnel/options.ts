// Dependencies and timing settings of a tunnel, with their defaults.

import type { SSMClient } from '@aws-sdk/client-ssm';
import type pino from 'pino';
import type { Profile } from '../config/types.js';
import type { PortForwardSession, PortForwardSessionOptions } from '../portforward/types.js';

export type SessionStarter = (options: PortForwardSessionOptions) => Promise<PortForwardSession>;

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
});

export interface TunnelDeps {
  logger: pino.Logger;
  startSession: SessionStarter;
  ssmClientFor: (profile: Profile) => SSMClient;
  /** Renews the credentials of the profile. The next `ssmClientFor` call must use them. */
  refreshCredentials?: (profile: Profile) => void | Promise<void>;
  /** Turns a tag target into one instance id, which profiles with tag targets require. */
  resolveTarget?: (profile: Profile) => Promise<string>;
  now?: () => number;
  timings?: Partial<TunnelTimings>;
}
