import { describe, expect, it } from 'vitest';
import { ReconnectReporter, describeAttemptError } from '../../daemon/cli/connect-reconnect.js';

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
    reporter.attemptFailed(refused);
    clock.now += 1000;
    reporter.attemptFailed(refused);
    clock.now += 1000;
    reporter.attemptFailed(refused);
    clock.now += 30_000;
    reporter.attemptFailed(refused);
    reporter.stop();

    expect(lines).toHaveLength(3);
    expect(lines[1]).toBe(
      'reconnect attempt 1 failed: connect ECONNREFUSED 127.0.0.1:4579; next attempt within 0.4 s',
    );
    expect(lines[2]).toContain('reconnect attempt 4 failed: connect ECONNREFUSED 127.0.0.1:4579');
    expect(lines[2]).toContain('(2 earlier failures not shown)');
  });

  it('prints recovery once', () => {
    const { reporter, lines, clock } = reporterWithClock();
    reporter.lost(new Error('lost'));
    reporter.attemptFailed(refused);
    clock.now += 12_000;
    reporter.recovered();
    reporter.recovered();

    expect(lines.at(-1)).toBe('reconnected after 12 s and 1 failed attempt');
    expect(lines).toHaveLength(3);
    expect(reporter.reconnecting).toBe(false);
  });

  it('ignores attempts outside a reconnect', () => {
    const { reporter, lines } = reporterWithClock();
    reporter.attemptFailed(refused);

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
