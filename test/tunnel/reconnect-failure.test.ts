// Classification, status reason and rate-limited logging of failed reconnect attempts.

import { describe, expect, it } from 'vitest';
import type { ReconnectAttemptFailure } from '../../daemon/datachannel/reconnect.js';
import { DataChannelError } from '../../daemon/datachannel/errors.js';
import {
  classifyReconnectFailure,
  describeReconnectFailure,
  describeResume,
  latestReconnectFailure,
  nextResumeAttemptAtMs,
  ReconnectFailureLog,
  RECONNECTING_REASON,
  RESUME_FAST_CLOSE_NOTICE,
  resetsOpenConnections,
  type ReconnectFailure,
} from '../../daemon/tunnel/reconnect-failure.js';
import { captureLogger } from './helpers.js';

const ENDPOINT = 'http://127.0.0.1:4566';
const NOW_MS = Date.parse('2025-01-01T00:00:00.000Z');

function systemError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:4566`), { code });
}

function awsError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name });
}

function report(error: unknown, overrides: Partial<ReconnectAttemptFailure> = {}) {
  return { attempt: 1, stage: 'resume', error, nextDelayMs: 400, ...overrides } as const;
}

function classifyRun(errors: unknown[]): ReconnectFailure[] {
  const failures: ReconnectFailure[] = [];
  for (const [index, error] of errors.entries()) {
    const previous = failures.at(-1) ?? null;
    const failure = classifyReconnectFailure(
      report(error, { attempt: index + 1 }),
      previous,
      { endpoint: ENDPOINT },
      NOW_MS,
    );
    failures.push(failure);
  }
  return failures;
}

describe('classifyReconnectFailure', () => {
  it('names the refused endpoint', () => {
    const [failure] = classifyRun([systemError('ECONNREFUSED')]);

    expect(failure!.error.code).toBe('ERR_ENDPOINT_UNREACHABLE');
    expect(failure!.error.message).toContain(ENDPOINT);
    expect(failure!.error.message).toContain('ECONNREFUSED');
    expect(failure!.nextAttemptAtMs).toBe(NOW_MS + 400);
    expect(failure!.failedAtMs).toBe(NOW_MS);
  });

  it('counts a first refusal as transient', () => {
    const failures = classifyRun([
      systemError('ECONNREFUSED'),
      systemError('ECONNREFUSED'),
      systemError('ECONNREFUSED'),
    ]);

    expect(failures.map((failure) => failure.lasting)).toEqual([false, true, true]);
    expect(failures.map((failure) => failure.endpointFailures)).toEqual([1, 2, 3]);
  });

  it('restarts the count after another error', () => {
    const failures = classifyRun([
      systemError('ECONNREFUSED'),
      awsError('ThrottlingException', 'Rate exceeded'),
      systemError('ECONNREFUSED'),
    ]);

    expect(failures.map((failure) => failure.error.code)).toEqual([
      'ERR_ENDPOINT_UNREACHABLE',
      'ERR_AWS_UNAVAILABLE',
      'ERR_ENDPOINT_UNREACHABLE',
    ]);
    expect(failures.map((failure) => failure.lasting)).toEqual([false, false, false]);
  });

  it('counts an unresolvable host as lasting', () => {
    const [failure] = classifyRun([systemError('ENOTFOUND')]);

    expect(failure!.error.code).toBe('ERR_ENDPOINT_UNREACHABLE');
    expect(failure!.lasting).toBe(true);
  });

  it.each([
    ['AccessDeniedException', 'ERR_ACCESS_DENIED', true],
    ['ExpiredTokenException', 'ERR_EXPIRED_CREDENTIALS', true],
    ['UnrecognizedClientException', 'ERR_INVALID_CREDENTIALS', true],
    ['InternalServerError', 'ERR_AWS_UNAVAILABLE', false],
    ['DoesNotExistException', 'ERR_SESSION_NOT_FOUND', false],
  ])('classifies %s', (name, code, lasting) => {
    const [failure] = classifyRun([awsError(name, 'request failed')]);

    expect(failure!.error.code).toBe(code);
    expect(failure!.lasting).toBe(lasting);
  });

  it('looks through a failed websocket open', () => {
    const error = new DataChannelError(
      'ERR_CONNECT_FAILED',
      'websocket connection to the stream URL failed: connect ECONNREFUSED 127.0.0.1:4566',
      { cause: systemError('ECONNREFUSED') },
    );
    const failure = classifyReconnectFailure(
      report(error, { stage: 'connect' }),
      null,
      { endpoint: 'the Session Manager websocket endpoint' },
      NOW_MS,
    );

    expect(failure.error.code).toBe('ERR_ENDPOINT_UNREACHABLE');
    expect(failure.stage).toBe('connect');
  });

  it('keeps no next attempt for a final error', () => {
    const failure = classifyReconnectFailure(
      report(awsError('DoesNotExistException', 'Session s-1 does not exist.'), {
        nextDelayMs: null,
      }),
      null,
      {},
      NOW_MS,
    );

    expect(failure.nextAttemptAtMs).toBeNull();
  });
});

describe('resetsOpenConnections', () => {
  it('resets after access denied', () => {
    const [failure] = classifyRun([awsError('AccessDeniedException', 'not authorized')]);

    expect(failure!.lasting).toBe(true);
    expect(resetsOpenConnections(failure!)).toBe(true);
  });

  it('resets after expired credentials', () => {
    const [failure] = classifyRun([awsError('ExpiredTokenException', 'token expired')]);

    expect(resetsOpenConnections(failure!)).toBe(true);
  });

  it('keeps connections through refusals', () => {
    const failures = classifyRun([systemError('ECONNREFUSED'), systemError('ECONNREFUSED')]);

    expect(failures[1]!.lasting).toBe(true);
    expect(resetsOpenConnections(failures[0]!)).toBe(false);
    expect(resetsOpenConnections(failures[1]!)).toBe(false);
  });

  it('keeps connections through throttling', () => {
    const [failure] = classifyRun([awsError('ThrottlingException', 'rate exceeded')]);

    expect(resetsOpenConnections(failure!)).toBe(false);
  });

  it('carries the reset count to later failures', () => {
    const [first] = classifyRun([awsError('AccessDeniedException', 'not authorized')]);
    first!.resetConnections = 2;
    const second = classifyReconnectFailure(
      report(awsError('AccessDeniedException', 'not authorized'), { attempt: 2 }),
      first!,
      { endpoint: ENDPOINT },
      NOW_MS,
    );

    expect(second.resetConnections).toBe(2);
    expect(describeReconnectFailure(second)).toContain('2 open connections were reset');
  });
});

describe('describeReconnectFailure', () => {
  it('says resuming before any failure', () => {
    expect(describeReconnectFailure(null)).toBe(RECONNECTING_REASON);
  });

  it('gives cause, next attempt and fast close', () => {
    const [, failure] = classifyRun([systemError('ECONNREFUSED'), systemError('ECONNREFUSED')]);
    const reason = describeReconnectFailure(failure!);

    expect(reason).toMatch(/^Resume attempt 2 failed at ResumeSession: Cannot reach /);
    expect(reason).toContain('ECONNREFUSED');
    expect(reason).toContain(`Next attempt at ${new Date(NOW_MS + 400).toISOString()}`);
    expect(reason).toContain(RESUME_FAST_CLOSE_NOTICE);
  });

  it('leaves the state word to the state', () => {
    const [failure] = classifyRun([systemError('ECONNREFUSED')]);

    expect(describeReconnectFailure(failure!)).not.toMatch(/reconnecting/i);
    expect(describeReconnectFailure(failure!, true)).not.toMatch(/reconnecting/i);
  });

  it('lets connections wait after a transient error', () => {
    const [failure] = classifyRun([systemError('ECONNREFUSED')]);
    const reason = describeReconnectFailure(failure!);

    expect(reason).toContain('new connections wait for the resume');
    expect(reason).not.toContain(RESUME_FAST_CLOSE_NOTICE);
  });

  it('names a failed websocket open', () => {
    const failure = classifyReconnectFailure(
      report(new Error('Unexpected server response: 403'), { stage: 'connect', attempt: 4 }),
      null,
      {},
      NOW_MS,
    );

    expect(describeReconnectFailure(failure)).toMatch(/^Resume attempt 4 failed at websocket open/);
  });
});

describe('latest and next resume attempt', () => {
  const older = { ...classifyRun([systemError('ECONNREFUSED')])[0]!, nextAttemptAtMs: 5_000 };
  const newer = {
    ...older,
    failedAtMs: older.failedAtMs + 10,
    attempt: 7,
    nextAttemptAtMs: 3_000,
  };

  it('picks the newest failure of resuming sessions', () => {
    const sessions = [
      { reconnecting: true, reconnectFailure: older, resumeAttemptRunning: false },
      { reconnecting: true, reconnectFailure: newer, resumeAttemptRunning: false },
      {
        reconnecting: false,
        reconnectFailure: { ...newer, failedAtMs: newer.failedAtMs + 1 },
        resumeAttemptRunning: false,
      },
    ];

    expect(latestReconnectFailure(sessions)).toBe(newer);
    expect(nextResumeAttemptAtMs(sessions)).toBe(3_000);
  });

  it('returns null without failures', () => {
    const sessions = [{ reconnecting: true, reconnectFailure: null, resumeAttemptRunning: false }];

    expect(latestReconnectFailure(sessions)).toBeNull();
    expect(nextResumeAttemptAtMs(sessions)).toBeNull();
    expect(describeResume(sessions)).toBe(RECONNECTING_REASON);
  });

  it('skips a session whose attempt runs', () => {
    const sessions = [
      { reconnecting: true, reconnectFailure: older, resumeAttemptRunning: false },
      { reconnecting: true, reconnectFailure: newer, resumeAttemptRunning: true },
    ];

    expect(nextResumeAttemptAtMs(sessions)).toBe(5_000);
    expect(latestReconnectFailure(sessions)).toBe(newer);
  });

  it('returns null while every attempt runs', () => {
    const sessions = [{ reconnecting: true, reconnectFailure: newer, resumeAttemptRunning: true }];

    expect(nextResumeAttemptAtMs(sessions)).toBeNull();
  });

  it('says retrying while the attempt runs', () => {
    const sessions = [{ reconnecting: true, reconnectFailure: newer, resumeAttemptRunning: true }];
    const reason = describeResume(sessions);

    expect(reason).toMatch(/^Resume attempt 7 failed at ResumeSession: /);
    expect(reason).toContain('Retrying now;');
    expect(reason).not.toContain('Next attempt at');
  });
});

describe('ReconnectFailureLog', () => {
  it('logs one line per interval with a count', () => {
    const { logger, lines } = captureLogger();
    let nowMs = NOW_MS;
    const log = new ReconnectFailureLog(logger, () => nowMs, 30_000);
    const failures = classifyRun(Array.from({ length: 8 }, () => systemError('ECONNREFUSED')));

    // Attempts at 0 s, 5 s, …, 35 s: lines at 0 s and 30 s.
    for (const failure of failures) {
      log.record('s-1', failure);
      nowMs += 5_000;
    }
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);

    expect(parsed).toHaveLength(2);
    expect(parsed.map((line) => line.msg)).toEqual([
      'reconnect attempt failed',
      'reconnect attempt failed',
    ]);
    expect(parsed.map((line) => line.failedAttemptsSinceLastLine)).toEqual([1, 6]);
    expect(parsed.map((line) => line.attempt)).toEqual([1, 7]);
    expect(parsed[0]!.level).toBe(40);
    expect(parsed[0]!.code).toBe('ERR_ENDPOINT_UNREACHABLE');
    expect(parsed[0]!.err).toContain('ECONNREFUSED');
    expect(parsed[0]!.error).toBeUndefined();
    expect(parsed[0]!.sessionId).toBe('s-1');
    expect(parsed[1]!.lasting).toBe(true);
  });

  it('counts unlogged attempts when the session ends', () => {
    const { logger, lines } = captureLogger();
    let nowMs = NOW_MS;
    const log = new ReconnectFailureLog(logger, () => nowMs, 30_000);
    const failures = classifyRun(Array.from({ length: 5 }, () => systemError('ECONNREFUSED')));

    // A 23 s outage: attempts at 0 s, 5 s, …, 20 s fit in one interval.
    for (const failure of failures) {
      log.record('s-1', failure);
      nowMs += 5_000;
    }
    log.finish('s-1', 'session ended');
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);

    expect(parsed).toHaveLength(2);
    expect(parsed[1]!.msg).toBe('reconnect ended after failed attempts not logged yet');
    expect(parsed[1]!.outcome).toBe('session ended');
    expect(parsed[1]!.failedAttemptsSinceLastLine).toBe(4);
    expect(parsed[1]!.attempt).toBe(5);
    expect(parsed[1]!.code).toBe('ERR_ENDPOINT_UNREACHABLE');
    expect(parsed[1]!.sessionId).toBe('s-1');
    expect(parsed[1]!.level).toBe(40);
  });

  it('logs the rest once on resume', () => {
    const { logger, lines } = captureLogger();
    const log = new ReconnectFailureLog(logger, () => NOW_MS, 30_000);
    const failures = classifyRun([systemError('ECONNREFUSED'), systemError('ECONNREFUSED')]);

    log.record('s-1', failures[0]!);
    log.record('s-1', failures[1]!);
    log.finish('s-1', 'resumed');
    log.finish('s-1', 'session ended');
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);

    expect(parsed).toHaveLength(2);
    expect(parsed[1]!.outcome).toBe('resumed');
    expect(parsed[1]!.failedAttemptsSinceLastLine).toBe(1);
  });

  it('logs nothing at the end when all were logged', () => {
    const { logger, lines } = captureLogger();
    const log = new ReconnectFailureLog(logger, () => NOW_MS, 30_000);
    const [failure] = classifyRun([systemError('ECONNREFUSED')]);

    log.record('s-1', failure!);
    log.finish('s-1', 'resumed');
    log.finish('s-2', 'session ended');

    expect(lines).toHaveLength(1);
  });

  it('counts each session apart', () => {
    const { logger, lines } = captureLogger();
    let nowMs = NOW_MS;
    const log = new ReconnectFailureLog(logger, () => nowMs, 30_000);
    const failures = classifyRun(Array.from({ length: 4 }, () => systemError('ECONNREFUSED')));

    log.record('s-1', failures[0]!);
    log.record('s-2', failures[0]!);
    log.record('s-2', failures[1]!);
    nowMs += 30_000;
    log.record('s-1', failures[1]!);
    log.finish('s-2', 'session ended');
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);

    expect(parsed).toHaveLength(3);
    expect(parsed[1]!.sessionId).toBe('s-1');
    expect(parsed[1]!.failedAttemptsSinceLastLine).toBe(1);
    expect(parsed[2]!.sessionId).toBe('s-2');
    expect(parsed[2]!.failedAttemptsSinceLastLine).toBe(2);
  });

  it('logs no token of the error', () => {
    const { logger, lines } = captureLogger();
    const log = new ReconnectFailureLog(logger, () => NOW_MS);
    const error = Object.assign(awsError('InternalServerError', 'request failed'), {
      TokenValue: 'secret-token-value',
      $response: { body: 'TokenValue=secret-token-value' },
    });
    const [failure] = classifyRun([error]);

    log.record('s-1', failure!);

    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('secret-token-value');
  });
});
