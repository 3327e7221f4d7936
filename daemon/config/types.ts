// Shapes shared by the config file, the tunnel manager, the control API, the CLI,
// the dashboard and the tray.

export type TunnelMode = 'on-demand' | 'always-on';

/** A target given by instance id, or by tags resolved to one online managed instance. */
export type TargetSpec = string | { tags: Record<string, string> };

export interface Profile {
  name: string;
  groups: string[];
  region: string;
  awsProfile?: string;
  target: TargetSpec;
  /** Host the agent dials; absent means the target itself. */
  remoteHost?: string;
  /** 0 for an `rds:`, `rds-cluster:` or `elasticache:` host means the port the lookup returns. */
  remotePort: number;
  localPort: number;
  /** Default 127.0.0.1; `localhost` listens on 127.0.0.1 and ::1. */
  bindAddress: string;
  /** Required to bind an address other than loopback. */
  allowNonLoopback: boolean;
  autoStart: boolean;
  mode: TunnelMode;
  /** Number of parallel sessions that carry the connections (1 to 8). */
  sessionPool: number;
  /** Endpoint overrides: VPC endpoints, FIPS endpoints or the local emulator. */
  endpoints: { ssm?: string; ec2?: string; sts?: string; rds?: string; elasticache?: string };
  /** Sends traffic to keep idle sessions open, which bypasses the idle-timeout policy. */
  keepAlive: boolean;
}

export type TunnelState =
  'stopped' | 'listening' | 'connecting' | 'open' | 'reconnecting' | 'needs-login' | 'failed';

export interface TunnelError {
  /** Stable code such as ERR_PORT_IN_USE or ERR_TARGET_NOT_CONNECTED. */
  code: string;
  message: string;
  /** Next step for the user, such as the exact command to run. */
  hint?: string;
  /** ISO 8601 time the error happened. */
  at: string;
}

export interface TunnelStatus {
  name: string;
  groups: string[];
  state: TunnelState;
  /** Plain-words reason for the state, e.g. "session ended by the service: idle timeout". */
  reason: string | null;
  /**
   * ISO 8601 time of the next attempt that waits for its backoff delay: a session start after a
   * failed start, or while `reconnecting` the earliest resume attempt after a failed one. Null
   * while no attempt waits, for example while one runs or the tunnel is stopped.
   */
  nextAttemptAt: string | null;
  /** host:port the listener is bound to, e.g. 127.0.0.1:15432. */
  localAddress: string;
  target: string;
  remoteHost: string | null;
  remotePort: number;
  mode: TunnelMode;
  sessionIds: string[];
  agentVersion: string | null;
  forwarding: 'mux' | 'basic' | null;
  bytesIn: number;
  bytesOut: number;
  activeConnections: number;
  totalConnections: number;
  dialFailures: number;
  reconnects: number;
  rttMs: number | null;
  /**
   * Malformed frames from the service that the open sessions' data channels dropped. Ended
   * sessions are not counted here, but in the metrics. Optional for older daemons.
   */
  protocolErrors?: number;
  /**
   * Messages the open sessions' data channels dropped unacknowledged because the reorder
   * buffer was full. Optional for older daemons.
   */
  droppedMessages?: number;
  lastError: TunnelError | null;
  /** ISO 8601 time the tunnel last entered `open`, or null. */
  openSince: string | null;
  uptimeMs: number;
}
