import { describe, expect, it } from 'vitest';
import { backoffDelayMs, reconnect } from '../../daemon/datachannel/reconnect.js';

const policy = { initialDelayMs: 200, maxDelayMs: 10_000 };

describe('backoffDelayMs', () => {
  it('doubles from the initial delay', () => {
    expect(backoffDelayMs(0, policy, () => 1)).toBe(200);
    expect(backoffDelayMs(1, policy, () => 1)).toBe(400);
    expect(backoffDelayMs(3, policy, () => 1)).toBe(1_600);
  });

  it('caps at the maximum', () => {
    expect(backoffDelayMs(10, policy, () => 1)).toBe(10_000);
    expect(backoffDelayMs(10_000, policy, () => 1)).toBe(10_000);
  });

  it('jitters down to half', () => {
    expect(backoffDelayMs(2, policy, () => 0)).toBe(400);
  });
});

describe('reconnect', () => {
  const fast = { initialDelayMs: 1, maxDelayMs: 5, reconnectForMs: 2_000 };

  it('connects with the resumed token', async () => {
    const outcome = await reconnect(
      { ...fast, signal: new AbortController().signal, resume: async () => ({ tokenValue: 't1' }) },
      async (token) => `connected with ${token}`,
      new Error('lost'),
    );
    expect(outcome).toEqual({ kind: 'connected', connection: 'connected with t1' });
  });

  it('calls resume again when connect fails', async () => {
    let resumes = 0;
    let connects = 0;
    const outcome = await reconnect(
      {
        ...fast,
        signal: new AbortController().signal,
        resume: async () => ({ tokenValue: `t${++resumes}` }),
      },
      async (token) => {
        connects += 1;
        if (connects < 3) {
          throw new Error('refused');
        }
        return token;
      },
      new Error('lost'),
    );
    expect(outcome).toEqual({ kind: 'connected', connection: 't3' });
  });

  it('stops when aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const outcome = await reconnect(
      { ...fast, signal: controller.signal, resume: async () => ({ tokenValue: 't' }) },
      async () => 'never',
      new Error('lost'),
    );
    expect(outcome.kind).toBe('aborted');
  });
});
