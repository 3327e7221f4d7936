// The dashboard and the tray compile on their own, so they import the daemon's shapes as types
// only: no daemon code ends up in the browser bundle.
export type {
  Profile,
  TargetSpec,
  TunnelError,
  TunnelMode,
  TunnelState,
  TunnelStatus,
} from '../../../daemon/config/types.js';

/** One online managed instance from `GET /v1/targets`. */
export interface ManagedTarget {
  instanceId: string;
  /** Value of the instance's Name tag. */
  name: string | null;
  platform: string | null;
  agentVersion: string | null;
  ipAddress: string | null;
  pingStatus: string;
  /** ISO 8601 time of the agent's last ping. */
  lastPingAt: string | null;
}

/** Where `GET /v1/targets` looks for managed instances. */
export interface TargetQuery {
  region: string;
  /** SSM endpoint override, e.g. a VPC endpoint or the local emulator. */
  endpoint?: string;
  awsProfile?: string;
}

/** A field-level validation error from a 400 response of `/v1/profiles`. */
export interface FieldError {
  path: string;
  message: string;
}

/** A message on the `/v1/events` websocket. */
export type DaemonEvent =
  | { type: 'state'; tunnel: import('../../../daemon/config/types.js').TunnelStatus }
  | { type: 'traffic'; name: string; bytesIn: number; bytesOut: number; at: string };
