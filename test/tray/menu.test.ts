import { describe, expect, it } from 'vitest';
import { buildTrayMenu, summarize, type MenuItemModel } from '../../electron/model/menu.js';
import type { TunnelStatus } from '../../ui/src/lib/types.js';
import { tunnelStatus } from '../ui/fixtures.js';

function labels(items: MenuItemModel[]): string[] {
  return items.map((item) => (item.type === 'separator' ? '---' : item.label));
}

function find(items: MenuItemModel[], id: string) {
  const item = items.find((entry) => entry.type !== 'separator' && entry.id === id);
  if (!item || item.type === 'separator') throw new Error(`menu item ${id} not found`);
  return item;
}

const tunnels: TunnelStatus[] = [
  tunnelStatus({ name: 'web', groups: ['prod'], state: 'open', localAddress: '127.0.0.1:8080' }),
  tunnelStatus({ name: 'db', groups: ['prod'], state: 'stopped', localAddress: '127.0.0.1:15432' }),
  tunnelStatus({ name: 'cache', groups: ['dev'], state: 'failed', localAddress: '127.0.0.1:6379' }),
  tunnelStatus({ name: 'misc', state: 'reconnecting', localAddress: '127.0.0.1:9000' }),
];

const base = { tunnels, daemonReachable: true, startAtLogin: false, loginItemSupported: true };

