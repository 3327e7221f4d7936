#!/usr/bin/env node
// Starts the tray app (`npm run tray`): checks that Electron and its binary are installed,
// bundles main.ts, the preloads and the MFA dialog page into dist/electron with esbuild, then
// runs Electron. `--bundle-only` stops after bundling, which works without Electron, and
// `--out-dir DIR` bundles into DIR instead of dist/electron.

import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const electronDir = dirname(fileURLToPath(import.meta.url));
const root = join(electronDir, '..');
const require = createRequire(import.meta.url);
const outDirIndex = process.argv.indexOf('--out-dir');
const OUT_DIR =
  outDirIndex > 0 && process.argv[outDirIndex + 1]
    ? resolve(process.argv[outDirIndex + 1])
    : join(root, 'dist', 'electron');

const INSTALL_HINT =
  'Electron is an optional dependency and is not downloaded everywhere. Install it on a ' +
  'machine with network access with `npm install electron@40`, then run `npm run tray` again. ' +
  'Without the tray, open the dashboard with `bastionless dashboard`.';

function fail(message) {
  process.stderr.write(`bastionless tray: ${message}\n`);
  process.exit(1);
}

/** Returns the Electron binary path, or exits with the install hint. */
function findElectron() {
  try {
    require.resolve('electron');
  } catch {
    fail(`the electron package is not installed.\n${INSTALL_HINT}`);
  }
  let binary;
  try {
    // The electron package exports the path of its binary, and throws when the download
    // that its install script makes did not happen.
    binary = require('electron');
  } catch (error) {
    const reason = String(error?.message ?? error).split('\n')[0];
    fail(
      `the electron package is installed but its binary is missing (${reason}).\n${INSTALL_HINT}`,
    );
  }
  if (typeof binary !== 'string' || !existsSync(binary)) {
    fail(`the Electron binary was not found at ${String(binary)}.\n${INSTALL_HINT}`);
  }
  return binary;
}

async function bundle() {
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    fail('esbuild is missing; run `npm install` in the repository to get the dev dependencies.');
  }
  await esbuild.build({
    entryPoints: {
      main: join(electronDir, 'main.ts'),
      preload: join(electronDir, 'preload.ts'),
      'mfa-preload': join(electronDir, 'mfa-preload.ts'),
    },
    // Under the repository's dist/, which git, eslint and prettier already ignore.
    outdir: OUT_DIR,
    outExtension: { '.js': '.cjs' },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: true,
    // ws loads these native speed-ups only when present.
    external: ['electron', 'bufferutil', 'utf-8-validate'],
    logLevel: 'warning',
  });
  // The MFA dialog is a local page of the app, loaded with loadFile, never from the network.
  const dialogDir = join(OUT_DIR, 'mfa-dialog');
  await esbuild.build({
    entryPoints: { renderer: join(electronDir, 'mfa-dialog', 'renderer.ts') },
    outdir: dialogDir,
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'chrome120',
    logLevel: 'warning',
  });
  mkdirSync(dialogDir, { recursive: true });
  for (const file of ['index.html', 'dialog.css']) {
    copyFileSync(join(electronDir, 'mfa-dialog', file), join(dialogDir, file));
  }
}

/** Command that runs the daemon: the built CLI when present, else the TypeScript source. */
function daemonArgs() {
  const built = join(root, 'dist', 'daemon', 'cli', 'main.js');
  if (existsSync(built)) return [join(root, 'bin', 'bastionless.js'), 'daemon'];
  return ['--import', 'tsx', join(root, 'daemon', 'cli', 'main.ts'), 'daemon'];
}

const bundleOnly = process.argv.includes('--bundle-only');
const electronBinary = bundleOnly ? null : findElectron();
await bundle();
if (bundleOnly) process.exit(0);

const child = spawn(electronBinary, [join(OUT_DIR, 'main.cjs')], {
  stdio: 'inherit',
  cwd: root,
  env: { ...process.env, BASTIONLESS_DAEMON_ARGS: JSON.stringify(daemonArgs()) },
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
