// The tray menu as plain data, so its content and order are tested without Electron; main.ts
// turns it into an Electron Menu and dispatches the actions.

import { groupTunnels, UNGROUPED } from '../../ui/src/lib/grouping.js';
import { describeState, isTunnelActive } from '../../ui/src/lib/state-words.js';
import type { MfaRequest, TunnelStatus } from '../../ui/src/lib/types.js';
import { retryLabel } from './retry-label.js';

export type MenuAction =
  | { kind: 'start-tunnel'; name: string }
  | { kind: 'stop-tunnel'; name: string }
  | { kind: 'start-group'; group: string }
  | { kind: 'stop-group'; group: string }
  | { kind: 'start-daemon' }
  | { kind: 'open-dashboard' }
  | { kind: 'enter-mfa-code'; id: string }
  | { kind: 'edit-config' }
  | { kind: 'set-start-at-login'; enabled: boolean }
  | { kind: 'quit' };

export type MenuItemModel =
  | { type: 'separator' }
  | {
      type: 'normal' | 'checkbox';
      /** Stable id, unique within the menu, e.g. `tunnel:prod:db`. */
      id: string;
      label: string;
      enabled: boolean;
      checked?: boolean;
      action?: MenuAction;
    };

export interface MenuInput {
  /** Tunnels from the daemon; ignored while the daemon is unreachable. */
  tunnels: readonly TunnelStatus[];
  daemonReachable: boolean;
  startAtLogin: boolean;
  /** Electron supports login items on macOS and Windows only. */
  loginItemSupported: boolean;
  /** Pending MFA requests; each gets an item that opens its prompt again. */
  mfaRequests?: readonly MfaRequest[];
  /** Epoch milliseconds that retry countdowns count from; defaults to Date.now(). */
  nowMs?: number;
}

function tunnelItem(tunnel: TunnelStatus, group: string, nowMs: number): MenuItemModel {
  const active = isTunnelActive(tunnel.state);
  const { label } = describeState(tunnel);
  const retry = retryLabel(tunnel, nowMs);
  return {
    type: 'checkbox',
    id: `tunnel:${group}:${tunnel.name}`,
    label: `${tunnel.name} (${tunnel.localAddress}): ${retry ? `${label}, ${retry}` : label}`,
    enabled: true,
    checked: active,
    action: active
      ? { kind: 'stop-tunnel', name: tunnel.name }
      : { kind: 'start-tunnel', name: tunnel.name },
  };
}

/** Summary line at the top of the menu, e.g. "2 of 3 tunnels open". */
export function summarize(tunnels: readonly TunnelStatus[], daemonReachable: boolean): string {
  if (!daemonReachable) return 'Daemon not running';
  if (tunnels.length === 0) return 'No tunnels configured';
  const open = tunnels.filter((tunnel) => tunnel.state === 'open').length;
  const failing = tunnels.filter((t) => t.state === 'failed' || t.state === 'needs-login').length;
  const noun = tunnels.length === 1 ? 'tunnel' : 'tunnels';
  const base = `${open} of ${tunnels.length} ${noun} open`;
  return failing > 0 ? `${base}, ${failing} need attention` : base;
}

/**
 * Builds the tray menu: a summary, then one item per pending MFA request, then the groups and
 * the app items. Each group has a heading, one checkbox per tunnel and Start all / Stop all. A
 * tunnel's label shows its state and any retry countdown.
 */
export function buildTrayMenu(input: MenuInput): MenuItemModel[] {
  const nowMs = input.nowMs ?? Date.now();
  const items: MenuItemModel[] = [
    {
      type: 'normal',
      id: 'summary',
      label: summarize(input.tunnels, input.daemonReachable),
      enabled: false,
    },
    { type: 'separator' },
  ];
  const mfaRequests = input.daemonReachable ? (input.mfaRequests ?? []) : [];
  if (mfaRequests.length > 0) {
    for (const request of mfaRequests) {
      items.push({
        type: 'normal',
        id: `mfa:${request.id}`,
        label: `Enter MFA code for ${request.profile}…`,
        enabled: true,
        action: { kind: 'enter-mfa-code', id: request.id },
      });
    }
    items.push({ type: 'separator' });
  }
  if (!input.daemonReachable) {
    items.push(
      {
        type: 'normal',
        id: 'start-daemon',
        label: 'Start daemon',
        enabled: true,
        action: { kind: 'start-daemon' },
      },
      { type: 'separator' },
    );
  } else {
    for (const group of groupTunnels(input.tunnels)) {
      const key = group.name ?? '';
      items.push({
        type: 'normal',
        id: `group:${key}`,
        label: group.name ?? UNGROUPED,
        enabled: false,
      });
      for (const tunnel of group.tunnels) items.push(tunnelItem(tunnel, key, nowMs));
      if (group.name !== null) {
        const name = group.name;
        const anyStopped = group.tunnels.some((tunnel) => !isTunnelActive(tunnel.state));
        const anyActive = group.tunnels.some((tunnel) => isTunnelActive(tunnel.state));
        items.push(
          {
            type: 'normal',
            id: `group-start:${name}`,
            label: `Start all in ${name}`,
            enabled: anyStopped,
            action: { kind: 'start-group', group: name },
          },
          {
            type: 'normal',
            id: `group-stop:${name}`,
            label: `Stop all in ${name}`,
            enabled: anyActive,
            action: { kind: 'stop-group', group: name },
          },
        );
      }
      items.push({ type: 'separator' });
    }
  }
  items.push(
    {
      type: 'normal',
      id: 'open-dashboard',
      label: 'Open dashboard',
      enabled: input.daemonReachable,
      action: { kind: 'open-dashboard' },
    },
    {
      type: 'normal',
      id: 'edit-config',
      label: 'Edit config file',
      enabled: true,
      action: { kind: 'edit-config' },
    },
  );
  if (input.loginItemSupported) {
    items.push({
      type: 'checkbox',
      id: 'start-at-login',
      label: 'Start at login',
      enabled: true,
      checked: input.startAtLogin,
      action: { kind: 'set-start-at-login', enabled: !input.startAtLogin },
    });
  }
  items.push(
    { type: 'separator' },
    { type: 'normal', id: 'quit', label: 'Quit', enabled: true, action: { kind: 'quit' } },
  );
  return items;
}
