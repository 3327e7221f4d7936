// The dashboard and the tray compile on their own, so they import the daemon's shapes as types
// only: no daemon code ends up in the browser bundle.

import type { TrafficEvent } from '../../../daemon/api/types.js';
import type { TunnelStatus } from '../../../daemon/config/types.js';
export type {
  Profile,
  TargetSpec,
  TunnelError,
  TunnelMode,
  TunnelState,
  TunnelStatus,
} from '../../../daemon/config/types.js';

/** An online managed instance from `GET /v1/targets`, and the query that lists them. */
export type { TargetInfo as ManagedTarget, TargetQuery } from '../../../daemon/api/types.js';

/** A field-level validation error from a 400 response of `/v1/profiles`. */
export interface FieldError {
  path: string;
  message: string;
}

/** A message on the `/v1/events` websocket. */
export type DaemonEvent =
  { type: 'state'; tunnel: TunnelStatus } | ({ type: 'traffic' } & TrafficEvent);
