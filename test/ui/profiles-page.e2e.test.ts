// Browser test of the profiles page: Debian's Chromium driven by playwright-core and the real
// daemon (startDaemon), on 127.0.0.1. It imports files that would replace local profiles, a
// config file and a file the daemon rejects, duplicates a profile, saves endpoints and reads
// field errors, and checks each result through the daemon's API as well as on the page.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Profile } from '../../daemon/config/types.js';
import type { RunningDaemon } from '../../daemon/daemon.js';
import { startEmulator } from '../emulator/index.js';
import { freePort } from '../helpers/ports.js';
import { buildDashboard, startDaemonWithPage, useEmulatorEnv } from './browser-setup.js';

const INSTANCE = 'i-0123456789abcdef0';
/** An endpoint no test request reaches, because no tunnel of this file starts. */
const ENDPOINT = 'http://127.0.0.1:9';
const ENDPOINT_SERVICES = ['ssm', 'sts', 'ec2', 'rds', 'elasticache'];

const home = mkdtempSync(join(tmpdir(), 'bastionless-profiles-page-'));
const uiDir = join(home, 'ui-dist');
let restoreEnv: (() => void) | undefined;
let daemon: RunningDaemon;
let browser: Browser;
let page: Page;
let webPort: number;

function profile(name: string, localPort: number, extra: Record<string, unknown> = {}) {
  return {
    name,
    region: 'us-east-1',
    target: INSTANCE,
    remoteHost: '127.0.0.1',
    remotePort: 8080,
    localPort,
    mode: 'on-demand',
    ...extra,
  };
}

/** Reads every profile from the daemon's API, by name. */
async function storedProfiles(): Promise<Map<string, Profile>> {
  const response = await fetch(`${daemon.url}/v1/profiles`, {
    headers: { authorization: `Bearer ${daemon.token}` },
  });
  expect(response.status).toBe(200);
  const list = (await response.json()) as Profile[];
  return new Map(list.map((entry) => [entry.name, entry]));
}

async function importFile(content: unknown): Promise<void> {
  await page.getByLabel('Import profiles from a JSON file').setInputFiles({
    name: 'import.json',
    mimeType: 'application/json',
    buffer: Buffer.from(JSON.stringify(content)),
  });
}

function statusLine() {
  return page.getByRole('status').locator('p').first();
}

beforeAll(async () => {
  restoreEnv = useEmulatorEnv(home);
  buildDashboard(uiDir);
  webPort = await freePort();
  writeFileSync(
    join(home, 'config.json'),
    JSON.stringify({ version: 2, profiles: [profile('web', webPort)] }, null, 2),
  );
  ({ daemon, browser, page } = await startDaemonWithPage(home, uiDir));
  await page.getByRole('button', { name: 'Profiles', exact: true }).click();
  await page.locator('tr[data-profile="web"]').waitFor({ timeout: 15_000 });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await daemon?.stop('test finished');
  restoreEnv?.();
  rmSync(home, { recursive: true, force: true });
});

