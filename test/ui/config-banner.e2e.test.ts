// Browser test of a rejected config file: Debian's Chromium driven by playwright-core and the
// real daemon (startDaemon). The file gets a duplicate profile name while the page is open.
// Both views must then show the file, its problem, the fix and the profiles the daemon kept,
// and they must learn of each load of the file from the events stream alone.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningDaemon } from '../../daemon/daemon.js';
import { freePort } from '../helpers/ports.js';
import { buildDashboard, startDaemonWithPage, useEmulatorEnv } from './browser-setup.js';

const home = mkdtempSync(join(tmpdir(), 'bastionless-config-banner-'));
const configFile = join(home, 'config.json');
const uiDir = join(home, 'ui-dist');
let restoreEnv: (() => void) | undefined;
let daemon: RunningDaemon;
let browser: Browser;
let page: Page;
let profile: Record<string, unknown>;

function writeProfiles(profiles: unknown[]): void {
  writeFileSync(configFile, JSON.stringify({ version: 2, profiles }, null, 2));
}

beforeAll(async () => {
  restoreEnv = useEmulatorEnv(home);
  buildDashboard(uiDir);
  profile = {
    name: 'web',
    region: 'us-east-1',
    target: 'i-0123456789abcdef0',
    remotePort: 8080,
    localPort: await freePort(),
    mode: 'on-demand',
  };
  writeProfiles([profile]);
  ({ daemon, browser, page } = await startDaemonWithPage(home, uiDir));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await daemon?.stop('test finished');
  restoreEnv?.();
  rmSync(home, { recursive: true, force: true });
});

describe('rejected config file banner', () => {
  it('shows the problem in both views', { timeout: 90_000 }, async () => {
    await expect
      .poll(() => page.locator('article[data-tunnel="web"]').count(), { timeout: 15_000 })
      .toBe(1);
    expect(await page.getByTestId('config-banner').count()).toBe(0);

    writeProfiles([profile, { ...profile }]);
    const banner = page.getByTestId('config-banner');
    await expect.poll(() => banner.count(), { timeout: 30_000 }).toBe(1);
    const text = (await banner.textContent()) ?? '';

    expect(text).toContain(`The daemon rejected its config file ${configFile}.`);
    expect(text).toContain('the name is already used by profiles[0]');
    expect(text).toContain('Next step: Fix it in an editor');
    expect(text).not.toContain('Fix: Fix');
    expect(text).toContain('The daemon keeps the 1 profile it loaded before.');
    expect(text).toContain('Saving a profile from this page fails until the file is fixed.');

    await page.getByRole('button', { name: 'Profiles' }).click();
    expect(await page.getByTestId('config-banner').count()).toBe(1);

    writeProfiles([profile]);
    await expect.poll(() => banner.count(), { timeout: 30_000 }).toBe(0);
  });

  it('follows file loads from events', { timeout: 60_000 }, async () => {
    // With every status request failing, only the events stream can bring the banner and the
    // new profile list, so the page must not wait for its next reload of the list.
    await page.route('**/v1/status', (route) => route.abort());
    try {
      await page.getByRole('button', { name: 'Profiles', exact: true }).click();
      await expect.poll(() => page.locator('tr[data-profile="web"]').count()).toBe(1);

      const api = { ...profile, name: 'api', localPort: await freePort() };
      writeProfiles([profile, api]);
      const apiRow = page.locator('tr[data-profile="api"]');
      await expect.poll(() => apiRow.count(), { timeout: 10_000 }).toBe(1);

      writeProfiles([profile, api, { ...profile }]);
      const banner = page.getByTestId('config-banner');
      await expect.poll(() => banner.count(), { timeout: 10_000 }).toBe(1);
      expect(await banner.textContent()).toContain('The daemon keeps the 2 profiles it loaded');

      writeProfiles([profile]);
      await expect.poll(() => banner.count(), { timeout: 10_000 }).toBe(0);
      await expect.poll(() => apiRow.count(), { timeout: 10_000 }).toBe(0);
    } finally {
      await page.unroute('**/v1/status');
    }
  });
});
