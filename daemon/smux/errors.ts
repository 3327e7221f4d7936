// Errors of the smux session layer. Wire-format errors are `SmuxProtocolError` in frame.ts.

export type SmuxSessionErrorCode =
  | 'ERR_SMUX_STREAM_CLOSED'
  | 'ERR_SMUX_SESSION_CLOSED'
  | 'ERR_SMUX_STREAM_IDS_EXHAUSTED'
  | 'ERR_SMUX_KEEPALIVE_TIMEOUT';

export class SmuxSessionError extends Error {
  override readonly name = 'SmuxSessionError';
  constructor(
    readonly code: SmuxSessionErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
