// SessionPoolRetry on its own: the backoff timer, the fatal-or-retry decision and the
// credential poll while a login is needed. The pool and the tunnel are replaced by a host
// that records each call, because only their callbacks matter here.

import { afterEach, describe, expect, it } from 'vitest';
import type { Profile } from '../../daemon/config/types.js';
import { BastionlessError } from '../../daemon/errors.js';
import { DEFAULT_TIMINGS, type TunnelDeps } from '../../daemon/tunnel/options.js';
import { SessionPoolRetry } from '../../daemon/tunnel/session-pool-retry.js';
import type { SessionPoolHost } from '../../daemon/tunnel/session-pool.js';
import { captureLogger, makeProfile, waitFor, type CapturedLog } from './helpers.js';

const retries: SessionPoolRetry[] = [];

afterEach(() => {
  for (const retry of retries.splice(0)) {
    retry.clearTimers();
  }
});

interface RetryRig {
  retry: SessionPoolRetry;
  log: CapturedLog;
  /** Names of the host and pool callbacks, in call order. */
  calls: string[];
  lastErrors: BastionlessError[];
  fatal: BastionlessError[];
  reasons: string[];
  waiting: number;
  loginWaiting: boolean;
  generation: number;
  credentialChecks: number;
  /** Set to make the next credential checks reject, as while the login is still missing. */
  credentialsMissing: boolean;
  /** Set to hold every credential check until the promise settles. */
  credentialGate: Promise<void> | null;
}

