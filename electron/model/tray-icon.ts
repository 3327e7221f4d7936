import type { TunnelStatus } from '../../ui/src/lib/types.js';

/**
 * Overall health shown by the tray icon: `offline` (no daemon), `idle` (no tunnel active),
 * `ok`, `degraded` (some connecting or reconnecting) or `failed` (some failed or need login).
 */
export type TrayIconState = 'offline' | 'idle' | 'ok' | 'degraded' | 'failed';

export const TRAY_ICON_STATES: readonly TrayIconState[] = [
  'offline',
  'idle',
  'ok',
  'degraded',
  'failed',
];

/** Picks the icon state; the worst tunnel wins, so one failure is never hidden by others. */
export function trayIconState(
  tunnels: readonly TunnelStatus[],
  daemonReachable: boolean,
): TrayIconState {
  if (!daemonReachable) return 'offline';
  const states = new Set(tunnels.map((tunnel) => tunnel.state));
  if (states.has('failed') || states.has('needs-login')) return 'failed';
  if (states.has('connecting') || states.has('reconnecting')) return 'degraded';
  if (states.has('open') || states.has('listening')) return 'ok';
  return 'idle';
}

/**
 * File name of the icon for a state. macOS gets `*Template.png` images, which the menu bar
 * recolors for light and dark mode, so their states differ by shape, not by color.
 */
export function trayIconFile(state: TrayIconState, platform: NodeJS.Platform): string {
  return platform === 'darwin' ? `tray-${state}Template.png` : `tray-${state}.png`;
}

const TOOLTIPS: Record<TrayIconState, string> = {
  offline: 'bastionless: daemon not running',
  idle: 'bastionless: no tunnel active',
  ok: 'bastionless: all tunnels healthy',
  degraded: 'bastionless: some tunnels are reconnecting',
  failed: 'bastionless: some tunnels need attention',
};

export function trayTooltip(state: TrayIconState): string {
  return TOOLTIPS[state];
}
