import { describe, expect, it } from 'vitest';
import { EventLedger } from '../../ui/src/lib/event-ledger.js';
import { tunnelStatus } from './fixtures.js';

describe('EventLedger', () => {
  it('keeps a state event newer than a list', () => {
    const ledger = new EventLedger();
    const mark = ledger.mark();
    // The list was built while the refused connection was still counted, and its response
    // arrives after the state event that dropped the count to 0.
    const fetched = tunnelStatus({ state: 'open', activeConnections: 1, dialFailures: 1 });
    const fromEvent = tunnelStatus({ state: 'open', activeConnections: 0, dialFailures: 1 });
    ledger.noteState('db');
    const merged = ledger.mergeList(mark, new Map([['db', fromEvent]]), [fetched]);
    expect(merged.get('db')?.activeConnections).toBe(0);
  });

  it('takes the list without newer events', () => {
    const ledger = new EventLedger();
    ledger.noteState('db');
    const mark = ledger.mark();
    const current = tunnelStatus({ activeConnections: 2 });
    const fetched = tunnelStatus({ activeConnections: 0, rttMs: 12 });
    expect(ledger.merge(mark, current, fetched)).toBe(fetched);
  });

  it('keeps newer byte counts from traffic', () => {
    const ledger = new EventLedger();
    const mark = ledger.mark();
    ledger.noteTraffic('db');
    const current = tunnelStatus({ state: 'listening', bytesIn: 900, bytesOut: 700 });
    const fetched = tunnelStatus({ state: 'open', bytesIn: 100, bytesOut: 50 });
    const merged = ledger.merge(mark, current, fetched);
    expect(merged?.state).toBe('open');
    expect(merged?.bytesIn).toBe(900);
    expect(merged?.bytesOut).toBe(700);
    expect(ledger.hadTrafficSince(mark, 'db')).toBe(true);
    expect(ledger.hadTrafficSince(mark, 'cache')).toBe(false);
  });

  it('counts events per tunnel', () => {
    const ledger = new EventLedger();
    const mark = ledger.mark();
    ledger.noteState('cache');
    const current = tunnelStatus({ activeConnections: 3 });
    const fetched = tunnelStatus({ activeConnections: 0 });
    expect(ledger.merge(mark, current, fetched)).toBe(fetched);
  });

  it('drops deleted tunnels from a list', () => {
    const ledger = new EventLedger();
    const mark = ledger.mark();
    const current = new Map([
      ['db', tunnelStatus({ name: 'db' })],
      ['gone', tunnelStatus({ name: 'gone' })],
    ]);
    const merged = ledger.mergeList(mark, current, [tunnelStatus({ name: 'db' })]);
    expect([...merged.keys()]).toEqual(['db']);
  });

  it('keeps a tunnel announced during the request', () => {
    const ledger = new EventLedger();
    const mark = ledger.mark();
    ledger.noteState('new');
    const current = new Map([['new', tunnelStatus({ name: 'new', state: 'listening' })]]);
    const merged = ledger.mergeList(mark, current, []);
    expect(merged.get('new')?.state).toBe('listening');
  });

  it('takes a fetched tunnel the page lacks', () => {
    const ledger = new EventLedger();
    const mark = ledger.mark();
    ledger.noteState('cache');
    const fetched = tunnelStatus({ name: 'db', state: 'open' });
    expect(ledger.merge(mark, undefined, fetched)).toBe(fetched);
  });

  it('skips a tunnel removed meanwhile', () => {
    const ledger = new EventLedger();
    const mark = ledger.mark();
    // The list was built before the profile was deleted, and read after the removed event.
    ledger.noteRemoved('db');
    const fetched = tunnelStatus({ name: 'db', state: 'stopped' });
    expect(ledger.merge(mark, undefined, fetched)).toBeUndefined();
    const merged = ledger.mergeList(mark, new Map(), [fetched, tunnelStatus({ name: 'cache' })]);
    expect([...merged.keys()]).toEqual(['cache']);
  });
});
