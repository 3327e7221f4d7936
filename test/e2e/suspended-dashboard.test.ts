// The dashboard in Debian's Chromium, driven by playwright-core, while a real daemon process is
// frozen with SIGSTOP. The header dot and the tunnel card must not claim live data then. The
// page must be Live again within 5 s of SIGCONT. Everything runs on 127.0.0.1.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.js';
import { buildDashboard } from '../ui/browser-setup.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cliEnv,
  echoThrough,
  freePort,
  openHeldConnection,
  REPO_ROOT,
  setupEmulatorAndEcho,
} from '../cli/helpers.js';

const fixture = setupEmulatorAndEcho();
const home = mkdtempSync(join(tmpdir(), 'bastionless-suspended-ui-'));
const uiDir = join(home, 'ui-dist');
let daemonProcess: ChildProcess | undefined;
let daemon: { pid: number; url: string; token: string };
let browser: Browser | undefined;
let page: Page;
let localPort: number;

/** Spawns test/e2e/daemon-process.ts and resolves with the line it prints when ready. */
async function spawnDaemonProcess(): Promise<typeof daemon> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/e2e/daemon-process.ts'], {
    cwd: REPO_ROOT,
    env: { ...cliEnv(home), BASTIONLESS_UI_DIR: uiDir },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  daemonProcess = child;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('the daemon did not start within 30 s')),
      30_000,
    );
    child.stdout!.once('data', (chunk: Buffer) => {
      clearTimeout(timer);
      resolve(JSON.parse(chunk.toString('utf8')) as typeof daemon);
    });
    child.once('exit', (code) => reject(new Error(`the daemon exited with code ${code}`)));
  });
}

async function callApi(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${daemon.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${daemon.token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

const card = () => page.locator('article[data-tunnel="echo"]');
const caption = () => card().getByTestId('traffic-chart').locator('figcaption').textContent();
const dot = () => page.getByTestId('stream-status').textContent();

beforeAll(async () => {
  buildDashboard(uiDir);

  daemon = await spawnDaemonProcess();
  localPort = await freePort();
  const created = await callApi('POST', '/v1/profiles', fixture.profile('echo', localPort));
  expect(created.status, await created.text()).toBe(201);
  const started = await callApi('POST', '/v1/tunnels/echo/start');
  expect(started.status, await started.text()).toBe(200);

  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  await page.goto(`${daemon.url}/#token=${daemon.token}`);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  const child = daemonProcess;
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGCONT');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(home, { recursive: true, force: true });
});

describe('dashboard of a suspended daemon', () => {
  it('drops Live and the rate, then recovers', async () => {
    const socket = await openHeldConnection(localPort);
    try {
      const before = await echoThrough(localPort, 512 * 1024);
      expect(before.received).toBe(before.sent);
      await expect.poll(dot, { timeout: 20_000 }).toBe('Live');
      await expect.poll(caption, { timeout: 20_000 }).toMatch(/^now /);

      process.kill(daemon.pid, 'SIGSTOP');
      try {
        // A list request times out after 10 s and the page re-reads the list every 10 s.
        await expect.poll(dot, { timeout: 30_000 }).toBe('Unreachable');
        expect(await page.locator('.live').getAttribute('class')).toContain('live-lost');
        const banner = page.getByTestId('unreachable-banner');
        expect(await banner.locator('code').allTextContents()).toContain('bastionless status');
        expect(await banner.textContent()).toContain('suspended or hung');
        expect(await caption()).toMatch(/^current rate unknown/);
        expect(await caption()).not.toContain('now ');
        expect(await card().getByTestId('active-connections').textContent()).toBe('unknown');
        expect(await card().getByTestId('connections').textContent()).toMatch(
          /^active count unknown, \d+ total$/,
        );
        expect(await card().getByTestId('state').textContent()).toBe('Unknown');
        expect(await card().getByRole('switch').getAttribute('class')).toContain('switch-unknown');
      } finally {
        process.kill(daemon.pid, 'SIGCONT');
      }
      const resumedAt = Date.now();
      await expect.poll(dot, { timeout: 5_000, interval: 100 }).toBe('Live');
      expect(Date.now() - resumedAt).toBeLessThan(5_000);
      expect(await page.getByTestId('unreachable-banner').count()).toBe(0);
      expect(await card().getByTestId('state').textContent()).toBe('Open');

      const after = await echoThrough(localPort, 64 * 1024);
      expect(after.received).toBe(after.sent);
    } finally {
      socket.destroy();
    }
  }, 90_000);
});
