import { describe, expect, it } from 'vitest';
import { isActionErrorSettled, type ActionError } from '../../ui/src/lib/action-error.js';
import type { TunnelState } from '../../ui/src/lib/types.js';
import { tunnelStatus } from './fixtures.js';

function failedAction(turnsOn: boolean, states: Record<string, TunnelState>): ActionError {
  return { message: 'request failed', turnsOn, statesAtFailure: new Map(Object.entries(states)) };
}

describe('isActionErrorSettled', () => {
  it('settles a failed start once open', () => {
    const error = failedAction(true, { db: 'stopped' });
    expect(isActionErrorSettled(error, [tunnelStatus({ name: 'db', state: 'stopped' })])).toBe(
      false,
    );
    expect(isActionErrorSettled(error, [tunnelStatus({ name: 'db', state: 'open' })])).toBe(true);
  });

  it('keeps a failed restart of an open tunnel', () => {
    const error = failedAction(true, { db: 'open' });
    expect(isActionErrorSettled(error, [tunnelStatus({ name: 'db', state: 'open' })])).toBe(false);
  });

  it('settles a failed stop once stopped', () => {
    const error = failedAction(false, { db: 'open' });
    expect(isActionErrorSettled(error, [tunnelStatus({ name: 'db', state: 'reconnecting' })])).toBe(
      false,
    );
    expect(isActionErrorSettled(error, [tunnelStatus({ name: 'db', state: 'stopped' })])).toBe(
      true,
    );
  });

  it('waits for every tunnel of a group', () => {
    const error = failedAction(true, { db: 'stopped', cache: 'stopped' });
    const partly = [
      tunnelStatus({ name: 'db', state: 'open' }),
      tunnelStatus({ name: 'cache', state: 'stopped' }),
    ];
    expect(isActionErrorSettled(error, partly)).toBe(false);
    const all = [
      tunnelStatus({ name: 'db', state: 'open' }),
      tunnelStatus({ name: 'cache', state: 'listening' }),
    ];
    expect(isActionErrorSettled(error, all)).toBe(true);
  });

  it('keeps an error without known tunnels', () => {
    expect(isActionErrorSettled(failedAction(true, {}), [])).toBe(false);
    const error = failedAction(true, { gone: 'stopped' });
    expect(isActionErrorSettled(error, [tunnelStatus({ name: 'db', state: 'open' })])).toBe(false);
  });
});