describe('profile import', () => {
  it('asks before replacing and cancel keeps all', { timeout: 60_000 }, async () => {
    const changedWeb = profile('web', webPort, { remotePort: 9090 });
    await importFile([changedWeb, profile('api', await freePort())]);
    const confirm = page.getByTestId('import-confirm');
    await expect.poll(() => confirm.count()).toBe(1);

    expect(await page.getByTestId('import-replaced').textContent()).toBe('web');
    const before = await storedProfiles();
    expect(before.get('web')?.remotePort).toBe(8080);
    expect(before.has('api')).toBe(false);

    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await expect
      .poll(() => statusLine().textContent())
      .toBe('Import cancelled. No profile was changed.');
    const after = await storedProfiles();
    expect(after.get('web')?.remotePort).toBe(8080);
    expect(after.has('api')).toBe(false);
  });

  it('adds only the new profiles on request', { timeout: 60_000 }, async () => {
    const changedWeb = profile('web', webPort, { remotePort: 9090 });
    await importFile([changedWeb, profile('api', await freePort())]);
    await page.getByRole('button', { name: 'Add only the 1 new' }).click();
    await expect
      .poll(() => statusLine().textContent())
      .toBe('Added 1 profile, kept 1 existing unchanged.');
    const stored = await storedProfiles();
    expect(stored.get('web')?.remotePort).toBe(8080);
    expect(stored.has('api')).toBe(true);
  });

  it('replaces after confirmation with a summary', { timeout: 60_000 }, async () => {
    const changedWeb = profile('web', webPort, { remotePort: 9090 });
    await importFile([changedWeb, profile('db', await freePort())]);
    await page.getByRole('button', { name: 'Replace 1 and add 1' }).click();
    await expect.poll(() => statusLine().textContent()).toBe('Added 1 profile, replaced 1.');
    const stored = await storedProfiles();
    expect(stored.get('web')?.remotePort).toBe(9090);
    expect(stored.has('db')).toBe(true);
    await expect.poll(() => page.locator('tr[data-profile="db"]').count()).toBe(1);
  });

  it('accepts a config file', { timeout: 60_000 }, async () => {
    await importFile({ version: 2, profiles: [profile('from-config', await freePort())] });
    await expect.poll(() => statusLine().textContent()).toBe('Added 1 profile.');
    expect((await storedProfiles()).has('from-config')).toBe(true);
  });

  it('lists each rejected profile on its own line', { timeout: 60_000 }, async () => {
    await importFile([profile('imp1', webPort), profile('imp2', webPort)]);
    await expect.poll(() => statusLine().textContent()).toBe('No profile was imported.');
    const details = page.getByTestId('status-details').locator('li');
    expect(await details.count()).toBe(2);
    expect(await details.nth(0).textContent()).toMatch(/^Profile "imp1" was not added: /);
    expect(await details.nth(1).textContent()).toMatch(/^Profile "imp2" was not added: /);
    expect(await page.getByRole('status').textContent()).not.toContain('Imported 0 of 0');
  });

  it('names a newer config file version', { timeout: 60_000 }, async () => {
    await importFile({ version: 3, profiles: [profile('future', await freePort())] });
    await expect.poll(() => statusLine().textContent()).toBe('No profile was imported.');
    const detail = await page.getByTestId('status-details').textContent();
    expect(detail).toContain('The config file has version 3');
    expect(detail).not.toContain('Imported 0 of 0');
  });
});

