// Interfaces of the parts the control API depends on (tunnel manager, config store, target
// listing), so tests and the daemon can pass in their own implementations.

import type { Profile, TunnelStatus } from '../config/types.js';
import type { ConfigError, FieldIssue } from '../config/errors.js';
import type { TrafficHistorySnapshot } from '../tunnel/traffic-history.js';

export interface TrafficEvent {
  name: string;
  bytesIn: number;
  bytesOut: number;
  /** ISO 8601 time of the sample. */
  at: string;
}

/** The subset of TunnelManager that the API drives. */
export interface TunnelController {
  list(): TunnelStatus[];
  get(name: string): TunnelStatus | undefined;
  /** The tunnel's bytes of the last five minutes in 5 s buckets, or undefined without one. */
  traffic(name: string): TrafficHistorySnapshot | undefined;
  start(name: string): Promise<TunnelStatus>;
  stop(name: string): Promise<TunnelStatus>;
  restart(name: string): Promise<TunnelStatus>;
  startGroup(group: string): Promise<TunnelStatus[]>;
  stopGroup(group: string): Promise<TunnelStatus[]>;
  on(event: 'state', listener: (status: TunnelStatus) => void): unknown;
  on(event: 'traffic', listener: (traffic: TrafficEvent) => void): unknown;
  off(event: 'state', listener: (status: TunnelStatus) => void): unknown;
  off(event: 'traffic', listener: (traffic: TrafficEvent) => void): unknown;
  on(event: 'removed', listener: (name: string) => void): unknown;
  off(event: 'removed', listener: (name: string) => void): unknown;
}

/** Problem of a rejected config file, in the `configError` field of `GET /v1/status`. */
export interface ConfigErrorStatus {
  code: string;
  /** The file, the problem and the fix in one line, as the CLI prints it. */
  message: string;
  /** The problem alone, without the file name and the fix. */
  reason: string;
  /** The next step, or null when the message has no separate fix. */
  fix: string | null;
  /** Every invalid value of an ERR_CONFIG_INVALID file, and empty for the other codes. */
  fields: FieldIssue[];
}

/** Body of `GET /v1/status`. */
export interface DaemonStatusBody {
  version: string | null;
  pid: number;
  startedAt: string;
  configFile: string;
  configError: ConfigErrorStatus | null;
  /** Tunnels the daemon runs, one per loaded profile, kept while the file is rejected. */
  tunnels: number;
}

/** The subset of ConfigStore that the profile routes use. */
export interface ProfileStore {
  readonly file: string;
  readonly profiles: Profile[];
  readonly error: ConfigError | null;
  getProfile(name: string): Profile | undefined;
  create(input: unknown): Profile;
  replace(name: string, input: unknown): Profile;
  remove(name: string): void;
  /** `invalid` when the file on disk is rejected, `profiles` when a valid file is loaded. */
  on?(event: 'invalid' | 'profiles', listener: () => void): unknown;
  off?(event: 'invalid' | 'profiles', listener: () => void): unknown;
}

export interface TargetQuery {
  region: string;
  endpoint?: string;
  awsProfile?: string;
}

export interface TargetInfo {
  instanceId: string;
  /** The EC2 Name tag where it can be read, else the computer name. */
  name: string | null;
  /** The host name the SSM agent reports, e.g. `ip-10-0-1-10.ec2.internal`. */
  computerName: string | null;
  platform: string | null;
  agentVersion: string | null;
  ipAddress: string | null;
  pingStatus: string;
  lastPingAt: string | null;
}

export type DescribeTargets = (query: TargetQuery) => Promise<TargetInfo[]>;
