// Errors of the port-forwarding layer, each with a stable code the daemon maps to user text.

export type PortForwardErrorCode =
  | 'ERR_START_SESSION_FAILED'
  | 'ERR_INVALID_START_RESPONSE'
  | 'ERR_UNSUPPORTED_SESSION'
  | 'ERR_SESSION_ABORTED'
  | 'ERR_SMUX_FAILED';

export class PortForwardError extends Error {
  override readonly name = 'PortForwardError';
  constructor(
    readonly code: PortForwardErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
