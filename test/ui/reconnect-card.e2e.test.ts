// Browser test of a reconnecting tunnel's card: Debian's Chromium driven by playwright-core, the
// real daemon (startDaemon) and the SSM emulator on 127.0.0.1. The emulator stops while the
// tunnel is open, so every resume attempt fails. Only the badge may contain "Reconnecting", times
// show in the dashboard's own formats, the count of websocket drops is labelled as such, and the
// old session's round trip does not show as current.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type RunningDaemon } from '../../daemon/daemon.js';
import { resolvePaths } from '../../daemon/paths.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { launchChromium } from '../helpers/chromium.js';
import { freePort } from '../helpers/ports.js';
import { echoRoundTrip, startEchoServer, type EchoServer } from '../tunnel/helpers.js';
import { buildDashboard, useEmulatorEnv } from './browser-setup.js';

const INSTANCE = 'i-0123456789abcdef0';
/** An ISO 8601 time as the daemon writes it, which the card must not show. */
const ISO_TIME = /\d{4}-\d\d-\d\dT\d\d:\d\d/;

const home = mkdtempSync(join(tmpdir(), 'bastionless-reconnect-card-'));
const uiDir = join(home, 'ui-dist');
let restoreEnv: (() => void) | undefined;
let emulator: Emulator;
let emulatorPort: number;
let echo: EchoServer;
let daemon: RunningDaemon;
let browser: Browser;
let page: Page;
let localPort: number;

beforeAll(async () => {
  restoreEnv = useEmulatorEnv(home);

  buildDashboard(uiDir);

  echo = await startEchoServer();
  emulator = await startEmulator({ pacing: false });
  emulatorPort = Number(new URL(emulator.url).port);
  localPort = await freePort();
  const profile = {
    name: 'web',
    region: 'us-east-1',
    target: INSTANCE,
    remoteHost: '127.0.0.1',
    remotePort: echo.port,
    localPort,
    mode: 'always-on',
    endpoints: { ssm: emulator.url },
  };
  writeFileSync(
    join(home, 'config.json'),
    JSON.stringify({ version: 2, profiles: [profile] }, null, 2),
  );
  daemon = await startDaemon({
    paths: resolvePaths({ env: { BASTIONLESS_HOME: home } }),
    uiDir,
    logLevel: 'silent',
  });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  await page.goto(`${daemon.url}/#token=${daemon.token}`);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await daemon?.stop('test finished');
  await emulator?.close();
  await echo?.close();
  restoreEnv?.();
  rmSync(home, { recursive: true, force: true });
});

describe('reconnecting tunnel card', () => {
  it('shows a failing resume in local times', { timeout: 90_000 }, async () => {
    const card = page.locator('article[data-tunnel="web"]');
    await card.getByRole('switch', { name: 'Tunnel web' }).click();
    await expect
      .poll(() => card.getByTestId('state').textContent(), { timeout: 15_000 })
      .toBe('Open');
    const before = await echoRoundTrip('127.0.0.1', localPort);

    expect(before.received).toBe(before.sent);

    await emulator.close();
    const sentence = card.getByTestId('state-sentence');
    await expect
      .poll(() => sentence.textContent(), { timeout: 20_000 })
      .toMatch(/Resume attempt [2-9]\d* failed at ResumeSession: /);
    // Between two attempts the daemon names the next one's time, which the card counts down to.
    await expect
      .poll(() => card.getByTestId('retry-countdown').count(), { timeout: 15_000 })
      .toBe(1);
    const text = (await sentence.textContent()) ?? '';
    const countdown = (await card.getByTestId('retry-countdown').textContent()) ?? '';
    const lastError = (await card.getByTestId('last-error').textContent()) ?? '';

    expect(await card.getByTestId('state').textContent()).toBe('Reconnecting');
    expect(text).not.toMatch(/reconnecting/i);
    expect(text).not.toMatch(ISO_TIME);
    expect(text).not.toMatch(/next attempt at/i);
    expect(countdown).toMatch(/^Retrying (in \d+ s|now)\.$/);
    expect(lastError).toContain('ERR_ENDPOINT_UNREACHABLE');
    expect(lastError).not.toMatch(ISO_TIME);
    expect(await card.locator('dt', { hasText: 'Websocket drops' }).count()).toBe(1);
    expect(await card.locator('dt', { hasText: 'Reconnects' }).count()).toBe(0);
    expect(await card.getByTestId('websocket-drops').textContent()).toBe('1');
    expect(await card.getByTestId('round-trip').textContent()).toBe(
      'unknown until the session resumes',
    );
    expect(await card.getByTestId('session-resuming').textContent()).toBe(' being resumed');

    // The new emulator does not know the old session, so the tunnel opens a new one.
    emulator = await startEmulator({ port: emulatorPort, pacing: false });
    await expect
      .poll(() => card.getByTestId('state').textContent(), { timeout: 45_000 })
      .toBe('Open');
    const after = await echoRoundTrip('127.0.0.1', localPort, 256 * 1024);

    expect(after.received).toBe(after.sent);
    expect(await card.getByTestId('last-error').count()).toBe(0);
    expect(await card.getByTestId('session-resuming').count()).toBe(0);
    expect(await card.getByTestId('round-trip').textContent()).not.toContain('until');
  });
});
