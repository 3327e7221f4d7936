// The tray's MFA dialog page in Debian's Chromium, driven by playwright-core. The page is loaded
// from the bundle as a file, as Electron's loadFile does, with a stand-in for the preload bridge
// that records calls, so the CSP, the layout of the request and the code checks run for real.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, type Page } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const outDir = mkdtempSync(join(tmpdir(), 'bastionless-mfa-dialog-'));
let browser: Browser;

const view = {
  request: {
    id: 'mfa-1',
    profile: 'db',
    awsProfile: 'admin',
    mfaSerial: 'arn:aws:iam::123456789012:mfa/alice',
    requestedAt: '2025-01-01T10:00:00.000Z',
  },
  error: null,
  othersWaiting: 2,
};

/** Opens the page with a bridge that returns `view` and answers submissions with `results`. */
async function openDialog(results: unknown[]): Promise<Page> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  await page.addInitScript(
    ({ dialogView, submitResults }) => {
      const calls: [string, string][] = [];
      (window as unknown as Record<string, unknown>).submittedCodes = calls;
      (window as unknown as Record<string, unknown>).bastionlessMfa = {
        request: async () => dialogView,
        submitMfaCode: async (id: string, code: string) => {
          calls.push([id, code]);
          return submitResults.shift() ?? { ok: true };
        },
      };
    },
    { dialogView: view, submitResults: results },
  );
  await page.goto(pathToFileURL(join(outDir, 'mfa-dialog', 'index.html')).href);
  await expect.poll(() => page.locator('#heading').textContent()).toBe('MFA code for db');
  expect(errors).toEqual([]);
  return page;
}

function submittedCodes(page: Page): Promise<[string, string][]> {
  return page.evaluate(
    () => (window as unknown as { submittedCodes: [string, string][] }).submittedCodes,
  );
}

beforeAll(async () => {
  const bundle = spawnSync(
    process.execPath,
    [join(ROOT, 'electron', 'launch.mjs'), '--bundle-only', '--out-dir', outDir],
    { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
  );
  expect(bundle.status, bundle.stderr).toBe(0);
  browser = await launchChromium();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  rmSync(outDir, { recursive: true, force: true });
});

describe('MFA dialog page', () => {
  it('shows the request under its CSP', async () => {
    const page = await openDialog([]);
    const details = await page.locator('#details').textContent();
    expect(details).toContain('Tunnel db (AWS profile admin)');
    expect(details).toContain('arn:aws:iam::123456789012:mfa/alice');
    expect(await page.locator('#others').textContent()).toBe(
      '2 more requests wait after this one.',
    );
    expect(await page.locator('#error').isHidden()).toBe(true);
    // dialog.css loads under style-src 'self' from a file URL, as in Electron.
    const font = await page
      .locator('#code')
      .evaluate((input) => getComputedStyle(input).fontFamily);
    expect(font).toContain('monospace');
    await page.close();
  });

  it('checks the code before sending', async () => {
    const page = await openDialog([]);
    await page.fill('#code', '49a817');
    await page.click('#submit');
    expect(await page.locator('#error').textContent()).toBe(
      'Enter the 6 digits your MFA device shows.',
    );
    expect(await page.locator('#code').getAttribute('aria-invalid')).toBe('true');
    expect(await submittedCodes(page)).toEqual([]);
    await page.close();
  });

  it('shows a rejection and clears the field', async () => {
    const rejection = 'The daemon rejected the code: code must be the 6 digits.';
    const page = await openDialog([{ ok: false, error: rejection }]);
    await page.fill('#code', '111 111');
    await page.press('#code', 'Enter');
    await expect.poll(() => page.locator('#error').textContent()).toBe(rejection);
    expect(await submittedCodes(page)).toEqual([['mfa-1', '111111']]);
    expect(await page.locator('#code').inputValue()).toBe('');
    expect(await page.locator('#submit').isEnabled()).toBe(true);
    await page.close();
  });

  it('sends a valid code once', async () => {
    const page = await openDialog([{ ok: true }]);
    await page.fill('#code', '493817');
    await page.click('#submit');
    await expect.poll(() => submittedCodes(page)).toEqual([['mfa-1', '493817']]);
    expect(await page.locator('#error').isHidden()).toBe(true);
    await page.close();
  });
});
