// The dashboard and the tray compile on their own, so they import the daemon's shapes as types
// only: no daemon code ends up in the browser bundle.

import type { MfaRequest } from '../../../daemon/api/mfa.js';
import type { ConfigErrorStatus, TrafficEvent } from '../../../daemon/api/types.js';
import type { TunnelStatus } from '../../../daemon/config/types.js';
export type {
  Profile,
  TargetSpec,
  TunnelError,
  TunnelMode,
  TunnelState,
  TunnelStatus,
} from '../../../daemon/config/types.js';

/** A tunnel's bytes of the last five minutes in 5 s buckets, from `GET /v1/tunnels/:name/traffic`. */
export type { TrafficHistorySnapshot } from '../../../daemon/tunnel/traffic-history.js';

/** A pending request for an MFA code from `GET /v1/mfa`. */
export type { MfaRequest } from '../../../daemon/api/mfa.js';

/** An online managed instance from `GET /v1/targets`, and the query that lists them. */
export type { TargetInfo as ManagedTarget, TargetQuery } from '../../../daemon/api/types.js';

/** The reply of `GET /v1/status`, with the daemon's rejected config file in `configError`. */
export type {
  ConfigErrorStatus,
  DaemonStatusBody as DaemonStatus,
} from '../../../daemon/api/types.js';

/** A field-level validation error from a 400 response of `/v1/profiles`. */
export interface FieldError {
  path: string;
  message: string;
}

/** A message on the `/v1/events` websocket. */
export type DaemonEvent =
  | { type: 'state'; tunnel: TunnelStatus }
  /** The tunnel of a deleted profile has stopped and is gone from the list. */
  | { type: 'removed'; name: string }
  | ({ type: 'traffic' } & TrafficEvent)
  | { type: 'mfa-required'; request: MfaRequest }
  /** `outcome` is 'answered', 'timed-out' or 'cancelled'. */
  | { type: 'mfa-settled'; request: MfaRequest; outcome: string }
  /** Sent on connect and on each load of the config file; `configError` null means valid. */
  | { type: 'config'; configFile: string; configError: ConfigErrorStatus | null; tunnels: number };
