import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const LAUNCHER = join(ROOT, 'electron', 'launch.mjs');
const sandbox = mkdtempSync(join(tmpdir(), 'bastionless-launch-'));

afterAll(() => rmSync(sandbox, { recursive: true, force: true }));

/** Copies launch.mjs into a fresh folder whose node_modules/electron has `index` as its main. */
function launcherWithFakeElectron(name: string, index: string): string {
  const dir = join(sandbox, name);
  mkdirSync(join(dir, 'electron'), { recursive: true });
  mkdirSync(join(dir, 'node_modules', 'electron'), { recursive: true });
  copyFileSync(LAUNCHER, join(dir, 'electron', 'launch.mjs'));
  writeFileSync(join(dir, 'node_modules', 'electron', 'index.js'), index);
  writeFileSync(
    join(dir, 'node_modules', 'electron', 'package.json'),
    JSON.stringify({ name: 'electron', version: '40.0.0', main: 'index.js' }),
  );
  return join(dir, 'electron', 'launch.mjs');
}

function run(args: string[]) {
  return spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 60_000, cwd: ROOT });
}

describe('electron/launch.mjs', () => {
  it('explains how to get Electron when the package is missing', () => {
    const result = spawnSync('npm', ['run', '--silent', 'tray'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('the electron package is not installed');
    expect(result.stderr).toContain('npm install electron@40');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('explains a package without its binary', () => {
    const launcher = launcherWithFakeElectron(
      'no-binary',
      // The message the electron package's index.js throws when its binary was not downloaded.
      "throw new Error('Electron failed to install correctly, please delete " +
        "node_modules/electron and try installing again');",
    );
    const result = run([launcher]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('installed but its binary is missing');
    expect(result.stderr).toContain('Electron failed to install correctly');
    expect(result.stderr).toContain('npm install electron@40');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('explains a binary path that does not exist', () => {
    const launcher = launcherWithFakeElectron(
      'missing-path',
      "module.exports = '/nonexistent/electron-binary';",
    );
    const result = run([launcher]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('binary was not found at /nonexistent/electron-binary');
  });

  it('bundles main and preload without Electron', () => {
    const result = run([LAUNCHER, '--bundle-only']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const dist = join(ROOT, 'dist', 'electron');
    expect(statSync(join(dist, 'main.cjs')).size).toBeGreaterThan(1000);
    expect(statSync(join(dist, 'preload.cjs')).size).toBeGreaterThan(100);
  });
});
