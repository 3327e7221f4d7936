// Browser end-to-end test of the dashboard: Debian's Chromium driven by playwright-core, the
// real daemon (startDaemon) and the SSM emulator, all on 127.0.0.1. Writes screenshots of the
// tunnels view (light, dark, 420 px wide and with the daemon stopped) and of the profile editor
// to docs/screenshots.

import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.js';
import { buildDashboard } from './browser-setup.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TunnelStatus } from '../../daemon/config/types.js';
import { startDaemon, type RunningDaemon } from '../../daemon/daemon.js';
import { resolvePaths } from '../../daemon/paths.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { freePort } from '../helpers/ports.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SCREENSHOTS = join(ROOT, 'docs', 'screenshots');
const INSTANCE = 'i-0123456789abcdef0';

const home = mkdtempSync(join(tmpdir(), 'bastionless-ui-e2e-'));
const uiDir = join(home, 'ui-dist');
let emulator: Emulator;
let daemon: RunningDaemon | null = null;
let echo: Server;
let browser: Browser;
let page: Page;
let echoLocalPort: number;
let refusedLocalPort: number;
let refusedRemotePort: number;
const consoleErrors: string[] = [];
let contentSecurityPolicy = '';
let mfaLocalPort: number;
/** The stopped daemon's token, which the daemon started after it on the same home reuses. */
let tokenBeforeStop = '';
const savedAwsConfigFile = process.env.AWS_CONFIG_FILE;

/** Returns a port that was free a moment ago, by listening on port 0 and closing again. */
function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Sends `payload` through the tunnel to the echo server and resolves with the echoed bytes. */
function echoThrough(socket: Socket, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const timer = setTimeout(
      () =>
        reject(new Error(`echo timed out after 30 s at ${received} of ${payload.length} bytes`)),
      30_000,
    );
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received >= payload.length) {
        clearTimeout(timer);
        socket.off('data', onData);
        resolve(Buffer.concat(chunks));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(payload);
  });
}

/** Connects to a tunnel's listener on 127.0.0.1 and resolves once connected. */
async function connectLocal(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

/** Creates a profile through the daemon's API, as the CLI or another page would. */
async function createProfile(profile: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${daemon!.url}/v1/profiles`, {
    method: 'POST',
    headers: { authorization: `Bearer ${daemon!.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ region: 'us-east-1', endpoints: { ssm: emulator.url }, ...profile }),
  });
  expect(response.status, await response.text()).toBe(201);
}

/** Deletes a profile through the daemon's API, so the page learns of it only from events. */
async function deleteProfile(name: string): Promise<void> {
  const response = await fetch(`${daemon!.url}/v1/profiles/${name}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${daemon!.token}` },
  });
  expect(response.status).toBe(204);
}

/** Starts a daemon on the test home, on `port` when given, else on a free port. */
function startHomeDaemon(port?: number): Promise<RunningDaemon> {
  return startDaemon({
    paths: resolvePaths({ env: { BASTIONLESS_HOME: home } }),
    uiDir,
    logLevel: 'silent',
    port,
  });
}

/** Reads one tunnel's status from the daemon's API, as the page would. */
async function tunnelStatus(name: string): Promise<TunnelStatus> {
  const response = await fetch(`${daemon!.url}/v1/tunnels/${name}`, {
    headers: { authorization: `Bearer ${daemon!.token}` },
  });
  expect(response.status).toBe(200);
  return (await response.json()) as TunnelStatus;
}

/** Counts how often `part` occurs in `text`. */
function occurrences(text: string, part: string): number {
  return text.split(part).length - 1;
}

function row(name: string) {
  return page.locator(`article[data-tunnel="${name}"]`);
}

