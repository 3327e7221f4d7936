import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ReconnectReporter,
  describeAttemptError,
  followReconnects,
} from '../../daemon/cli/connect-reconnect.js';
import { DataChannel } from '../../daemon/datachannel/datachannel.js';
import { AgentPeer, waitFor } from '../datachannel/agent-peer.js';

const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  while (cleanups.length > 0) {
    await cleanups.pop()!();
  }
});

function reporterWithClock(): {
  reporter: ReconnectReporter;
  lines: string[];
  clock: { now: number };
} {
  const lines: string[] = [];
  const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
  const reporter = new ReconnectReporter({
    print: (line) => lines.push(line),
    now: () => clock.now,
    reconnectForMs: 15 * 60_000,
    reportIntervalMs: 30_000,
  });
  return { reporter, lines, clock };
}

const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4579'), {
  code: 'ECONNREFUSED',
});

describe('ReconnectReporter', () => {
  it('prints the loss with the give-up time', () => {
    const { reporter, lines } = reporterWithClock();
    reporter.lost(new Error('websocket closed with code 1006'));
    reporter.stop();

    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('websocket lost (websocket closed with code 1006)');
    expect(lines[0]).toContain('giving up at 2026-01-01T00:15:00.000Z');
  });

  it('rate-limits failed attempts', () => {
    const { reporter, lines, clock } = reporterWithClock();
    reporter.lost(new Error('lost'));
    reporter.attemptFailed(refused, { stage: 'resume', nextDelayMs: 400 });
    clock.now += 1000;
    reporter.attemptFailed(refused, { stage: 'resume', nextDelayMs: 400 });
    clock.now += 1000;
    reporter.attemptFailed(refused, { stage: 'resume', nextDelayMs: 400 });
    clock.now += 30_000;
    reporter.attemptFailed(refused, { stage: 'resume', nextDelayMs: 400 });
    reporter.stop();

    expect(lines).toHaveLength(3);
    expect(lines[1]).toBe(
      'reconnect attempt 1 failed (ResumeSession): connect ECONNREFUSED 127.0.0.1:4579; ' +
        'next attempt in 0.4 s',
    );
    expect(lines[2]).toContain(
      'reconnect attempt 4 failed (ResumeSession): connect ECONNREFUSED 127.0.0.1:4579',
    );
    expect(lines[2]).toContain('(2 earlier failures not shown)');
  });

  it('prints recovery once', () => {
    const { reporter, lines, clock } = reporterWithClock();
    reporter.lost(new Error('lost'));
    reporter.attemptFailed(refused, { stage: 'resume', nextDelayMs: 400 });
    clock.now += 12_000;
    reporter.recovered();
    reporter.recovered();

    expect(lines.at(-1)).toBe('reconnected after 12 s and 1 failed attempt');
    expect(lines).toHaveLength(3);
    expect(reporter.reconnecting).toBe(false);
  });

  it('prints the reported step and delay', () => {
    const { reporter, lines } = reporterWithClock();
    reporter.lost(new Error('lost'));
    reporter.attemptFailed(refused, { stage: 'resume', nextDelayMs: 2_345 });
    reporter.stop();

    expect(lines[1]).toBe(
      'reconnect attempt 1 failed (ResumeSession): connect ECONNREFUSED 127.0.0.1:4579; ' +
        'next attempt in 2.3 s',
    );
  });

  it('says when no attempt follows', () => {
    const { reporter, lines } = reporterWithClock();
    reporter.lost(new Error('lost'));
    reporter.attemptFailed(refused, { stage: 'connect', nextDelayMs: null });
    reporter.stop();

    expect(lines[1]).toBe(
      'reconnect attempt 1 failed (websocket open): connect ECONNREFUSED 127.0.0.1:4579; ' +
        'no further attempt',
    );
  });

  it('rate-limits reported attempts', () => {
    const { reporter, lines, clock } = reporterWithClock();
    reporter.lost(new Error('lost'));
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      reporter.attemptFailed(refused, { stage: 'resume', nextDelayMs: 5_000 });
      clock.now += 5_000;
    }
    clock.now += 10_000;
    reporter.attemptFailed(refused, { stage: 'resume', nextDelayMs: 5_000 });
    reporter.stop();

    expect(lines).toHaveLength(3);
    expect(lines[1]).toContain('reconnect attempt 1 failed');
    expect(lines[2]).toContain('reconnect attempt 6 failed');
    expect(lines[2]).toContain('(4 earlier failures not shown)');
  });

  it('ignores attempts outside a reconnect', () => {
    const { reporter, lines } = reporterWithClock();
    reporter.attemptFailed(refused, { stage: 'resume', nextDelayMs: 400 });

    expect(lines).toEqual([]);
  });
});

describe('describeAttemptError', () => {
  it('adds the code when the message lacks it', () => {
    const error = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(describeAttemptError(error)).toBe('ECONNRESET: socket hang up');
  });

  it('unwraps an AggregateError without a message', () => {
    expect(describeAttemptError(new AggregateError([refused], ''))).toBe(
      'connect ECONNREFUSED 127.0.0.1:4579',
    );
  });
});

describe('followReconnects', () => {
  it('prints a failed websocket open', async () => {
    const peer = new AgentPeer();
    await peer.start();
    cleanups.push(() => peer.stop());
    const channel = new DataChannel({
      streamUrl: peer.url,
      tokenValue: 'start-token',
      sessionId: 'session-1',
      reconnectInitialDelayMs: 20,
      reconnectMaxDelayMs: 40,
      // ResumeSession succeeds, so only the websocket open can fail.
      resume: async () => ({ tokenValue: 'resumed-token' }),
    });
    cleanups.push(() => channel.close());
    await channel.open();
    const lines: string[] = [];
    const reporter = new ReconnectReporter({ print: (line) => lines.push(line) });
    cleanups.push(() => reporter.stop());
    const unfollow = followReconnects(channel, reporter);
    cleanups.push(unfollow);

    await peer.stop();
    await waitFor(() => lines.length >= 2, 5_000, 'an attempt line');

    expect(lines[0]).toContain('websocket lost');
    expect(lines[1]).toMatch(/^reconnect attempt 1 failed \(websocket open\): /);
    expect(lines[1]).toContain('ECONNREFUSED');
    expect(lines[1]).toMatch(/next attempt in \d+\.\d s$/);
  });

  it('stops printing after unfollow', () => {
    const session = new EventEmitter();
    const lines: string[] = [];
    const reporter = new ReconnectReporter({ print: (line) => lines.push(line) });
    cleanups.push(() => reporter.stop());

    followReconnects(session, reporter)();
    session.emit('reconnecting', new Error('lost'));

    expect(lines).toEqual([]);
  });
});
