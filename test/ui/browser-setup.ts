// Setup shared by the browser tests: the dashboard bundle the daemon serves, the AWS
// environment of a daemon that talks only to the emulator, and a page open on its dashboard.

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startDaemon, type RunningDaemon } from '../../daemon/daemon.js';
import { resolvePaths } from '../../daemon/paths.js';
import { launchChromium } from '../helpers/chromium.js';
import { clearEnv } from '../helpers/env.js';

const ROOT = join(import.meta.dirname, '..', '..');
/** Time the vite build may take on a busy two-core machine, in milliseconds. */
const BUILD_TIMEOUT_MS = 90_000;

/** Builds the dashboard into `outDir`, or throws with vite's error output. */
export function buildDashboard(outDir: string): void {
  const build = spawnSync(
    process.execPath,
    [
      join(ROOT, 'node_modules/vite/bin/vite.js'),
      'build',
      '--config',
      'ui/vite.config.ts',
      '--outDir',
      outDir,
      '--emptyOutDir',
      '--logLevel',
      'warn',
    ],
    { cwd: ROOT, encoding: 'utf8', timeout: BUILD_TIMEOUT_MS },
  );
  if (build.status !== 0) {
    throw new Error(`vite build failed with status ${build.status}: ${build.stderr}`);
  }
}

const EMULATOR_ENV = {
  AWS_ACCESS_KEY_ID: 'AKIAEMULATOREXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'emulator-secret',
  AWS_REGION: 'us-east-1',
  // Keeps the credential chain from asking the instance metadata service.
  AWS_EC2_METADATA_DISABLED: 'true',
} as const;

/**
 * Points the AWS SDK of this process at emulator credentials and an empty config file in
 * `home`, and returns a function that restores the environment. The emulator accepts any key.
 */
export function useEmulatorEnv(home: string): () => void {
  const restore = clearEnv([...Object.keys(EMULATOR_ENV), 'AWS_CONFIG_FILE']);
  Object.assign(process.env, EMULATOR_ENV);
  process.env.AWS_CONFIG_FILE = join(home, 'aws-config');
  writeFileSync(process.env.AWS_CONFIG_FILE, '');
  return restore;
}

/**
 * Starts a silent daemon in `home` that serves the dashboard from `uiDir`, and opens its page
 * in Chromium. The caller stops the daemon and closes the browser.
 */
export async function startDaemonWithPage(
  home: string,
  uiDir: string,
): Promise<{ daemon: RunningDaemon; browser: Browser; page: Page }> {
  const daemon = await startDaemon({
    paths: resolvePaths({ env: { BASTIONLESS_HOME: home } }),
    uiDir,
    logLevel: 'silent',
  });
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  await page.goto(`${daemon.url}/#token=${daemon.token}`);
  return { daemon, browser, page };
}