beforeAll(async () => {
  // The daemon's SDK clients read these; the emulator accepts any key, and disabling the
  // metadata lookup keeps the credential chain from leaving the machine.
  process.env.AWS_ACCESS_KEY_ID = 'AKIAEMULATOREXAMPLE';
  process.env.AWS_SECRET_ACCESS_KEY = 'emulator-secret';
  process.env.AWS_REGION = 'us-east-1';
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  // The `mfa` profile assumes a role that needs an MFA code, which the page prompts for.
  process.env.AWS_CONFIG_FILE = join(home, 'aws-config');
  writeFileSync(
    process.env.AWS_CONFIG_FILE,
    [
      '[profile base]',
      'aws_access_key_id = AKIASTATIC00000001',
      'aws_secret_access_key = s3cret',
      '[profile admin]',
      'role_arn = arn:aws:iam::123456789012:role/Admin',
      'source_profile = base',
      'mfa_serial = arn:aws:iam::123456789012:mfa/alice',
      '',
    ].join('\n'),
  );

  buildDashboard(uiDir);

  echo = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  const echoPort = (echo.address() as AddressInfo).port;
  [echoLocalPort, refusedLocalPort, refusedRemotePort] = [
    await freePort(),
    await freePort(),
    await freePort(),
  ];

  emulator = await startEmulator({ pacing: false });
  const common = {
    region: 'us-east-1',
    target: INSTANCE,
    remoteHost: '127.0.0.1',
    mode: 'always-on',
    endpoints: { ssm: emulator.url },
  };
  const profiles: Record<string, unknown>[] = [
    { ...common, name: 'echo', groups: ['e2e'], remotePort: echoPort, localPort: echoLocalPort },
    {
      ...common,
      name: 'refused',
      groups: ['e2e'],
      remotePort: refusedRemotePort,
      localPort: refusedLocalPort,
    },
  ];
  // Never started: it shows the client command guessed for PostgreSQL in the screenshot.
  profiles.push({
    ...common,
    name: 'orders-db',
    groups: ['prod'],
    remoteHost: 'orders.cluster-example.us-east-1.rds.amazonaws.com',
    remotePort: 5432,
    localPort: await freePort(),
    mode: 'on-demand',
  });
  mfaLocalPort = await freePort();
  profiles.push({
    ...common,
    name: 'mfa',
    groups: ['needs-mfa'],
    awsProfile: 'admin',
    endpoints: { ssm: emulator.url, sts: emulator.url },
    remotePort: echoPort,
    localPort: mfaLocalPort,
  });
  writeFileSync(join(home, 'config.json'), JSON.stringify({ version: 2, profiles }, null, 2));
  daemon = await startHomeDaemon();

  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1200, height: 900 }, colorScheme: 'light' });
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(`uncaught: ${error.message}`));
  const response = await page.goto(`${daemon.url}/#token=${daemon.token}`);
  contentSecurityPolicy = response?.headers()['content-security-policy'] ?? '';
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await daemon?.stop('test finished');
  await emulator?.close();
  if (savedAwsConfigFile === undefined) delete process.env.AWS_CONFIG_FILE;
  else process.env.AWS_CONFIG_FILE = savedAwsConfigFile;
  await new Promise<void>((resolve) => (echo ? echo.close(() => resolve()) : resolve()));
  rmSync(home, { recursive: true, force: true });
});

