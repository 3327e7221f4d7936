// The lasting-or-transient verdict on failed session starts, and the status reason shown
// while connections are closed at once.

import { describe, expect, it } from 'vitest';
import { BastionlessError, type ErrorCode } from '../../daemon/errors.js';
import {
  describeStartFailure,
  hasSystemCode,
  isLastingStartFailure,
} from '../../daemon/tunnel/start-failure.js';

const LASTING: string[] = [
  'ERR_TARGET_NOT_CONNECTED',
  'ERR_ACCESS_DENIED',
  'ERR_INVALID_TARGET',
  'ERR_EXPIRED_CREDENTIALS',
  'ERR_NO_CREDENTIALS',
  'ERR_AWS_PROFILE_NOT_FOUND',
  'ERR_NEEDS_LOGIN',
  'ERR_REMOTE_HOST_NOT_FOUND',
  'ERR_UNSUPPORTED_SESSION',
];

const TRANSIENT: string[] = [
  'ERR_HANDSHAKE_TIMEOUT',
  'ERR_AWS_UNAVAILABLE',
  'ERR_ENDPOINT_UNREACHABLE',
  'ERR_SESSION_NOT_FOUND',
  'ERR_SESSION_FAILED',
  'ERR_SESSION_ABORTED',
  'ERR_START_SESSION_FAILED',
  'ERR_UNKNOWN',
];

function errorWith(code: string, message = 'start failed'): BastionlessError {
  return new BastionlessError(code as ErrorCode, message);
}

describe('isLastingStartFailure', () => {
  it.each(LASTING)('calls %s lasting', (code) => {
    expect(isLastingStartFailure(errorWith(code))).toBe(true);
  });

  it.each(TRANSIENT)('calls %s transient', (code) => {
    expect(isLastingStartFailure(errorWith(code))).toBe(false);
  });
});

/** ERR_ENDPOINT_UNREACHABLE as classifyError builds it, wrapping a Node.js system error. */
function unreachable(systemCode: string): BastionlessError {
  const cause = Object.assign(new Error(`connect ${systemCode} 127.0.0.1:1`), { code: systemCode });
  return new BastionlessError('ERR_ENDPOINT_UNREACHABLE', 'Cannot reach http://127.0.0.1:1', {
    cause: new Error('request failed', { cause }),
    retryable: true,
  });
}

describe('isLastingStartFailure for endpoints', () => {
  const afterSession = { sessionOpened: true, endpointFailuresBefore: 0 };

  it('calls a first failure after a session transient', () => {
    expect(isLastingStartFailure(unreachable('ECONNREFUSED'), afterSession)).toBe(false);
  });

  it('calls the second failure in a row lasting', () => {
    const history = { sessionOpened: true, endpointFailuresBefore: 1 };

    expect(isLastingStartFailure(unreachable('ECONNREFUSED'), history)).toBe(true);
  });

  it('calls a failure before any session lasting', () => {
    const history = { sessionOpened: false, endpointFailuresBefore: 0 };

    expect(isLastingStartFailure(unreachable('ECONNREFUSED'), history)).toBe(true);
  });

  it('calls an unresolvable host lasting at once', () => {
    expect(isLastingStartFailure(unreachable('ENOTFOUND'), afterSession)).toBe(true);
  });

  it('keeps other transient codes transient in a streak', () => {
    const history = { sessionOpened: false, endpointFailuresBefore: 3 };

    expect(isLastingStartFailure(errorWith('ERR_HANDSHAKE_TIMEOUT'), history)).toBe(false);
  });
});

describe('hasSystemCode', () => {
  it('finds a code in the cause chain', () => {
    expect(hasSystemCode(unreachable('ENOTFOUND'), 'ENOTFOUND')).toBe(true);
  });

  it('finds a code in AggregateError members', () => {
    const member = Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
    const error = new Error('fetch failed', { cause: new AggregateError([member]) });

    expect(hasSystemCode(error, 'ENOTFOUND')).toBe(true);
  });

  it('misses a code absent from the chain', () => {
    expect(hasSystemCode(unreachable('ECONNREFUSED'), 'ENOTFOUND')).toBe(false);
  });

  it('stops on a cyclic cause chain', () => {
    const error: Error & { cause?: unknown } = new Error('loop');
    error.cause = error;

    expect(hasSystemCode(error, 'ENOTFOUND')).toBe(false);
  });
});

describe('describeStartFailure', () => {
  const error = errorWith('ERR_TARGET_NOT_CONNECTED', 'Target i-0abc12345 is not connected.');

  it('names the next attempt time', () => {
    const reason = describeStartFailure(error, Date.UTC(2025, 0, 2, 3, 4, 5), false);

    expect(reason).toBe(
      'Target i-0abc12345 is not connected. Next attempt at 2025-01-02T03:04:05.000Z; ' +
        'connections are closed at once until a session opens.',
    );
  });

  it('says a start is running', () => {
    expect(describeStartFailure(error, null, true)).toContain('. Retrying now;');
  });

  it('says a connection schedules the next attempt', () => {
    expect(describeStartFailure(error, null, false)).toContain(
      'The next connection schedules another attempt',
    );
  });
});
