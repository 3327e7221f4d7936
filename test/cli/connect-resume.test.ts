// Units behind connect's recovery: the final attempt line, the fast-close verdict while the
// resume fails, and the replacement session start with its retries.

import { afterEach, describe, expect, it } from 'vitest';
import {
  ReconnectReporter,
  ResumeFailureTracker,
  followReconnects,
  withoutFinalPeriod,
} from '../../daemon/cli/connect-reconnect.js';
import { startReplacementSession, type RestartPlan } from '../../daemon/cli/connect-restart.js';
import { DataChannel } from '../../daemon/datachannel/datachannel.js';
import { BastionlessError } from '../../daemon/errors.js';
import type { PortForwardSession } from '../../daemon/portforward/types.js';
import { RESUME_FAST_CLOSE_NOTICE } from '../../daemon/tunnel/reconnect-failure.js';
import { AgentPeer, waitFor } from '../datachannel/agent-peer.js';

const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  while (cleanups.length > 0) {
    await cleanups.pop()!();
  }
});

const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4579'), {
  code: 'ECONNREFUSED',
});

/** Builds the SDK's error for a ResumeSession call on a session the service does not have. */
function sessionGone(): Error {
  const error = new Error('Session s-1 does not exist.');
  error.name = 'DoesNotExistException';
  return Object.assign(error, { retryable: false });
}

describe('withoutFinalPeriod', () => {
  it('strips one or more closing periods', () => {
    expect(withoutFinalPeriod('Session s-1 does not exist.')).toBe('Session s-1 does not exist');
    expect(withoutFinalPeriod('wait...')).toBe('wait');
  });

  it('keeps text without a closing period', () => {
    expect(withoutFinalPeriod('version 3.1 failed')).toBe('version 3.1 failed');
  });
});

describe('ReconnectReporter final attempt', () => {
  it('prints no doubled punctuation', () => {
    const lines: string[] = [];
    const reporter = new ReconnectReporter({ print: (line) => lines.push(line) });
    reporter.lost(new Error('lost'));
    reporter.attemptFailed(sessionGone(), { stage: 'resume', nextDelayMs: null });
    reporter.stop();

    expect(lines[1]).toBe(
      'reconnect attempt 1 failed (ResumeSession): DoesNotExistException: Session s-1 does ' +
        'not exist; no further attempt',
    );
  });

  it('prints the final attempt inside the interval', () => {
    const lines: string[] = [];
    const clock = { now: 0 };
    const reporter = new ReconnectReporter({
      print: (line) => lines.push(line),
      now: () => clock.now,
      reportIntervalMs: 30_000,
    });
    reporter.lost(new Error('lost'));
    reporter.attemptFailed(refused, { stage: 'resume', nextDelayMs: 400 });
    clock.now += 1_000;
    reporter.attemptFailed(refused, { stage: 'resume', nextDelayMs: 800 });
    clock.now += 1_000;
    reporter.attemptFailed(sessionGone(), { stage: 'resume', nextDelayMs: null });
    reporter.stop();

    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatch(/^reconnect attempt 3 failed \(ResumeSession\): /);
    expect(lines[2]).toContain('no further attempt (1 earlier failures not shown)');
  });

  it('reports a final resume error without delay', async () => {
    const peer = new AgentPeer();
    await peer.start();
    cleanups.push(() => peer.stop());
    let resumes = 0;
    const channel = new DataChannel({
      streamUrl: peer.url,
      tokenValue: 'start-token',
      sessionId: 's-1',
      reconnectInitialDelayMs: 20,
      reconnectMaxDelayMs: 40,
      resume: async () => {
        resumes += 1;
        throw resumes === 1 ? refused : sessionGone();
      },
    });
    cleanups.push(() => channel.close());
    await channel.open();
    const lines: string[] = [];
    const reporter = new ReconnectReporter({
      print: (line) => lines.push(line),
      reportIntervalMs: 60_000,
    });
    cleanups.push(() => reporter.stop());
    cleanups.push(followReconnects(channel, reporter));

    await peer.stop();
    await waitFor(() => lines.length >= 3, 5_000, 'the final attempt line');

    expect(lines[1]).toMatch(/^reconnect attempt 1 failed .*; next attempt in \d+\.\d s$/);
    expect(lines[2]).toBe(
      'reconnect attempt 2 failed (ResumeSession): DoesNotExistException: Session s-1 does ' +
        'not exist; no further attempt',
    );
  });
});

