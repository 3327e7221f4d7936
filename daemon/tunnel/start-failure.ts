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

/** Closing words of every fail-fast status reason. The CLI matches them to print a hint line. */
export const FAST_CLOSE_NOTICE = 'connections are closed at once until a session opens';

/** Depth limit of the cause chain walk, so a cyclic chain cannot loop. */
const MAX_CAUSE_DEPTH = 8;

/** Outcomes of the earlier session starts in this run of the tunnel. */
export interface StartHistory {
  /** True once any session of this run has opened. */
  sessionOpened: boolean;
  /** Endpoint failures in a row before this one, reset by any other outcome. */
  endpointFailuresBefore: number;
}

/**
 * Returns true when `error` will not go away by itself within a connection's wait, so
 * waiting connections gain nothing by staying open. Timeouts, throttling and dropped
 * websockets count as transient, because a wrong lasting verdict would close connections
 * that the next start could carry. An unreachable endpoint is lasting when its host name does
 * not resolve (ENOTFOUND), when no session of this run has opened yet, or from the second
 * failure in a row. Only the first failure after a working session counts as a blip.
 */
export function isLastingStartFailure(error: BastionlessError, history?: StartHistory): boolean {
  if (LASTING_CODES.has(error.code)) {
    return true;
  }
  if (error.code !== 'ERR_ENDPOINT_UNREACHABLE' || history === undefined) {
    return false;
  }
  return (
    hasSystemCode(error, 'ENOTFOUND') ||
    !history.sessionOpened ||
    history.endpointFailuresBefore >= 1
  );
}

/**
 * Returns true when `error` or an error in its cause chain (AggregateError members included)
 * carries the Node.js system error `code`, e.g. ENOTFOUND from getaddrinfo.
 */
export function hasSystemCode(error: unknown, code: string): boolean {
  const queue: unknown[] = [error];
  for (let seen = 0; queue.length > 0 && seen < MAX_CAUSE_DEPTH; seen += 1) {
    const next = queue.shift();
    if (typeof next !== 'object' || next === null) {
      continue;
    }
    const shape = next as { code?: unknown; cause?: unknown; errors?: unknown };
    if (shape.code === code) {
      return true;
    }
    queue.push(shape.cause);
    if (Array.isArray(shape.errors)) {
      queue.push(...(shape.errors as unknown[]));
    }
  }
  return false;
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
  return `${message}. ${next}; ${FAST_CLOSE_NOTICE}.`;
}
