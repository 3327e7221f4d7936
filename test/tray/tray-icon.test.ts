import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  TRAY_ICON_STATES,
  trayIconFile,
  trayIconState,
  trayTooltip,
} from '../../electron/model/tray-icon.js';
import type { TunnelState } from '../../ui/src/lib/types.js';
import { tunnelStatus } from '../ui/fixtures.js';

function stateOf(...states: TunnelState[]) {
  const tunnels = states.map((state, index) => tunnelStatus({ name: `t${index}`, state }));
  return trayIconState(tunnels, true);
}

describe('trayIconState', () => {
  it('is offline without a daemon', () => {
    expect(trayIconState([tunnelStatus({ state: 'open' })], false)).toBe('offline');
  });

  it('is idle with nothing active', () => {
    expect(stateOf()).toBe('idle');
    expect(stateOf('stopped', 'stopped')).toBe('idle');
  });

  it('is ok when all active tunnels are healthy', () => {
    expect(stateOf('open', 'listening', 'stopped')).toBe('ok');
  });

  it('is degraded while some reconnect', () => {
    expect(stateOf('open', 'reconnecting')).toBe('degraded');
    expect(stateOf('connecting')).toBe('degraded');
  });

  it('lets failures win over everything', () => {
    expect(stateOf('open', 'reconnecting', 'failed')).toBe('failed');
    expect(stateOf('open', 'needs-login')).toBe('failed');
  });
});

describe('trayIconFile', () => {
  it('uses template images on macOS only', () => {
    expect(trayIconFile('ok', 'darwin')).toBe('tray-okTemplate.png');
    expect(trayIconFile('ok', 'linux')).toBe('tray-ok.png');
    expect(trayIconFile('failed', 'win32')).toBe('tray-failed.png');
  });

  it.each(TRAY_ICON_STATES)('has committed files and a tooltip for %s', (state) => {
    const folder = join(import.meta.dirname, '../../electron/icons');
    for (const platform of ['darwin', 'linux'] as const) {
      const file = trayIconFile(state, platform);
      expect(existsSync(join(folder, file)), file).toBe(true);
      expect(existsSync(join(folder, file.replace('.png', '@2x.png'))), file).toBe(true);
    }
    expect(trayTooltip(state)).toMatch(/^bastionless: /);
  });
});
