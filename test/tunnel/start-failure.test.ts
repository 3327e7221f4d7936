// The lasting-or-transient verdict on failed session starts, and the status reason shown
// while connections are closed at once.

import { describe, expect, it } from 'vitest';
import { BastionlessError, type ErrorCode } from '../../daemon/errors.js';
import { describeStartFailure, isLastingStartFailure } from '../../daemon/tunnel/start-failure.js';

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
