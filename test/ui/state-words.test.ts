import { describe, expect, it } from 'vitest';
import {
  describeState,
  isErrorBeforeOpen,
  isTunnelActive,
  rowAction,
  UNKNOWN_STATE,
} from '../../ui/src/lib/state-words.js';
import type { TunnelState } from '../../ui/src/lib/types.js';
import {
  classifyReconnectFailure,
  describeReconnectFailure,
} from '../../daemon/tunnel/reconnect-failure.js';

const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4566'), {
  code: 'ECONNREFUSED',
});

const ALL_STATES: TunnelState[] = [
  'stopped',
  'listening',
  'connecting',
  'open',
  'reconnecting',
  'needs-login',
  'failed',
];

describe('describeState', () => {
  it.each(ALL_STATES)('gives %s a label and a sentence', (state) => {
    const description = describeState({ state, reason: null });
    expect(description.label).not.toBe('');
    expect(description.sentence).toMatch(/\.$/);
  });

  it.each(ALL_STATES)('keeps the %s badge word out of the sentence', (state) => {
    const description = describeState({ state, reason: null });
    expect(description.sentence.toLowerCase()).not.toContain(description.label.toLowerCase());
  });

  it('keeps the unknown badge word out of its sentence', () => {
    expect(UNKNOWN_STATE.sentence.toLowerCase()).not.toContain('unknown');
  });

  it('maps states to tones', () => {
    expect(describeState({ state: 'open', reason: null }).tone).toBe('ok');
    expect(describeState({ state: 'reconnecting', reason: null }).tone).toBe('warn');
    expect(describeState({ state: 'failed', reason: null }).tone).toBe('error');
    expect(describeState({ state: 'needs-login', reason: null }).tone).toBe('error');
    expect(describeState({ state: 'stopped', reason: null }).tone).toBe('idle');
  });

  it('marks an open tunnel whose remote refused', () => {
    const description = describeState({
      state: 'open',
      reason: null,
      openSince: '2026-01-01T10:00:00.000Z',
      lastError: {
        code: 'ERR_REMOTE_REFUSED',
        message: 'The agent could not connect to 127.0.0.1:44024',
        at: '2026-01-01T10:00:05.000Z',
      },
      totalConnections: 3,
      dialFailures: 3,
    });
    expect(description.label).toBe('Open, remote refused');
    expect(description.tone).toBe('warn');
    expect(description.sentence).toBe(
      'The session is open, but the remote host refused all 3 connections.',
    );
  });

  it('counts refusals among forwarded connections', () => {
    const description = describeState({
      state: 'open',
      reason: null,
      openSince: '2026-01-01T10:00:00.000Z',
      lastError: { code: 'ERR_REMOTE_REFUSED', message: 'refused', at: '2026-01-01T10:00:05Z' },
      totalConnections: 5,
      dialFailures: 2,
    });
    expect(description.sentence).toBe(
      'The session is open, but the remote host refused 2 of 5 connections.',
    );
  });

  it('ignores a refusal before the tunnel opened', () => {
    const description = describeState({
      state: 'open',
      reason: null,
      openSince: '2026-01-01T10:00:10.000Z',
      lastError: { code: 'ERR_REMOTE_REFUSED', message: 'refused', at: '2026-01-01T10:00:05Z' },
      totalConnections: 1,
      dialFailures: 1,
    });
    expect(description.label).toBe('Open');
    expect(description.tone).toBe('ok');
  });

  it('appends the reason in brackets', () => {
    const description = describeState({ state: 'reconnecting', reason: 'idle timeout' });
    expect(description.sentence).toBe(
      'The websocket dropped and the daemon is resuming the session (idle timeout).',
    );
  });

  it('adds a sentence reason without nested brackets', () => {
    const description = describeState({
      state: 'failed',
      reason: 'No such host (db.internal).. Check remoteHost in the profile.',
    });
    expect(description.sentence).toBe(
      'The daemon stopped retrying. No such host (db.internal). Check remoteHost in the profile.',
    );
  });

  it('ends a bracketed reason with one full stop', () => {
    const description = describeState({ state: 'listening', reason: 'session closed (eof)' });
    expect(description.sentence).toBe(
      'A session opens on the first connection. Session closed (eof).',
    );
  });

  it('leaves out a failed reason that repeats the error', () => {
    const lastError = {
      code: 'ERR_INVALID_TARGET',
      message: 'Invalid target: i-0123456789abcdef0 is not a managed node.',
      hint: 'Check the target instance id in the profile.',
      at: '2026-01-05T10:00:00.000Z',
    };
    const description = describeState({
      state: 'failed',
      // The daemon joins message and hint with ". ", doubling the message's full stop.
      reason: `${lastError.message}. ${lastError.hint}`,
      lastError,
    });
    expect(description.sentence).toBe('The daemon stopped retrying.');
  });

  it('says a connecting tunnel retries', () => {
    const lastError = {
      code: 'ERR_TARGET_NOT_CONNECTED',
      message: 'Target i-0aaaaaaaaaaaaaaa1 is not connected',
      at: '2026-01-05T10:00:00.000Z',
    };
    const description = describeState({
      state: 'connecting',
      reason: lastError.message,
      lastError,
    });
    expect(description.label).toBe('Connecting');
    expect(description.sentence).toBe(
      'Opening a Session Manager session again after a failed attempt.',
    );
    expect(description.sentence).not.toContain(lastError.message);
  });

  const notConnected = {
    code: 'ERR_TARGET_NOT_CONNECTED',
    message: 'Target i-0aaaaaaaaaaaaaaa1 is not connected.',
    at: '2026-01-05T10:00:00.000Z',
  };

  it('moves the next attempt out of the sentence', () => {
    const description = describeState({
      state: 'connecting',
      reason:
        'Target i-0aaaaaaaaaaaaaaa1 is not connected. Next attempt at 2026-01-05T10:00:55.200Z; ' +
        'connections are closed at once until a session opens.',
      lastError: notConnected,
    });
    expect(description.sentence).toBe(
      'Opening a Session Manager session again after a failed attempt. ' +
        'Connections are closed at once until a session opens.',
    );
  });

  it('keeps retrying now in the sentence', () => {
    const description = describeState({
      state: 'connecting',
      reason:
        'Target i-0aaaaaaaaaaaaaaa1 is not connected. Retrying now; connections are closed at ' +
        'once until a session opens.',
      lastError: notConnected,
    });
    expect(description.sentence).toBe(
      'Opening a Session Manager session again after a failed attempt. Retrying now. ' +
        'Connections are closed at once until a session opens.',
    );
  });

  it('keeps what an on-demand streak adds', () => {
    const lastError = { code: 'ERR_X', message: 'Access denied', at: '2026-01-05T10:00:00.000Z' };
    const description = describeState({
      state: 'listening',
      reason:
        'Access denied. The next connection schedules another attempt; connections are closed ' +
        'at once until a session opens.',
      lastError,
    });
    expect(description.sentence).toBe(
      'A session opens on the first connection. The next connection schedules ' +
        'another attempt. Connections are closed at once until a session opens.',
    );
  });

  it('leaves reconnecting to the badge on a failed resume', () => {
    const failure = classifyReconnectFailure(
      { attempt: 10, stage: 'resume', error: refused, nextDelayMs: 8000 },
      null,
      { endpoint: 'http://127.0.0.1:4566' },
      Date.parse('2026-01-05T10:00:00.000Z'),
    );
    const lastError = {
      code: failure.error.code,
      message: failure.error.message,
      at: '2026-01-05T10:00:00.000Z',
    };

    const description = describeState({
      state: 'reconnecting',
      reason: describeReconnectFailure(failure),
      lastError,
    });

    expect(description.sentence).not.toMatch(/reconnecting/i);
    expect(description.sentence).toContain('Resume attempt 10 failed at ResumeSession: ');
    expect(description.sentence).not.toContain('2026-01-05T');
    expect(description.sentence).not.toMatch(/next attempt/i);
    expect(description.sentence).toMatch(/\. New connections wait for the resume\.$/);
  });

  it('drops a next attempt time that ends the reason', () => {
    const description = describeState({
      state: 'reconnecting',
      reason:
        'Resume attempt 2 failed at websocket open: refused. Next attempt at 2026-01-05T10:00:55.200Z.',
    });

    expect(description.sentence).toBe(
      'The websocket dropped and the daemon is resuming the session. ' +
        'Resume attempt 2 failed at websocket open: refused.',
    );
  });

  it('keeps a reason that differs from the error', () => {
    const description = describeState({
      state: 'reconnecting',
      reason: 'websocket lost, resuming',
      lastError: { code: 'ERR_X', message: 'Access denied', at: '2026-01-05T10:00:00.000Z' },
    });
    expect(description.sentence).toContain('(websocket lost, resuming).');
  });

  it('ignores a blank reason', () => {
    const description = describeState({ state: 'open', reason: '  ' });
    expect(description.sentence).toBe('Connections are forwarded.');
  });

  it('names an unknown state instead of throwing', () => {
    const description = describeState({ state: 'melting' as TunnelState, reason: null });
    expect(description.label).toBe('melting');
    expect(description.sentence).toContain('Unknown state "melting"');
  });
});