function startRetry(
  profile: Partial<Profile> = {},
  options: { checkCredentials?: boolean } = {},
): RetryRig {
  const rig: RetryRig = {
    log: captureLogger(),
    calls: [],
    lastErrors: [],
    fatal: [],
    reasons: [],
    waiting: 0,
    loginWaiting: false,
    generation: 1,
    credentialChecks: 0,
    credentialsMissing: false,
    credentialGate: null,
  } as unknown as RetryRig;
  const host: SessionPoolHost = {
    isRunning: () => true,
    generation: () => rig.generation,
    localPort: () => 0,
    waitingCount: () => rig.waiting,
    flushWaiting: () => rig.calls.push('flushWaiting'),
    beginFailure: () => rig.calls.push('beginFailure'),
    endFailure: () => rig.calls.push('endFailure'),
    closeWaitingIfResumesStalled: () => rig.calls.push('closeWaitingIfResumesStalled'),
    isLoginWaiting: () => rig.loginWaiting,
    setLastError: (error) => rig.lastErrors.push(error),
    clearLastError: () => {},
    setReason: (reason) => rig.reasons.push(reason),
    refreshState: () => {},
    failFatal: (error) => rig.fatal.push(error),
    onDialFailed: () => {},
  };
  const deps = { logger: rig.log.logger } as TunnelDeps;
  if (options.checkCredentials ?? true) {
    deps.checkCredentials = async () => {
      rig.credentialChecks += 1;
      if (rig.credentialGate !== null) {
        await rig.credentialGate;
      }
      if (rig.credentialsMissing) {
        throw new Error('the SSO token is still expired');
      }
    };
  }
  rig.retry = new SessionPoolRetry({
    profile: makeProfile(profile),
    deps,
    timings: {
      ...DEFAULT_TIMINGS,
      backoffInitialMs: 40,
      backoffMaxMs: 160,
      loginPollIntervalMs: 30,
    },
    log: rig.log.logger,
    host,
    starts: {
      fillPool: () => rig.calls.push('fillPool'),
      fillForWaiting: () => rig.calls.push('fillForWaiting'),
    },
  });
  retries.push(rig.retry);
  return rig;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const timeout = () =>
  new BastionlessError('ERR_HANDSHAKE_TIMEOUT', 'session start timed out', { retryable: true });
const expired = () =>
  new BastionlessError('ERR_EXPIRED_CREDENTIALS', 'The SSO session expired', {
    hint: 'Run aws sso login.',
  });
const fatal = () => new BastionlessError('ERR_INVALID_TARGET', 'instance not found');

describe('SessionPoolRetry backoff', () => {
  it('fills the pool after the delay', async () => {
    const rig = startRetry({ mode: 'always-on' });

    rig.retry.schedule();

    expect(rig.retry.pending).toBe(true);
    expect(rig.calls).toEqual([]);

    await waitFor(() => !rig.retry.pending, 2_000, 'the retry');

    expect(rig.calls).toEqual(['fillPool']);
  });

  it('keeps one timer for repeated schedules', async () => {
    const rig = startRetry({ mode: 'always-on' });

    rig.retry.schedule();
    rig.retry.schedule();
    await waitFor(() => !rig.retry.pending, 2_000, 'the retry');
    await sleep(100);

    expect(rig.calls).toEqual(['fillPool']);
  });

  it('starts on demand only for waiting connections', async () => {
    const rig = startRetry({ mode: 'on-demand' });

    rig.retry.schedule();
    await waitFor(() => !rig.retry.pending, 2_000, 'the first retry');

    expect(rig.calls).toEqual([]);

    rig.waiting = 1;
    rig.retry.schedule();
    await waitFor(() => !rig.retry.pending, 2_000, 'the second retry');

    expect(rig.calls).toEqual(['fillForWaiting']);
  });

  it('grows the delay and resets it', async () => {
    const rig = startRetry({ mode: 'always-on' });
    const delays: number[] = [];
    const scheduleAndMeasure = async (): Promise<void> => {
      rig.retry.schedule();
      await waitFor(() => !rig.retry.pending, 2_000, 'the retry');
      const line = rig.log.lines.filter((entry) => entry.includes('retrying session start')).pop();
      delays.push((JSON.parse(line!) as { delayMs: number }).delayMs);
    };

    await scheduleAndMeasure();
    await scheduleAndMeasure();
    await scheduleAndMeasure();
    rig.retry.resetBackoff();
    await scheduleAndMeasure();

    // Backoff takes up to 30 % off each base delay of 40, 80 and 160 ms.
    expect(delays[0]).toBeGreaterThanOrEqual(28);
    expect(delays[0]).toBeLessThanOrEqual(40);
    expect(delays[1]).toBeGreaterThanOrEqual(56);
    expect(delays[1]).toBeLessThanOrEqual(80);
    expect(delays[2]).toBeGreaterThanOrEqual(112);
    expect(delays[2]).toBeLessThanOrEqual(160);
    expect(delays[3]).toBeLessThanOrEqual(40);
  });
});

describe('SessionPoolRetry failed starts', () => {
  it('retries a retryable error', async () => {
    const rig = startRetry({ mode: 'always-on' });
    const error = timeout();

    rig.retry.onStartFailed(error);

    expect(rig.retry.pending).toBe(true);
    expect(rig.lastErrors).toEqual([error]);
    expect(rig.reasons).toEqual(['session start timed out']);
    expect(rig.fatal).toEqual([]);

    await waitFor(() => rig.calls.includes('fillPool'), 2_000, 'the retry');
  });

  it('waits on demand without a waiting connection', () => {
    const rig = startRetry({ mode: 'on-demand' });

    rig.retry.onStartFailed(timeout());

    expect(rig.retry.pending).toBe(false);
    expect(rig.reasons).toEqual(['session start timed out']);
  });

  it('fails the tunnel on a fatal error', () => {
    const rig = startRetry({ mode: 'always-on' });
    const error = fatal();

    rig.retry.onStartFailed(error);

    expect(rig.fatal).toEqual([error]);
    expect(rig.retry.pending).toBe(false);
    expect(rig.lastErrors).toEqual([error]);
  });

  it('keeps the login request as the error', () => {
    const rig = startRetry({ mode: 'always-on' });
    rig.loginWaiting = true;

    rig.retry.onStartFailed(timeout());

    expect(rig.lastErrors).toEqual([]);
    expect(rig.retry.pending).toBe(true);
  });
});

const notConnected = () =>
  new BastionlessError('ERR_TARGET_NOT_CONNECTED', 'Target i-00000000000000bad is not connected', {
    retryable: true,
  });

describe('SessionPoolRetry failure streak', () => {
  it('begins a streak on a lasting error', () => {
    const rig = startRetry({ mode: 'on-demand' });
    const error = notConnected();

    rig.retry.onStartFailed(error);

    expect(rig.calls).toEqual(['beginFailure']);
    expect(rig.retry.lastingFailure).toBe(error);
    expect(rig.fatal).toEqual([]);
    // No connection waits, so only the next one closed at once schedules a retry.
    expect(rig.retry.pending).toBe(false);
  });

  it('keeps retrying always-on during a streak', async () => {
    const rig = startRetry({ mode: 'always-on' });

    rig.retry.onStartFailed(notConnected());

    expect(rig.retry.pending).toBe(true);
    expect(rig.retry.nextAttemptAtMs).not.toBeNull();

    await waitFor(() => rig.calls.includes('fillPool'), 2_000, 'the retry');

    expect(rig.retry.nextAttemptAtMs).toBeNull();
    expect(rig.retry.lastingFailure).not.toBeNull();
  });

  it('starts on demand after a fast close', async () => {
    const rig = startRetry({ mode: 'on-demand' });
    rig.retry.onStartFailed(notConnected());

    rig.retry.schedule();
    await waitFor(() => !rig.retry.pending, 2_000, 'the retry');

    expect(rig.calls).toEqual(['beginFailure', 'fillForWaiting']);
  });

  it('ends the streak on a transient error', () => {
    const rig = startRetry({ mode: 'always-on' });
    rig.retry.onStartFailed(notConnected());

    rig.retry.onStartFailed(timeout());

    expect(rig.calls).toEqual(['beginFailure', 'endFailure']);
    expect(rig.retry.lastingFailure).toBeNull();
  });

  it('ends the streak once a session starts', () => {
    const rig = startRetry({ mode: 'always-on' });
    rig.retry.onStartFailed(notConnected());

    rig.retry.onSessionStarted();

    expect(rig.calls).toEqual(['beginFailure', 'endFailure']);
    expect(rig.retry.lastingFailure).toBeNull();
  });

  it('begins no streak on a transient error', () => {
    const rig = startRetry({ mode: 'always-on' });

    rig.retry.onStartFailed(timeout());

    expect(rig.calls).toEqual([]);
    expect(rig.retry.lastingFailure).toBeNull();
  });
});

describe('SessionPoolRetry login', () => {
  it('restarts once the credentials load', async () => {
    const rig = startRetry({ mode: 'always-on' });
    rig.credentialsMissing = true;

    rig.retry.onStartFailed(expired());

    expect(rig.retry.loginNeeded).toBe('The SSO session expired. Run aws sso login.');
    expect(rig.calls).toEqual(['beginFailure']);

    await waitFor(() => rig.credentialChecks >= 2, 2_000, 'two credential checks');

    // The first backoff retry (at most 40 ms) has fired by the second check (60 ms).
    expect(rig.retry.loginNeeded).not.toBeNull();
    expect(rig.calls).toEqual(['beginFailure', 'fillPool']);

    rig.credentialsMissing = false;
    await waitFor(() => rig.retry.loginNeeded === null, 2_000, 'the login to clear');

    expect(rig.calls).toEqual(['beginFailure', 'fillPool', 'endFailure', 'fillPool']);
    expect(rig.retry.pending).toBe(false);
  });

  it('waits on demand for the next connection', async () => {
    const rig = startRetry({ mode: 'on-demand' });

    rig.retry.onStartFailed(expired());

    expect(rig.retry.pending).toBe(false);

    await waitFor(() => rig.retry.loginNeeded === null, 2_000, 'the login to clear');

    expect(rig.calls).toEqual(['beginFailure', 'endFailure']);
  });

  it('ignores a check from an earlier run', async () => {
    const rig = startRetry({ mode: 'always-on' });
    let release = (): void => {};
    rig.credentialGate = new Promise((resolve) => {
      release = resolve;
    });
    rig.retry.onStartFailed(expired());
    await waitFor(() => rig.credentialChecks === 1, 2_000, 'a pending credential check');

    // The check succeeds only after the tunnel stopped and started again. Later checks
    // never settle, so only the stale one can clear the login.
    rig.generation += 1;
    rig.credentialGate = new Promise(() => {});
    release();
    await sleep(100);

    expect(rig.retry.loginNeeded).not.toBeNull();
  });

  it('polls nothing without a credential check', async () => {
    const rig = startRetry({ mode: 'always-on' }, { checkCredentials: false });

    rig.retry.onStartFailed(expired());
    await sleep(100);

    expect(rig.retry.loginNeeded).not.toBeNull();
    expect(rig.credentialChecks).toBe(0);
  });

  it('clears the login after a started session', () => {
    const rig = startRetry({ mode: 'always-on' });
    rig.retry.onStartFailed(expired());

    rig.retry.onSessionStarted();

    expect(rig.retry.loginNeeded).toBeNull();
    expect(rig.log.lines.some((line) => line.includes('login no longer needed'))).toBe(true);
  });

  it('forgets the login on reset', () => {
    const rig = startRetry({ mode: 'always-on' });
    rig.retry.onStartFailed(expired());

    rig.retry.reset();

    expect(rig.retry.loginNeeded).toBeNull();
  });
});

const connectionRefused = () =>
  new BastionlessError('ERR_ENDPOINT_UNREACHABLE', 'Cannot reach http://127.0.0.1:1', {
    cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
    retryable: true,
  });

describe('SessionPoolRetry endpoint streak', () => {
  it('closes at once before any session opened', () => {
    const rig = startRetry({ mode: 'always-on' });

    rig.retry.onStartFailed(connectionRefused());

    expect(rig.calls).toEqual(['beginFailure']);
    expect(rig.retry.lastingFailure?.code).toBe('ERR_ENDPOINT_UNREACHABLE');
  });

  it('lets the first failure after a session wait', () => {
    const rig = startRetry({ mode: 'always-on' });
    rig.retry.onSessionStarted();

    rig.retry.onStartFailed(connectionRefused());

    expect(rig.calls).toEqual([]);
    expect(rig.retry.lastingFailure).toBeNull();
  });

  it('closes at once from the second failure', () => {
    const rig = startRetry({ mode: 'always-on' });
    rig.retry.onSessionStarted();

    rig.retry.onStartFailed(connectionRefused());
    rig.retry.onStartFailed(connectionRefused());

    expect(rig.calls).toEqual(['beginFailure']);
    expect(rig.retry.lastingFailure?.code).toBe('ERR_ENDPOINT_UNREACHABLE');
  });

  it('counts a new streak after another error', () => {
    const rig = startRetry({ mode: 'always-on' });
    rig.retry.onSessionStarted();

    rig.retry.onStartFailed(connectionRefused());
    rig.retry.onStartFailed(timeout());
    rig.retry.onStartFailed(connectionRefused());

    expect(rig.calls).toEqual([]);
  });

  it('forgets the opened session on reset', () => {
    const rig = startRetry({ mode: 'always-on' });
    rig.retry.onSessionStarted();
    rig.retry.reset();

    rig.retry.onStartFailed(connectionRefused());

    expect(rig.calls).toEqual(['beginFailure']);
  });
});
