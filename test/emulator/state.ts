// Shared emulator state: the scenario plus the records tests assert on.

import type { Scenario } from './scenario.js';

/** One AWS API call as the emulator received it. */
export interface ApiCallRecord {
  /** `AmazonSSM.StartSession` style for JSON protocols, `sts:GetCallerIdentity` for query ones. */
  operation: string;
  input: unknown;
  /** Access key id from the SigV4 credential scope; empty when the request was unsigned. */
  accessKeyId: string;
  region: string;
  /** Unix epoch milliseconds. */
  time: number;
  /** AWS error type (`__type`) when the call failed. */
  error?: string;
}

export type SessionState = 'pending' | 'connected' | 'disconnected' | 'terminated' | 'failed';

export type ForwardingMode = 'mux' | 'basic';

/** One StartSession result and everything that happened on its data channel. */
export interface SessionRecord {
  sessionId: string;
  target: string;
  documentName: string;
  /** Host the agent dials: `localhost` for AWS-StartPortForwardingSession. */
  host: string;
  port: number;
  localPortNumber: string;
  accessKeyId: string;
  state: SessionState;
  clientId?: string;
  clientVersion?: string;
  /** ClientVersion from the HandshakeResponse, which is what picks the mode. */
  handshakeClientVersion?: string;
  agentVersion: string;
  mode?: ForwardingMode;
  smuxKeepAlive?: boolean;
  websocketOpens: number;
  /** Payload bytes of output_stream_data data messages (PayloadType 1) sent to the client. */
  bytesToClient: number;
  /** Payload bytes of input_stream_data data messages (PayloadType 1) accepted in order. */
  bytesFromClient: number;
  streamsOpened: number;
  dialFailures: number;
  startedAt: number;
  endedAt?: number;
  /** Who ended the session: `client-flag`, `api:<access key>`, `admin`, `idle-timeout`, `max-duration` or `error`. */
  terminatedBy?: string;
  /** Text sent as channel_closed Output, or the reason the session failed. */
  endReason?: string;
}

export interface EmulatorState {
  scenario: Scenario;
  readonly calls: ApiCallRecord[];
  readonly sessions: Map<string, SessionRecord>;
}