describe('UNKNOWN_STATE', () => {
  it('claims no state', () => {
    expect(UNKNOWN_STATE.label).toBe('Unknown');
    expect(UNKNOWN_STATE.tone).toBe('unknown');
    expect(UNKNOWN_STATE.sentence).not.toMatch(/open|stopped|forwarded/i);
  });
});

describe('rowAction', () => {
  it.each(['stopped', 'failed'] as const)('starts a %s tunnel', (state) => {
    expect(rowAction(state)).toEqual({ action: 'start', label: 'Start' });
  });

  it.each(['listening', 'connecting', 'open', 'reconnecting', 'needs-login'] as const)(
    'restarts a %s tunnel',
    (state) => {
      expect(rowAction(state)).toEqual({ action: 'restart', label: 'Restart' });
    },
  );
});

describe('isTunnelActive', () => {
  it('is off only for stopped and failed', () => {
    const active = ALL_STATES.filter(isTunnelActive);
    expect(active).toEqual(['listening', 'connecting', 'open', 'reconnecting', 'needs-login']);
  });
});

describe('isErrorBeforeOpen', () => {
  const lastError = {
    code: 'ERR_SESSION_FAILED',
    message: 'StartSession failed',
    at: '2026-01-05T10:00:00.000Z',
  };

  it('is true for an error before opening', () => {
    const status = { state: 'open' as const, openSince: '2026-01-05T10:00:05.000Z', lastError };
    expect(isErrorBeforeOpen(status)).toBe(true);
  });

  it('is true while reconnecting', () => {
    const status = {
      state: 'reconnecting' as const,
      openSince: '2026-01-05T10:00:05.000Z',
      lastError,
    };
    expect(isErrorBeforeOpen(status)).toBe(true);
  });

  it('is false for an error while open', () => {
    const status = { state: 'open' as const, openSince: '2026-01-05T09:59:00.000Z', lastError };
    expect(isErrorBeforeOpen(status)).toBe(false);
  });

  it.each(['listening', 'connecting', 'failed', 'needs-login'] as const)(
    'is false while %s',
    (state) => {
      const status = { state, openSince: '2026-01-05T10:00:05.000Z', lastError };
      expect(isErrorBeforeOpen(status)).toBe(false);
    },
  );

  it('is false without an error or open time', () => {
    expect(isErrorBeforeOpen({ state: 'open', openSince: null, lastError })).toBe(false);
    expect(
      isErrorBeforeOpen({ state: 'open', openSince: '2026-01-05T10:00:05.000Z', lastError: null }),
    ).toBe(false);
  });
});