describe('dashboard end to end', () => {
  it('serves the page under a strict CSP', () => {
    expect(contentSecurityPolicy).toContain("default-src 'self'");
    expect(contentSecurityPolicy).not.toContain('unsafe-inline');
  });

  it('removes the token from the address bar', async () => {
    expect(page.url()).not.toContain('token=');
    await expect.poll(() => row('echo').count()).toBe(1);
  });

  it('toggles a tunnel on and shows it open', async () => {
    const echoRow = row('echo');
    await expect.poll(() => echoRow.getByTestId('state').textContent()).toBe('Stopped');
    expect(await echoRow.getByTestId('row-action').textContent()).toBe('Start');
    await echoRow.getByRole('switch', { name: 'Tunnel echo' }).click();
    await expect
      .poll(() => echoRow.getByTestId('state').textContent(), { timeout: 30_000 })
      .toBe('Open');
    expect(await echoRow.getByRole('switch').getAttribute('aria-checked')).toBe('true');
    expect(await echoRow.getByTestId('row-action').textContent()).toBe('Restart');
    expect(await echoRow.getByTestId('session-id').textContent()).not.toBe('none');
    expect(await echoRow.getByTestId('local-address').textContent()).toBe(
      `127.0.0.1:${echoLocalPort}`,
    );
    expect(await echoRow.getByTestId('client-command').textContent()).toContain(`${echoLocalPort}`);
  });

  it('shows connections and traffic of a client', async () => {
    const echoRow = row('echo');
    const socket = await connectLocal(echoLocalPort);
    try {
      const payload = randomBytes(256 * 1024);
      const echoed = await echoThrough(socket, payload);
      expect(echoed.length).toBe(payload.length);
      expect(sha256(echoed)).toBe(sha256(payload));
      await expect
        .poll(() => echoRow.getByTestId('active-connections').textContent(), { timeout: 15_000 })
        .toBe('1');
      await expect
        .poll(() => echoRow.getByTestId('traffic').textContent(), { timeout: 15_000 })
        .toMatch(/KiB in, .*KiB out/);
      // The sparkline needs two traffic events a second apart.
      await expect
        .poll(() => echoRow.locator('figcaption').textContent(), { timeout: 15_000 })
        .toMatch(/^now /);
    } finally {
      socket.destroy();
    }
    // The page re-reads the whole list only every 10 s, so a count that drops within 5 s came
    // from the daemon's state event.
    await expect
      .poll(() => echoRow.getByTestId('active-connections').textContent(), { timeout: 5_000 })
      .toBe('0');
  });

  it('charts a 5 MB transfer', async () => {
    const chart = row('echo').getByTestId('traffic-chart');
    const total = async (direction: 'in' | 'out') =>
      Number(await chart.getAttribute(`data-total-${direction}`));
    const socket = await connectLocal(echoLocalPort);
    try {
      const payload = randomBytes(5 * 1024 * 1024);
      const echoed = await echoThrough(socket, payload);
      expect(sha256(echoed)).toBe(sha256(payload));
    } finally {
      socket.destroy();
    }
    // The echo sends every byte back, so each direction carries the 5 MiB within the chart's
    // five minutes, next to the 256 KiB of the test before.
    const fiveMiB = 5 * 1024 * 1024;
    await expect.poll(() => total('in'), { timeout: 15_000 }).toBeGreaterThanOrEqual(fiveMiB);
    await expect.poll(() => total('out'), { timeout: 15_000 }).toBeGreaterThanOrEqual(fiveMiB);
    const inbound = await chart.locator('path.spark-in').getAttribute('d');
    const outbound = await chart.locator('path.spark-out').getAttribute('d');
    expect(inbound).toMatch(/^M[\d.]+,[\d.]+V/);
    expect(outbound).toMatch(/^M[\d.]+,[\d.]+V/);
    // The largest bucket's bar reaches the top edge (y 0) or the bottom edge (y 36).
    expect(`${inbound}${outbound}`).toMatch(/V(0\.0|36\.0)H/);
  });

  it('charts traffic from before the page opened', async () => {
    const localPort = await freePort();
    await createProfile({
      name: 'history',
      target: INSTANCE,
      mode: 'always-on',
      remoteHost: '127.0.0.1',
      remotePort: (echo.address() as AddressInfo).port,
      localPort,
    });
    const lateTab = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    try {
      const started = await fetch(`${daemon!.url}/v1/tunnels/history/start`, {
        method: 'POST',
        headers: { authorization: `Bearer ${daemon!.token}` },
      });
      expect(started.status).toBe(200);
      await expect.poll(async () => (await tunnelStatus('history')).state).toBe('open');
      const socket = await connectLocal(localPort);
      try {
        const payload = randomBytes(2 * 1024 * 1024);
        const echoed = await echoThrough(socket, payload);
        expect(sha256(echoed)).toBe(sha256(payload));
      } finally {
        socket.destroy();
      }
      // Only once the bytes have moved does this page open, so live events alone show nothing.
      await lateTab.goto(`${daemon!.url}/#token=${daemon!.token}`);
      const chart = lateTab.locator('article[data-tunnel="history"]').getByTestId('traffic-chart');
      const total = async (direction: 'in' | 'out') =>
        Number(await chart.getAttribute(`data-total-${direction}`));
      const twoMiB = 2 * 1024 * 1024;
      await expect.poll(() => total('in'), { timeout: 15_000 }).toBeGreaterThanOrEqual(twoMiB);
      await expect.poll(() => total('out'), { timeout: 15_000 }).toBeGreaterThanOrEqual(twoMiB);
      // Bytes in both the daemon's history and a live event would count twice.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(await total('in')).toBe(twoMiB);
      expect(await total('out')).toBe(twoMiB);
    } finally {
      await lateTab.close();
      await deleteProfile('history');
    }
  });

  it('shows a refused remote port with its fix', async () => {
    const refusedRow = row('refused');
    // The row's button starts a stopped tunnel, which its label Start names.
    expect(await refusedRow.getByTestId('row-action').textContent()).toBe('Start');
    await refusedRow.getByTestId('row-action').click();
    await expect
      .poll(() => refusedRow.getByTestId('state').textContent(), { timeout: 30_000 })
      .toBe('Open');
    // The daemon resets the local socket itself once the agent reports the failed dial.
    const socket = connect(refusedLocalPort, '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('local socket still open after 30 s')),
        30_000,
      );
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    await expect
      .poll(() => refusedRow.getByTestId('last-error').count(), { timeout: 5_000 })
      .toBe(1);
    await expect
      .poll(() => refusedRow.getByTestId('active-connections').textContent(), { timeout: 5_000 })
      .toBe('0');
    expect(await refusedRow.getByTestId('connections').textContent()).toBe(
      '0 active, 1 total, 1 failed to dial',
    );
    // The session is open, but the badge must not claim success while connections fail.
    await expect
      .poll(() => refusedRow.getByTestId('state').textContent(), { timeout: 5_000 })
      .toBe('Open, remote refused');
    expect(await refusedRow.getByTestId('state').getAttribute('class')).toContain('tone-warn');
    expect(await refusedRow.getByTestId('state-sentence').textContent()).toBe(
      'The session is open, but the remote host refused the only connection.',
    );
    const error = await refusedRow.getByTestId('last-error').textContent();
    expect(error).toContain('ERR_REMOTE_REFUSED');
    expect(error).toContain(`127.0.0.1:${refusedRemotePort}`);
    expect(await refusedRow.getByTestId('error-hint').textContent()).toContain(
      `Check that a server listens on 127.0.0.1:${refusedRemotePort}`,
    );
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, 'tunnels.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: join(SCREENSHOTS, 'tunnels-dark.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('drops the count when a queued client leaves', async () => {
    // The session start waits for the handshake, so the first connection of this on-demand
    // tunnel stays queued until its client gives up, even on a loaded machine.
    emulator.setDefaultFaults({ handshakeDelayMs: 20_000 });
    const localPort = await freePort();
    await createProfile({
      name: 'queued',
      target: INSTANCE,
      remoteHost: '127.0.0.1',
      remotePort: refusedRemotePort,
      localPort,
      mode: 'on-demand',
    });
    const queuedRow = row('queued');
    try {
      await queuedRow.getByRole('switch', { name: 'Tunnel queued' }).click();
      await expect
        .poll(() => queuedRow.getByTestId('state').textContent(), { timeout: 15_000 })
        .toBe('Listening');
      const socket = await connectLocal(localPort);
      socket.on('error', () => undefined);
      await expect
        .poll(() => queuedRow.getByTestId('active-connections').textContent(), { timeout: 5_000 })
        .toBe('1');
      socket.destroy();
      // The handshake stays delayed for 20 s, so within 5 s no session change can carry the
      // count.
      await expect
        .poll(() => queuedRow.getByTestId('active-connections').textContent(), { timeout: 5_000 })
        .toBe('0');
      expect(await queuedRow.getByTestId('state').textContent()).toBe('Connecting');
    } finally {
      emulator.setDefaultFaults({});
      await deleteProfile('queued');
    }
    // The timeout is below the page's 10 s re-read, so only the removed event can drop the row.
    await expect.poll(() => queuedRow.count(), { timeout: 5_000 }).toBe(0);
  });

  it('mutes an error from before the open', async () => {
    // StartSession fails with TargetNotConnected while this instance is offline, and the
    // daemon retries with backoff until it is online again.
    const offline = 'i-0aaaaaaaaaaaaaaa1';
    emulator.state.scenario.instances.push({
      instanceId: offline,
      pingStatus: 'ConnectionLost',
      agentVersion: '3.3.987.0',
      tags: {},
    });
    await createProfile({
      name: 'offline',
      target: offline,
      mode: 'always-on',
      remoteHost: '127.0.0.1',
      remotePort: (echo.address() as AddressInfo).port,
      localPort: await freePort(),
    });
    const offlineRow = row('offline');
    try {
      await offlineRow.getByRole('switch', { name: 'Tunnel offline' }).click();
      await expect
        .poll(() => offlineRow.getByTestId('last-error').count(), { timeout: 15_000 })
        .toBe(1);
      expect(await offlineRow.getByTestId('last-error').textContent()).toContain(
        'ERR_TARGET_NOT_CONNECTED',
      );
      expect(await offlineRow.getByTestId('past-error').count()).toBe(0);
      // While it retries, the row names the error once, in the error box, not in its state.
      const message = (await tunnelStatus('offline')).lastError!.message;
      expect(await offlineRow.getByTestId('state').textContent()).toBe('Connecting');
      const sentence = offlineRow.getByTestId('state-sentence');
      expect(await sentence.textContent()).toMatch(
        /^Opening a Session Manager session again after a failed attempt\./,
      );
      expect(await sentence.textContent()).not.toContain(message);
      expect(await sentence.textContent()).not.toMatch(/\d{4}-\d\d-\d\dT/);
      expect(occurrences(await offlineRow.innerText(), message)).toBe(1);
      // The daemon names the next attempt's time, which the row counts down to.
      await expect
        .poll(() => offlineRow.getByTestId('retry-countdown').textContent(), { timeout: 10_000 })
        .toMatch(/^Retrying (in \d+ s|now)\.$/);

      emulator.state.scenario.instances.find(
        (instance) => instance.instanceId === offline,
      )!.pingStatus = 'Online';
      await expect
        .poll(() => offlineRow.getByTestId('state').textContent(), { timeout: 30_000 })
        .toBe('Open');
      await expect.poll(() => offlineRow.getByTestId('last-error').count()).toBe(0);
      const past = await offlineRow.getByTestId('past-error').textContent();
      expect(past).toContain('before the tunnel opened');
      expect(past).toContain('ERR_TARGET_NOT_CONNECTED');
    } finally {
      await deleteProfile('offline');
    }
    await expect.poll(() => offlineRow.count(), { timeout: 5_000 }).toBe(0);
  });

  it('shows a failed start once', async () => {
    // Another server listens on the local port, so the start fails without a retry.
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const heldPort = (holder.address() as AddressInfo).port;
    await createProfile({
      name: 'taken',
      target: INSTANCE,
      mode: 'on-demand',
      remoteHost: '127.0.0.1',
      remotePort: refusedRemotePort,
      localPort: heldPort,
    });
    const takenRow = row('taken');
    try {
      await takenRow.getByTestId('row-action').click();
      await expect
        .poll(() => takenRow.getByTestId('state').textContent(), { timeout: 15_000 })
        .toBe('Failed');
      const { lastError } = await tunnelStatus('taken');
      expect(lastError?.code).toBe('ERR_PORT_IN_USE');
      expect(lastError?.hint).toBeTruthy();
      const text = await takenRow.innerText();
      // Commands between backticks render as code, so the page shows them without backticks.
      const shown = (message: string) => message.replaceAll('`', '');
      expect(occurrences(text, shown(lastError!.message))).toBe(1);
      expect(occurrences(text, shown(lastError!.hint!))).toBe(1);
      expect(lastError!.hint).toContain('`');
      expect(await takenRow.getByTestId('error-hint').locator('code').count()).toBeGreaterThan(0);
      expect(await takenRow.getByTestId('state-sentence').textContent()).toBe(
        'The daemon stopped retrying.',
      );
      expect(text).not.toMatch(/\.\)|\.\.(?!\.)/);
      expect(await takenRow.getByTestId('row-action').textContent()).toBe('Start');
    } finally {
      await deleteProfile('taken');
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
    await expect.poll(() => takenRow.count(), { timeout: 5_000 }).toBe(0);
  });

  it('fits long ids in a 420 px window', async () => {
    await page.setViewportSize({ width: 420, height: 900 });
    try {
      const echoRow = row('echo');
      const via = echoRow.getByTestId('via-target');
      expect(await via.getAttribute('title')).toBe(INSTANCE);
      expect(await via.textContent()).toBe(INSTANCE);
      const session = echoRow.getByTestId('session-id');
      expect(await session.getAttribute('title')).toBe(await session.textContent());
      for (const article of await page.locator('article[data-tunnel]').all()) {
        const overflow = await article.evaluate((element) => {
          const card = element.getBoundingClientRect();
          const beyond = Array.from(element.querySelectorAll('*'))
            .filter((child) => child.getBoundingClientRect().right > card.right + 0.5)
            .map((child) => child.textContent?.slice(0, 40));
          return { scroll: element.scrollWidth - element.clientWidth, beyond };
        });
        expect(overflow.beyond).toEqual([]);
        expect(overflow.scroll).toBe(0);
      }
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
        420,
      );
      await page.screenshot({ path: join(SCREENSHOTS, 'tunnels-narrow.png'), fullPage: true });
    } finally {
      await page.setViewportSize({ width: 1200, height: 900 });
    }
  });

  it('asks for the MFA code of a tunnel', async () => {
    const mfaRow = row('mfa');
    const prompt = page.getByTestId('mfa-prompt');
    expect(await prompt.count()).toBe(0);
    await mfaRow.getByRole('switch', { name: 'Tunnel mfa' }).click();
    await expect.poll(() => prompt.count(), { timeout: 30_000 }).toBe(1);
    // The prompt can arrive before the state event that moves the row to needs-login.
    await expect
      .poll(() => mfaRow.getByTestId('state').textContent(), { timeout: 10_000 })
      .toMatch(/login/i);
    expect(await prompt.textContent()).toContain('arn:aws:iam::123456789012:mfa/alice');
    expect(await prompt.textContent()).toContain('AWS profile admin');

    const field = page.getByLabel('Code from your MFA device');
    await field.fill('49a817');
    await page.getByRole('button', { name: 'Send code' }).click();
    expect(await page.getByTestId('mfa-error').textContent()).toBe(
      'Enter the 6 digits your MFA device shows.',
    );
    expect(await field.getAttribute('aria-invalid')).toBe('true');

    await field.fill('493 817');
    await page.getByRole('button', { name: 'Send code' }).click();
    await expect.poll(() => prompt.count(), { timeout: 10_000 }).toBe(0);
    await expect
      .poll(() => mfaRow.getByTestId('state').textContent(), { timeout: 30_000 })
      .toBe('Open');
    const assume = emulator.calls.filter((call) => call.operation === 'sts:AssumeRole');
    expect(assume).toHaveLength(1);
    expect((assume[0]!.input as Record<string, string>).TokenCode).toBe('493817');

    const socket = await connectLocal(mfaLocalPort);
    try {
      const payload = randomBytes(64 * 1024);
      const echoed = await echoThrough(socket, payload);
      expect(sha256(echoed)).toBe(sha256(payload));
    } finally {
      socket.destroy();
    }
    await mfaRow.getByRole('switch', { name: 'Tunnel mfa' }).click();
  });

  it('toggles a tunnel by keyboard', async () => {
    const prod = page.locator('section.group', {
      has: page.getByRole('heading', { name: 'prod' }),
    });
    await prod.getByRole('button', { name: 'Stop all' }).focus();
    await page.keyboard.press('Tab');
    const toggle = row('orders-db').getByRole('switch', { name: 'Tunnel orders-db' });
    expect(await toggle.evaluate((element) => element === document.activeElement)).toBe(true);
    const outline = await toggle.evaluate((element) => getComputedStyle(element).outlineStyle);
    expect(outline).toBe('solid');
    await page.keyboard.press('Space');
    // On demand: the listener opens now, and a session only with the first connection.
    await expect
      .poll(() => row('orders-db').getByTestId('state').textContent(), { timeout: 15_000 })
      .toBe('Listening');
  });

  it('shows the daemon field error for an invalid port', async () => {
    await page.getByRole('button', { name: 'Profiles' }).click();
    await page.getByRole('button', { name: 'New profile' }).click();
    await page.getByLabel('Name', { exact: true }).fill('bad-port');
    await page.getByLabel('AWS endpoint URL for every service (optional)').fill(emulator.url);
    await page.getByRole('button', { name: /Find online instances/ }).click();
    await page.getByRole('button', { name: `Use ${INSTANCE}` }).click();
    expect(await page.getByLabel('Target (instance id, or Key=Value tags)').inputValue()).toBe(
      INSTANCE,
    );
    await page.getByLabel('Remote port').fill('5432');
    await page.getByLabel('Local port').fill('70000');
    await page.getByRole('button', { name: 'Save' }).click();
    const fieldError = page.getByTestId('error-localPort');
    expect(await page.getByTestId('form-errors').textContent()).toContain('marked fields');
    await expect.poll(() => fieldError.count(), { timeout: 10_000 }).toBe(1);
    expect(await fieldError.textContent()).toMatch(/65535/);
    expect(await page.getByLabel('Local port').getAttribute('aria-invalid')).toBe('true');
    await page.screenshot({ path: join(SCREENSHOTS, 'profile-editor.png'), fullPage: true });
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('button', { name: 'Tunnels' }).click();
  });

  it('creates, duplicates, edits and deletes profiles', async () => {
    await page.getByRole('button', { name: 'Profiles' }).click();
    await page.getByRole('button', { name: 'New profile' }).click();
    await page.getByLabel('Name', { exact: true }).fill('cache');
    await page.getByLabel('Groups (comma-separated)').fill('e2e');
    await page.getByLabel('AWS endpoint URL for every service (optional)').fill(emulator.url);
    await page.getByLabel('Target (instance id, or Key=Value tags)').fill(INSTANCE);
    await page.getByLabel('Remote host (empty: the target itself)').fill('127.0.0.1');
    await page.getByLabel('Remote port').fill('6379');
    await page.getByLabel('Local port').fill(String(await freePort()));
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.locator('tr[data-profile="cache"]').count()).toBe(1);

    await page
      .locator('tr[data-profile="cache"]')
      .getByRole('button', { name: 'Duplicate' })
      .click();
    expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('cache-copy');
    expect(await page.getByLabel('Remote port').inputValue()).toBe('6379');
    await page.getByLabel('Local port').fill(String(await freePort()));
    await page.getByRole('button', { name: 'Save' }).click();
    const copyRow = page.locator('tr[data-profile="cache-copy"]');
    await expect.poll(() => copyRow.count()).toBe(1);

    await copyRow.getByRole('button', { name: 'Edit' }).click();
    await page.getByLabel('Groups (comma-separated)').fill('staging');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => copyRow.locator('td').first().textContent()).toBe('staging');

    await copyRow.getByRole('button', { name: 'Delete' }).click();
    await copyRow.getByRole('button', { name: 'Confirm delete' }).click();
    await expect.poll(() => copyRow.count()).toBe(0);

    await page.getByRole('button', { name: 'Tunnels' }).click();
    const cacheRow = row('cache');
    await expect.poll(() => cacheRow.count()).toBe(1);
    expect(await cacheRow.getByTestId('client-command').textContent()).toMatch(
      /^redis-cli -h 127\.0\.0\.1 -p \d+$/,
    );
  });

  it('exports and imports profiles as JSON', async () => {
    await page.getByRole('button', { name: 'Profiles' }).click();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export' }).click(),
    ]);
    const exported = JSON.parse(readFileSync(await download.path(), 'utf8'));
    expect(exported.format).toBe('bastionless-profiles');
    const names = exported.profiles.map((profile: { name: string }) => profile.name);
    expect(names).toEqual(['cache', 'echo', 'mfa', 'orders-db', 'refused']);

    const imported = { ...exported.profiles[0], name: 'imported', localPort: await freePort() };
    await page.getByLabel('Import profiles from a JSON file').setInputFiles({
      name: 'profiles.json',
      mimeType: 'application/json',
      buffer: Buffer.from(JSON.stringify([imported])),
    });
    await expect
      .poll(() => page.getByRole('status').first().textContent())
      .toBe('Added 1 profile.');
    await expect.poll(() => page.locator('tr[data-profile="imported"]').count()).toBe(1);
    await page.getByRole('button', { name: 'Tunnels' }).click();
    await expect.poll(() => row('echo').count()).toBe(1);
  });

  it('runs without script errors or CSP violations', () => {
    // Chrome also logs every 4xx response as an error; the invalid profile causes one on purpose.
    const problems = consoleErrors.filter((text) => !text.startsWith('Failed to load resource'));
    expect(problems).toEqual([]);
  });

  it('greys every card when the daemon stops', async () => {
    expect(await page.getByTestId('unreachable-banner').count()).toBe(0);
    await expect.poll(() => row('echo').getByTestId('state').textContent()).toBe('Open');
    tokenBeforeStop = daemon!.token;
    await daemon!.stop('test stops the daemon');
    daemon = null;
    const banner = page.getByTestId('unreachable-banner');
    await expect.poll(() => banner.count(), { timeout: 20_000 }).toBe(1);
    expect(await banner.getAttribute('data-problem')).toBe('unreachable');
    expect(await banner.textContent()).toBe(
      'The daemon does not respond. It may not be running, or it may be suspended or hung: ' +
        'bastionless status says which and what to do. This page reconnects on its own once ' +
        'the daemon responds. If it does not, open the dashboard again at the address that ' +
        'bastionless dashboard prints.',
    );
    expect(await banner.locator('code').allTextContents()).toEqual([
      'bastionless status',
      'bastionless dashboard',
    ]);
    await expect.poll(() => page.getByTestId('stream-status').textContent()).toBe('Unreachable');
    await expectCardsUnknown();
    await page.screenshot({ path: join(SCREENSHOTS, 'daemon-stopped.png'), fullPage: true });

    await page.getByRole('button', { name: 'Profiles', exact: true }).click();
    await expect.poll(() => page.getByTestId('profiles-unknown').count()).toBe(1);
    expect(await banner.count()).toBe(1);
    for (const name of ['New profile', 'Import…', 'Export']) {
      expect(await page.getByRole('button', { name, exact: true }).isDisabled()).toBe(true);
    }
    expect(await page.locator('section.profiles').getAttribute('aria-disabled')).toBe('true');
    expect(await page.locator('section.profiles [role="status"]').count()).toBe(0);
    await page.getByRole('button', { name: 'Tunnels', exact: true }).click();
    await expect.poll(() => row('echo').count()).toBe(1);
  });

  it('follows a daemon restarted on its port', async () => {
    const port = Number(new URL(page.url()).port);
    daemon = await startHomeDaemon(port);
    // The daemon keeps its token file, so the page's requests work again without a reload.
    expect(daemon.token).toBe(tokenBeforeStop);
    const banner = page.getByTestId('unreachable-banner');
    // The page polls every 5 s while the daemon is away, and the events stream retries with a
    // backoff of at most 15 s.
    await expect
      .poll(() => page.getByTestId('stream-status').textContent(), { timeout: 30_000 })
      .toBe('Live');
    await expect.poll(() => banner.count(), { timeout: 10_000 }).toBe(0);
    const echoRow = row('echo');
    await expect
      .poll(() => echoRow.getByTestId('state').textContent(), { timeout: 10_000 })
      .not.toBe('Unknown');
    expect(await echoRow.getAttribute('aria-disabled')).toBe('false');
    expect(await echoRow.getByRole('switch').isDisabled()).toBe(false);
    expect(await echoRow.getByTestId('row-action').isDisabled()).toBe(false);
  });

  it('asks to reopen after a token change', async () => {
    const port = Number(new URL(page.url()).port);
    await daemon!.stop('test replaces the token');
    // Without its token file the next daemon creates a new token, which the page lacks.
    rmSync(resolvePaths({ env: { BASTIONLESS_HOME: home } }).tokenFile, { force: true });
    daemon = await startHomeDaemon(port);
    expect(daemon.token).not.toBe(tokenBeforeStop);
    const banner = page.getByTestId('unreachable-banner');
    await expect
      .poll(() => banner.getAttribute('data-problem'), { timeout: 30_000 })
      .toBe('token-rejected');
    expect(await banner.textContent()).toBe(
      "The daemon rejected this page's access token. The daemon now has another token, so " +
        'open the dashboard again at the address that bastionless dashboard prints, or from ' +
        'the tray menu.',
    );
    await expect.poll(() => page.getByTestId('stream-status').textContent()).toBe('Token rejected');
    await expectCardsUnknown();

    await page.goto(`${daemon.url}/#token=${daemon.token}`);
    await page.reload();
    await expect.poll(() => page.getByTestId('stream-status').textContent()).toBe('Live');
    expect(await banner.count()).toBe(0);
    await expect.poll(() => row('echo').count()).toBe(1);
  });
});

