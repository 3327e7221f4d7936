// Sorts failed session starts into lasting and transient ones. While the last start failed
// with a lasting error, the tunnel closes new connections at once instead of holding them
// for a session that will not open soon.

import type { BastionlessError } from '../errors.js';

/**
 * Codes whose cause stays until a person acts or the target comes back: a stopped instance,
 * missing permissions or credentials, a wrong profile setting. Typed as strings, so codes of
 * the port-forwarding layer (ERR_INVALID_START_RESPONSE, ERR_UNSUPPORTED_SESSION) fit too.
 */
const LASTING_CODES: ReadonlySet<string> = new Set([
  'ERR_TARGET_NOT_CONNECTED',
  'ERR_ACCESS_DENIED',
  'ERR_INVALID_TARGET',
  'ERR_INVALID_DOCUMENT',
  'ERR_EXPIRED_CREDENTIALS',
  'ERR_INVALID_CREDENTIALS',
  'ERR_NO_CREDENTIALS',
  'ERR_AWS_PROFILE_NOT_FOUND',
  'ERR_NEEDS_LOGIN',
  'ERR_REMOTE_HOST_NOT_FOUND',
  'ERR_CONFIG_INVALID',
  'ERR_INVALID_START_RESPONSE',
  'ERR_UNSUPPORTED_SESSION',
]);

/**
 * Returns true when `error` will not go away by itself within a connection's wait, so
 * waiting connections gain nothing by staying open. Timeouts, throttling, unreachable
 * endpoints, dropped websockets and unrecognised errors count as transient, because a
 * wrong lasting verdict would close connections that the next start could carry.
 */
export function isLastingStartFailure(error: BastionlessError): boolean {
  return LASTING_CODES.has(error.code);
}

/**
 * Builds the status reason shown during a failure streak: the error, when the next start
 * happens, and that connections are closed meanwhile. `nextAttemptAtMs` is epoch milliseconds.
 */
export function describeStartFailure(
  error: BastionlessError,
  nextAttemptAtMs: number | null,
  starting: boolean,
): string {
  let next = 'The next connection schedules another attempt';
  if (starting) {
    next = 'Retrying now';
  } else if (nextAttemptAtMs !== null) {
    next = `Next attempt at ${new Date(nextAttemptAtMs).toISOString()}`;
  }
  const message = error.message.replace(/\.$/, '');
  return `${message}. ${next}; connections are closed at once until a session opens.`;
}