describe('profile editor', () => {
  it('suggests an unused port for a duplicate', { timeout: 60_000 }, async () => {
    const used = new Set([...(await storedProfiles()).values()].map((entry) => entry.localPort));
    await page.locator('tr[data-profile="web"]').getByRole('button', { name: 'Duplicate' }).click();
    const suggested = Number(await page.getByLabel('Local port').inputValue());

    expect(suggested).toBeGreaterThan(webPort);
    expect(used.has(suggested)).toBe(false);
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.locator('tr[data-profile="web-copy"]').count()).toBe(1);
    expect((await storedProfiles()).get('web-copy')?.localPort).toBe(suggested);
  });

  it('sets the endpoint of every service', { timeout: 60_000 }, async () => {
    await page.getByRole('button', { name: 'New profile' }).click();
    await page.getByLabel('Name', { exact: true }).fill('all-endpoints');
    await page.getByLabel('AWS endpoint URL for every service (optional)').fill(ENDPOINT);
    await page.getByLabel('Target (instance id, or Key=Value tags)').fill(INSTANCE);
    await page.getByLabel('Remote port').fill('5432');
    await page.getByLabel('Local port').fill(String(await freePort()));
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.locator('tr[data-profile="all-endpoints"]').count()).toBe(1);

    const endpoints = (await storedProfiles()).get('all-endpoints')?.endpoints ?? {};
    expect(Object.keys(endpoints).sort()).toEqual([...ENDPOINT_SERVICES].sort());
    expect(new Set(Object.values(endpoints))).toEqual(new Set([ENDPOINT]));
  });

  it('keeps endpoints per service on save', { timeout: 60_000 }, async () => {
    const endpoints = { ssm: ENDPOINT, ec2: 'http://127.0.0.1:10' };
    await importFile([profile('mixed', await freePort(), { endpoints })]);
    await expect.poll(() => page.locator('tr[data-profile="mixed"]').count()).toBe(1);
    await page.locator('tr[data-profile="mixed"]').getByRole('button', { name: 'Edit' }).click();
    const listed = await page.getByTestId('service-endpoints').textContent();

    expect(listed).toContain(`ssm: ${ENDPOINT}`);
    expect(listed).toContain('ec2: http://127.0.0.1:10');
    await page.getByLabel('Groups (comma-separated)').fill('kept');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(async () => (await storedProfiles()).get('mixed')?.groups).toEqual(['kept']);
    expect((await storedProfiles()).get('mixed')?.endpoints).toEqual(endpoints);
  });

  it('lists targets by their Name tag', { timeout: 60_000 }, async () => {
    const emulator = await startEmulator({ pacing: false });
    try {
      await page.getByRole('button', { name: 'New profile' }).click();
      await page.getByLabel('AWS region').fill('us-east-1');
      await page.getByLabel('AWS endpoint URL for every service (optional)').fill(emulator.url);
      await page.getByRole('button', { name: 'Find online instances in us-east-1' }).click();
      const list = page.getByRole('list', { name: 'Online managed instances' });
      await list.waitFor({ timeout: 15_000 });
      const item = list.locator('li', { hasText: INSTANCE });

      expect(await item.textContent()).toContain('app-server · ip-');
      await item.getByRole('button', { name: `Use ${INSTANCE}` }).click();
      expect(await page.getByLabel('Target (instance id, or Key=Value tags)').inputValue()).toBe(
        INSTANCE,
      );
      await page.getByRole('button', { name: 'Cancel' }).click();
    } finally {
      await emulator.close();
    }
  });

  it('shows field errors without the name prefix', { timeout: 60_000 }, async () => {
    await page.getByRole('button', { name: 'New profile' }).click();
    await page.getByLabel('Name', { exact: true }).fill('bad name ü');
    await page.getByLabel('Target (instance id, or Key=Value tags)').fill(INSTANCE);
    await page.getByLabel('Remote port').fill('5432');
    await page.getByLabel('Local port').fill('70000');
    await page.getByRole('button', { name: 'Save' }).click();
    const nameError = page.getByTestId('error-name');
    await expect.poll(() => nameError.count(), { timeout: 10_000 }).toBe(1);
    const portError = (await page.getByTestId('error-localPort').textContent()) ?? '';

    expect(await nameError.textContent()).not.toContain('profile "');
    expect(portError).not.toContain('profile "');
    expect(portError).toMatch(/^localPort 70000 is out of range/);
    await page.getByRole('button', { name: 'Cancel' }).click();
  });
});

describe('client command', () => {
  it('follows the remote port, not the name', { timeout: 60_000 }, async () => {
    const extra = { remotePort: 44024 };
    await importFile([
      profile('http', await freePort(), extra),
      profile('dash1', await freePort(), extra),
    ]);
    await expect.poll(() => statusLine().textContent()).toBe('Added 2 profiles.');
    await page.getByRole('button', { name: 'Tunnels', exact: true }).click();
    for (const name of ['http', 'dash1']) {
      const card = page.locator(`article[data-tunnel="${name}"]`);
      await expect.poll(() => card.count()).toBe(1);
      const command = (await card.getByTestId('client-command').textContent()) ?? '';

      expect(command).toMatch(/^nc -v 127\.0\.0\.1 \d+$/);
      const basis = (await card.getByTestId('client-command-basis').textContent()) ?? '';
      expect(basis).toContain('Remote port 44024 is not a well-known port');
    }
  });
});
