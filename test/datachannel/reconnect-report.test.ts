// Per-attempt reporting of the reconnect loop: every failed attempt reaches onAttemptFailed
// with its number, the failed step, the error and the delay before the next attempt.

import { describe, expect, it } from 'vitest';
import { reconnect, type ReconnectAttemptFailure } from '../../daemon/datachannel/reconnect.js';

const fast = { initialDelayMs: 1, maxDelayMs: 4, reconnectForMs: 5_000 };

function connectionRefusedError(): Error {
  return Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
}

describe('reconnect attempt reports', () => {
  it('reports each failed resume', async () => {
    const reports: ReconnectAttemptFailure[] = [];
    let resumes = 0;
    const outcome = await reconnect(
      {
        ...fast,
        signal: new AbortController().signal,
        resume: async () => {
          resumes += 1;
          if (resumes <= 3) {
            throw connectionRefusedError();
          }
          return { tokenValue: 'token' };
        },
        onAttemptFailed: (failure) => reports.push(failure),
      },
      async (token) => token,
      new Error('lost'),
    );

    expect(outcome).toEqual({ kind: 'connected', connection: 'token' });
    expect(reports.map((report) => report.attempt)).toEqual([1, 2, 3]);
    expect(reports.every((report) => report.stage === 'resume')).toBe(true);
    expect((reports[0]!.error as Error).message).toContain('ECONNREFUSED');
    for (const report of reports) {
      expect(report.nextDelayMs).toBeGreaterThan(0);
      expect(report.nextDelayMs).toBeLessThanOrEqual(fast.maxDelayMs);
    }
  });

  it('reports the delay the loop waits', async () => {
    const reports: { failure: ReconnectAttemptFailure; atMs: number }[] = [];
    let resumeAtMs = 0;
    const waits: number[] = [];
    await reconnect(
      {
        initialDelayMs: 40,
        maxDelayMs: 80,
        reconnectForMs: 5_000,
        signal: new AbortController().signal,
        resume: async () => {
          resumeAtMs = Date.now();
          const last = reports.at(-1);
          if (last) {
            waits.push(resumeAtMs - last.atMs);
          }
          if (reports.length < 2) {
            throw connectionRefusedError();
          }
          return { tokenValue: 'token' };
        },
        onAttemptFailed: (failure) => reports.push({ failure, atMs: Date.now() }),
      },
      async (token) => token,
      new Error('lost'),
    );

    expect(waits).toHaveLength(2);
    for (const [index, wait] of waits.entries()) {
      const announced = reports[index]!.failure.nextDelayMs!;
      // Timers fire no earlier than their delay, and a busy machine may add some.
      expect(wait).toBeGreaterThanOrEqual(announced - 2);
      expect(wait).toBeLessThan(announced + 500);
    }
  });

  it('reports a failed websocket open', async () => {
    const reports: ReconnectAttemptFailure[] = [];
    let connects = 0;
    await reconnect(
      {
        ...fast,
        signal: new AbortController().signal,
        resume: async () => ({ tokenValue: 'token' }),
        onAttemptFailed: (failure) => reports.push(failure),
      },
      async (token) => {
        connects += 1;
        if (connects === 1) {
          throw new Error('websocket connection to the stream URL failed');
        }
        return token;
      },
      new Error('lost'),
    );

    expect(reports).toHaveLength(1);
    expect(reports[0]!.stage).toBe('connect');
    expect(reports[0]!.attempt).toBe(1);
  });

  it('reports a final resume error without next delay', async () => {
    const reports: ReconnectAttemptFailure[] = [];
    const sessionNotFound = Object.assign(new Error('Session s-1 does not exist.'), {
      name: 'DoesNotExistException',
      retryable: false,
    });
    const outcome = await reconnect(
      {
        ...fast,
        signal: new AbortController().signal,
        resume: async () => {
          throw sessionNotFound;
        },
        onAttemptFailed: (failure) => reports.push(failure),
      },
      async () => 'never',
      new Error('lost'),
    );

    expect(outcome.kind).toBe('ended');
    expect(reports).toEqual([
      { attempt: 1, stage: 'resume', error: sessionNotFound, nextDelayMs: null },
    ]);
  });

  it('reports the last attempt before the time runs out', async () => {
    const reports: ReconnectAttemptFailure[] = [];
    const outcome = await reconnect(
      {
        initialDelayMs: 20,
        maxDelayMs: 20,
        reconnectForMs: 50,
        signal: new AbortController().signal,
        resume: async () => {
          throw connectionRefusedError();
        },
        onAttemptFailed: (failure) => reports.push(failure),
      },
      async () => 'never',
      new Error('lost'),
    );

    expect(outcome.kind).toBe('ended');
    expect(reports.length).toBeGreaterThanOrEqual(1);
    expect(reports.at(-1)!.nextDelayMs).toBeNull();
    expect(reports.slice(0, -1).every((report) => report.nextDelayMs !== null)).toBe(true);
  });

  it('reports nothing after an abort', async () => {
    const controller = new AbortController();
    const reports: ReconnectAttemptFailure[] = [];
    const outcome = await reconnect(
      {
        ...fast,
        signal: controller.signal,
        resume: async () => {
          controller.abort();
          throw connectionRefusedError();
        },
        onAttemptFailed: (failure) => reports.push(failure),
      },
      async () => 'never',
      new Error('lost'),
    );

    expect(outcome.kind).toBe('aborted');
    expect(reports).toEqual([]);
  });

  it('announces each attempt before it runs', async () => {
    const events: string[] = [];
    let resumes = 0;
    await reconnect(
      {
        ...fast,
        signal: new AbortController().signal,
        resume: async () => {
          resumes += 1;
          events.push(`resume ${resumes}`);
          if (resumes <= 2) {
            throw connectionRefusedError();
          }
          return { tokenValue: 'token' };
        },
        onAttemptStarted: (attempt) => events.push(`start ${attempt}`),
        onAttemptFailed: (failure) => events.push(`failed ${failure.attempt}`),
      },
      async (token) => token,
      new Error('lost'),
    );

    expect(events).toEqual([
      'start 1',
      'resume 1',
      'failed 1',
      'start 2',
      'resume 2',
      'failed 2',
      'start 3',
      'resume 3',
    ]);
  });

  it('announces no attempt after an abort', async () => {
    const controller = new AbortController();
    const started: number[] = [];
    const pending = reconnect(
      {
        initialDelayMs: 200,
        maxDelayMs: 200,
        reconnectForMs: 5_000,
        signal: controller.signal,
        resume: async () => ({ tokenValue: 'token' }),
        onAttemptStarted: (attempt) => started.push(attempt),
      },
      async (token) => token,
      new Error('lost'),
    );
    controller.abort();
    const outcome = await pending;

    expect(outcome.kind).toBe('aborted');
    expect(started).toEqual([]);
  });

  it('skips connect when aborted during resume', async () => {
    const controller = new AbortController();
    let connects = 0;
    const outcome = await reconnect(
      {
        ...fast,
        signal: controller.signal,
        resume: async () => {
          controller.abort();
          return { tokenValue: 'token' };
        },
      },
      async () => {
        connects += 1;
        return 'connected';
      },
      new Error('lost'),
    );

    expect(outcome.kind).toBe('aborted');
    expect(connects).toBe(0);
  });
});