/** Checks that no card claims a state or offers a control while the daemon is lost. */
async function expectCardsUnknown(): Promise<void> {
  await expect.poll(() => page.locator('article[data-tunnel]').count()).toBeGreaterThan(0);
  const cards = await page.locator('article[data-tunnel]').all();
  for (const card of cards) {
    expect(await card.getAttribute('aria-disabled')).toBe('true');
    expect(await card.getByTestId('state').textContent()).toBe('Unknown');
    expect(await card.getByTestId('state-sentence').textContent()).toBe(
      'The dashboard cannot reach the daemon.',
    );
    expect(await card.getByRole('switch').isDisabled()).toBe(true);
    expect(await card.getByRole('switch').getAttribute('aria-checked')).toBe('false');
    expect(await card.getByRole('switch').getAttribute('class')).toContain('switch-unknown');
    expect(await card.getByTestId('row-action').isDisabled()).toBe(true);
    expect(await card.getByTestId('active-connections').textContent()).toBe('unknown');
    const chart = card.getByTestId('traffic-chart');
    expect(await chart.getAttribute('data-stale')).toBe('true');
    expect(await chart.locator('figcaption').textContent()).toMatch(/^current rate unknown/);
    expect(await card.innerText()).not.toMatch(/\bOpen\b/);
  }
  for (const button of await page.getByRole('button', { name: /^(Start|Stop) all$/ }).all()) {
    expect(await button.isDisabled()).toBe(true);
  }
}
