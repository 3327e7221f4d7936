// Interfaces of the parts the control API depends on (tunnel manager, config store, target
// listing), so tests and the daemon can pass in their own implementations.

import type { Profile, TunnelStatus } from '../config/types.js';
import type { ConfigError } from '../config/errors.js';
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

/** The subset of ConfigStore that the profile routes use. */
export interface ProfileStore {
  readonly file: string;
  readonly profiles: Profile[];
  readonly error: ConfigError | null;
  getProfile(name: string): Profile | undefined;
  create(input: unknown): Profile;
  replace(name: string, input: unknown): Profile;
  remove(name: string): void;
}

export interface TargetQuery {
  region: string;
  endpoint?: string;
  awsProfile?: string;
}

export interface TargetInfo {
  instanceId: string;
  name: string | null;
  platform: string | null;
  agentVersion: string | null;
  ipAddress: string | null;
  pingStatus: string;
  lastPingAt: string | null;
}

export type DescribeTargets = (query: TargetQuery) => Promise<TargetInfo[]>;