describe('ResumeFailureTracker', () => {
  function tracker(): { tracker: ResumeFailureTracker; lines: string[] } {
    const lines: string[] = [];
    const created = new ResumeFailureTracker({
      context: { endpoint: 'http://127.0.0.1:4579', settings: 'flags' },
      print: (line) => lines.push(line),
    });
    return { tracker: created, lines };
  }

  it('turns lasting on the second refusal', () => {
    const { tracker: failures, lines } = tracker();

    expect(failures.record({ attempt: 1, stage: 'resume', error: refused, nextDelayMs: 400 })).toBe(
      false,
    );
    expect(failures.closesNewConnections).toBe(false);
    expect(failures.record({ attempt: 2, stage: 'resume', error: refused, nextDelayMs: 800 })).toBe(
      true,
    );
    expect(failures.closesNewConnections).toBe(true);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^ERR_ENDPOINT_UNREACHABLE: /);
    expect(lines[0]).toContain(`; ${RESUME_FAST_CLOSE_NOTICE}`);
  });

  it('prints the turn back to waiting', () => {
    const { tracker: failures, lines } = tracker();
    failures.record({ attempt: 1, stage: 'resume', error: refused, nextDelayMs: 400 });
    failures.record({ attempt: 2, stage: 'resume', error: refused, nextDelayMs: 800 });
    const timeout = Object.assign(new Error('Connection timed out'), { name: 'TimeoutError' });
    failures.record({ attempt: 3, stage: 'connect', error: timeout, nextDelayMs: 1_600 });

    expect(failures.closesNewConnections).toBe(false);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('new connections wait again');
  });

  it('stays quiet when the session ends', () => {
    const { tracker: failures, lines } = tracker();
    failures.record({ attempt: 1, stage: 'resume', error: refused, nextDelayMs: 400 });
    failures.record({ attempt: 2, stage: 'resume', error: refused, nextDelayMs: 800 });
    failures.record({ attempt: 3, stage: 'resume', error: sessionGone(), nextDelayMs: null });

    expect(failures.closesNewConnections).toBe(false);
    expect(lines).toHaveLength(1);
  });

  it('forgets failures on reset', () => {
    const { tracker: failures } = tracker();
    failures.record({ attempt: 1, stage: 'resume', error: refused, nextDelayMs: 400 });
    failures.reset();
    failures.record({ attempt: 1, stage: 'resume', error: refused, nextDelayMs: 400 });

    expect(failures.closesNewConnections).toBe(false);
  });
});

describe('startReplacementSession', () => {
  const session = { sessionId: 's-2' } as PortForwardSession;

  function plan(starts: Array<Error | PortForwardSession>, extra: Partial<RestartPlan> = {}) {
    const lines: string[] = [];
    const verdicts: boolean[] = [];
    let calls = 0;
    const built: RestartPlan = {
      start: async () => {
        const next = starts[Math.min(calls, starts.length - 1)]!;
        calls += 1;
        if (next instanceof Error) {
          throw next;
        }
        return next;
      },
      signal: new AbortController().signal,
      context: { endpoint: 'http://127.0.0.1:4579', settings: 'flags' },
      print: (line) => lines.push(line),
      onVerdict: (close) => verdicts.push(close),
      backoff: { initialDelayMs: 10, maxDelayMs: 20 },
      ...extra,
    };
    return { plan: built, lines, verdicts, calls: () => calls };
  }

  it('returns a lasting error at once', async () => {
    const offline = new Error('i-1 is not connected.');
    offline.name = 'TargetNotConnected';
    const run = plan([offline]);

    const outcome = await startReplacementSession(run.plan);

    expect(outcome.kind).toBe('failed');
    const error = outcome.kind === 'failed' ? outcome.error : null;
    expect(error?.code).toBe('ERR_TARGET_NOT_CONNECTED');
    expect(run.calls()).toBe(1);
    expect(run.lines).toEqual([]);
  });

  it('retries transient errors until started', async () => {
    const run = plan([refused, refused, session]);

    const outcome = await startReplacementSession(run.plan);

    expect(outcome).toEqual({ kind: 'started', session });
    expect(run.calls()).toBe(3);
    expect(run.verdicts).toEqual([false, true]);
    expect(run.lines).toHaveLength(2);
    expect(run.lines[0]).toMatch(
      /^new session start 1 failed: ERR_ENDPOINT_UNREACHABLE: .*; next attempt in \d+\.\d s$/,
    );
  });

  it('gives up after restartForMs', async () => {
    const unavailable = new BastionlessError('ERR_AWS_UNAVAILABLE', 'AWS request failed', {
      retryable: true,
    });
    const run = plan([unavailable], { restartForMs: 60 });

    const outcome = await startReplacementSession(run.plan);

    expect(outcome.kind).toBe('failed');
    const error = outcome.kind === 'failed' ? outcome.error : null;
    expect(error?.code).toBe('ERR_AWS_UNAVAILABLE');
    expect(run.calls()).toBeGreaterThan(1);
  });

  it('stops when the signal aborts', async () => {
    const controller = new AbortController();
    const run = plan([refused], {
      signal: controller.signal,
      backoff: { initialDelayMs: 10_000, maxDelayMs: 10_000 },
    });

    const pending = startReplacementSession(run.plan);
    await waitFor(() => run.lines.length === 1, 2_000, 'the first failure');
    controller.abort();

    expect(await pending).toEqual({ kind: 'aborted' });
  });
});
