import { describe, expect, it } from 'vitest';
import { NotificationPolicy } from '../../electron/model/notifications.js';
import type { TunnelState, TunnelStatus } from '../../ui/src/lib/types.js';
import { tunnelStatus } from '../ui/fixtures.js';

function clock(start = 0) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

function status(name: string, state: TunnelState, extra: Partial<TunnelStatus> = {}) {
  return tunnelStatus({ name, state, ...extra });
}

describe('NotificationPolicy', () => {
  it('stays quiet about the first status of a tunnel', () => {
    const policy = new NotificationPolicy();
    expect(policy.observe(status('db', 'failed'))).toBeNull();
  });

  it('notifies a failure with the error and its fix', () => {
    const policy = new NotificationPolicy();
    policy.observe(status('db', 'open'));
    const lastError = {
      code: 'ERR_TARGET_NOT_CONNECTED',
      message: 'i-0abc is not connected to Session Manager',
      hint: 'Check the SSM agent on the instance.',
      at: '2024-01-01T00:00:00Z',
    };
    const notification = policy.observe(status('db', 'failed', { lastError }));
    expect(notification).toEqual({
      kind: 'failed',
      tunnel: 'db',
      title: 'Tunnel db failed',
      body: 'i-0abc is not connected to Session Manager\nCheck the SSM agent on the instance.',
    });
  });

  it('notifies needs-login with a default hint', () => {
    const policy = new NotificationPolicy();
    policy.observe(status('db', 'open'));
    const notification = policy.observe(status('db', 'needs-login'));
    expect(notification?.kind).toBe('needs-login');
    expect(notification?.body).toContain('aws sso login');
  });

  it('notifies recovery only after a notified problem', () => {
    const policy = new NotificationPolicy();
    policy.observe(status('db', 'open'));
    expect(policy.observe(status('db', 'reconnecting'))).toBeNull();
    expect(policy.observe(status('db', 'open'))).toBeNull();
    expect(policy.observe(status('db', 'failed'))?.kind).toBe('failed');
    const recovered = policy.observe(status('db', 'open'));
    expect(recovered?.kind).toBe('recovered');
    expect(recovered?.body).toBe('Connections to 127.0.0.1:15432 are forwarded again.');
  });

  it('ignores repeats of the same state', () => {
    const policy = new NotificationPolicy();
    policy.observe(status('db', 'open'));
    expect(policy.observe(status('db', 'failed'))).not.toBeNull();
    expect(policy.observe(status('db', 'failed'))).toBeNull();
  });

  it('rate-limits a flapping tunnel per kind', () => {
    const time = clock();
    const policy = new NotificationPolicy({ perTunnelCooldownMs: 60_000, now: time.now });
    policy.observe(status('db', 'open'));
    expect(policy.observe(status('db', 'failed'))?.kind).toBe('failed');
    expect(policy.observe(status('db', 'open'))?.kind).toBe('recovered');
    time.advance(10_000);
    expect(policy.observe(status('db', 'failed'))).toBeNull();
    expect(policy.observe(status('db', 'open'))).toBeNull();
    expect(policy.suppressedCount).toBe(2);
    time.advance(60_000);
    const next = policy.observe(status('db', 'failed'));
    expect(next?.kind).toBe('failed');
    expect(next?.body).toContain('(2 more notifications were suppressed.)');
    expect(policy.suppressedCount).toBe(0);
  });

  it('caps a burst across tunnels', () => {
    const time = clock();
    const policy = new NotificationPolicy({ burstLimit: 2, burstWindowMs: 30_000, now: time.now });
    for (const name of ['a', 'b', 'c', 'd']) policy.observe(status(name, 'open'));
    const results = ['a', 'b', 'c', 'd'].map((name) => policy.observe(status(name, 'failed')));
    expect(results.map((entry) => entry?.tunnel ?? null)).toEqual(['a', 'b', null, null]);
    time.advance(30_000);
    expect(policy.observe(status('c', 'open'))?.body).toContain(
      '(2 more notifications were suppressed.)',
    );
  });

  it('starts over for a forgotten tunnel', () => {
    const policy = new NotificationPolicy();
    policy.observe(status('db', 'open'));
    policy.observe(status('db', 'failed'));
    policy.forget('db');
    expect(policy.observe(status('db', 'open'))).toBeNull();
    expect(policy.observe(status('db', 'failed'))?.kind).toBe('failed');
  });
});