describe('buildTrayMenu', () => {
  it('orders groups, tunnels and app items', () => {
    expect(labels(buildTrayMenu(base))).toEqual([
      '1 of 4 tunnels open, 1 need attention',
      '---',
      'dev',
      'cache (127.0.0.1:6379): Failed',
      'Start all in dev',
      'Stop all in dev',
      '---',
      'prod',
      'db (127.0.0.1:15432): Stopped',
      'web (127.0.0.1:8080): Open',
      'Start all in prod',
      'Stop all in prod',
      '---',
      'Ungrouped',
      'misc (127.0.0.1:9000): Reconnecting',
      '---',
      'Open dashboard',
      'Edit config file',
      'Start at login',
      '---',
      'Quit',
    ]);
  });

  it('checks active tunnels and toggles them', () => {
    const items = buildTrayMenu(base);
    const web = find(items, 'tunnel:prod:web');
    const db = find(items, 'tunnel:prod:db');
    const cache = find(items, 'tunnel:dev:cache');
    const misc = find(items, 'tunnel::misc');
    expect(web.checked).toBe(true);
    expect(web.action).toEqual({ kind: 'stop-tunnel', name: 'web' });
    expect(db.checked).toBe(false);
    expect(db.action).toEqual({ kind: 'start-tunnel', name: 'db' });
    expect(cache.checked).toBe(false);
    expect(cache.action).toEqual({ kind: 'start-tunnel', name: 'cache' });
    expect(misc.checked).toBe(true);
  });

  it('enables group actions only when they change something', () => {
    const items = buildTrayMenu(base);
    expect(find(items, 'group-start:prod').enabled).toBe(true);
    expect(find(items, 'group-stop:prod').enabled).toBe(true);
    expect(find(items, 'group-start:dev').enabled).toBe(true);
    expect(find(items, 'group-stop:dev').enabled).toBe(false);
    expect(find(items, 'group-start:prod').action).toEqual({ kind: 'start-group', group: 'prod' });
    expect(find(items, 'group-stop:prod').action).toEqual({ kind: 'stop-group', group: 'prod' });
  });

  it('has no group actions for ungrouped tunnels', () => {
    const ids = buildTrayMenu(base).flatMap((item) => (item.type === 'separator' ? [] : [item.id]));
    expect(ids.filter((id) => id.startsWith('group-start:'))).toEqual([
      'group-start:dev',
      'group-start:prod',
    ]);
  });

  it('gives every item a unique id', () => {
    const shared = tunnelStatus({ name: 'db', groups: ['a', 'b'] });
    const items = buildTrayMenu({ ...base, tunnels: [shared, ...tunnels] });
    const ids = items.flatMap((item) => (item.type === 'separator' ? [] : [item.id]));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('offers to start the daemon when unreachable', () => {
    const items = buildTrayMenu({ ...base, daemonReachable: false });
    expect(labels(items)).toEqual([
      'Daemon not running',
      '---',
      'Start daemon',
      '---',
      'Open dashboard',
      'Edit config file',
      'Start at login',
      '---',
      'Quit',
    ]);
    expect(find(items, 'open-dashboard').enabled).toBe(false);
    expect(find(items, 'start-daemon').action).toEqual({ kind: 'start-daemon' });
  });

  it('reflects and flips the login item', () => {
    const off = find(buildTrayMenu(base), 'start-at-login');
    expect(off.checked).toBe(false);
    expect(off.action).toEqual({ kind: 'set-start-at-login', enabled: true });
    const on = find(buildTrayMenu({ ...base, startAtLogin: true }), 'start-at-login');
    expect(on.checked).toBe(true);
    expect(on.action).toEqual({ kind: 'set-start-at-login', enabled: false });
  });

  it('hides the login item where unsupported', () => {
    const items = buildTrayMenu({ ...base, loginItemSupported: false });
    expect(labels(items)).not.toContain('Start at login');
  });

  it('shows the needs-login state in the label', () => {
    const items = buildTrayMenu({
      ...base,
      tunnels: [tunnelStatus({ name: 'db', state: 'needs-login' })],
    });
    expect(find(items, 'tunnel::db').label).toBe('db (127.0.0.1:15432): Needs login');
  });

  it('adds the retry countdown to the label', () => {
    const nowMs = Date.parse('2025-03-01T12:00:00.000Z');
    const retrying = tunnelStatus({
      name: 'db',
      state: 'connecting',
      lastError: {
        code: 'ERR_ACCESS_DENIED',
        message: 'Access denied',
        at: '2025-03-01T11:59:58Z',
      },
      nextAttemptAt: '2025-03-01T12:00:07.500Z',
    });
    const items = buildTrayMenu({ ...base, tunnels: [retrying], nowMs });
    expect(find(items, 'tunnel::db').label).toBe(
      'db (127.0.0.1:15432): Connecting, retrying in 8 s',
    );
    const later = buildTrayMenu({ ...base, tunnels: [retrying], nowMs: nowMs + 7_500 });
    expect(find(later, 'tunnel::db').label).toBe('db (127.0.0.1:15432): Connecting');
  });
});

describe('summarize', () => {
  it('describes empty, single and unreachable cases', () => {
    expect(summarize([], true)).toBe('No tunnels configured');
    expect(summarize([tunnelStatus({ state: 'open' })], true)).toBe('1 of 1 tunnel open');
    expect(summarize(tunnels, false)).toBe('Daemon not running');
  });
});

describe('buildTrayMenu with MFA requests', () => {
  const request = {
    id: 'r1',
    profile: 'db',
    awsProfile: 'admin',
    mfaSerial: 'arn:aws:iam::123456789012:mfa/alice',
    requestedAt: '2025-01-01T10:00:00.000Z',
  };

  it('lists each request after the summary', () => {
    const items = buildTrayMenu({ ...base, mfaRequests: [request] });
    expect(labels(items).slice(0, 4)).toEqual([
      '1 of 4 tunnels open, 1 need attention',
      '---',
      'Enter MFA code for db…',
      '---',
    ]);
    expect(find(items, 'mfa:r1').action).toEqual({ kind: 'enter-mfa-code', id: 'r1' });
  });

  it('hides requests while the daemon is unreachable', () => {
    const items = buildTrayMenu({ ...base, daemonReachable: false, mfaRequests: [request] });
    expect(labels(items)).not.toContain('Enter MFA code for db…');
  });
});
