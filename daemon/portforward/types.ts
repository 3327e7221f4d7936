// Contract between the port-forwarding client and the tunnel daemon that drives it.

import type { Socket } from 'node:net';
import type { EventEmitter } from 'node:events';
import type { SSMClient } from '@aws-sdk/client-ssm';

export type ForwardingMode = 'mux' | 'basic';

export interface PortForwardSessionOptions {
  /** Returns the SSM client to use for the next API call, so fresh credentials apply. */
  getSsmClient: () => SSMClient;
  /** Instance id (i-…, mi-…) of the managed node. */
  target: string;
  /** Host the agent dials; absent means the target itself (AWS-StartPortForwardingSession). */
  remoteHost?: string;
  remotePort: number;
  /**
   * Local port passed as the document's `localPortNumber` parameter. The client binds its
   * own listener, so this value is informational. Default: 0.
   */
  localPort?: number;
  /** Reason recorded by the service for the session (1 to 256 characters). */
  reason?: string;
  /** Abort an in-flight start; the session is terminated if it was created. */
  signal?: AbortSignal;
}

/** End of a session and its cause. `service` covers idle timeout, max duration and admin termination. */
export interface SessionEnd {
  by: 'client' | 'service' | 'error';
  reason: string;
  /** The error that ended the session, when `by` is `error`. */
  error?: Error;
}

export interface SessionStats {
  bytesIn: number;
  bytesOut: number;
  activeConnections: number;
  totalConnections: number;
  dialFailures: number;
  reconnects: number;
  /** Smoothed round-trip time from acknowledgements, in milliseconds; null before the first. */
  rttMs: number | null;
}

/**
 * One SSM port-forwarding session. Events:
 * - `reconnecting` (error: Error): the websocket dropped; resume is under way.
 * - `reconnect-attempt` (attempt: number): a resume attempt begins, numbered from 1.
 * - `reconnect-failed` (failure: ReconnectAttemptFailure): one resume attempt failed; the
 *   failure names the attempt, the failed step, the error and the delay before the next one.
 * - `reconnected` (): the data channel is back with every sequence number intact.
 * - `dial-failed` (): the agent could not reach the remote host for one connection.
 * - `ended` (end: SessionEnd): the session is over; no more connections are accepted.
 */
export interface PortForwardSession extends EventEmitter {
  readonly sessionId: string;
  readonly agentVersion: string;
  readonly mode: ForwardingMode;
  readonly stats: SessionStats;
  /** Carry one accepted local connection; the session owns the socket from then on. */
  handleConnection(socket: Socket): void;
  /** Send the TerminateSession flag, call the TerminateSession API and close every socket. */
  close(reason?: string): Promise<void>;
  /**
   * Sends a websocket ping and resolves with the round-trip time in milliseconds. Rejects
   * when no pong arrives within `timeoutMs` or no websocket is open, which after a sleep
   * means the session should be replaced. Optional, so test doubles may leave it out.
   */
  ping?(timeoutMs: number): Promise<number>;
}
