// Errors the data channel reports, each with a stable code the daemon maps to user text.

export type DataChannelErrorCode =
  | 'ERR_INVALID_OPTION'
  | 'ERR_INVALID_STATE'
  | 'ERR_CONNECT_FAILED'
  | 'ERR_CONNECTION_LOST'
  | 'ERR_PONG_TIMEOUT'
  | 'ERR_PEER_SILENT'
  | 'ERR_STREAM_STALLED'
  | 'ERR_PING_TIMEOUT'
  | 'ERR_HANDSHAKE_TIMEOUT'
  | 'ERR_HANDSHAKE_FAILED'
  | 'ERR_RECONNECT_TIMEOUT'
  | 'ERR_RESUME_FAILED'
  | 'ERR_SESSION_EXPIRED'
  | 'ERR_CHANNEL_CLOSED';

export class DataChannelError extends Error {
  override readonly name = 'DataChannelError';
  constructor(
    readonly code: DataChannelErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
