import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLivePid, resolvePaths } from '../../daemon/paths.js';

describe('resolvePaths', () => {
  it('puts everything under BASTIONLESS_HOME', () => {
    const paths = resolvePaths({
      env: { BASTIONLESS_HOME: '/tmp/bl' },
      platform: 'linux',
      homedir: '/home/u',
    });
    expect(paths.configFile).toBe('/tmp/bl/config.json');
    expect(paths.stateDir).toBe('/tmp/bl/state');
    expect(paths.tokenFile).toBe('/tmp/bl/state/token');
  });

  it('uses conf and XDG locations on Linux', () => {
    const paths = resolvePaths({ env: {}, platform: 'linux', homedir: '/home/u' });
    expect(paths.configFile).toBe('/home/u/.config/bastionless-nodejs/config.json');
    expect(paths.stateDir).toBe('/home/u/.local/state/bastionless');
  });

  it('uses Library folders on macOS', () => {
    const paths = resolvePaths({ env: {}, platform: 'darwin', homedir: '/Users/u' });
    expect(paths.configFile).toBe('/Users/u/Library/Preferences/bastionless-nodejs/config.json');
    expect(paths.stateDir).toBe('/Users/u/Library/Application Support/bastionless');
  });

  it('lets --config win over BASTIONLESS_CONFIG and BASTIONLESS_HOME', () => {
    const env = { BASTIONLESS_HOME: '/tmp/bl', BASTIONLESS_CONFIG: '/tmp/env.json' };
    expect(resolvePaths({ env, platform: 'linux' }).configFile).toBe('/tmp/env.json');
    expect(resolvePaths({ env, platform: 'linux', configFile: '/tmp/flag.json' }).configFile).toBe(
      '/tmp/flag.json',
    );
  });
});

describe('readLivePid', () => {
  function withPidFile(write: (file: string) => void): number | null {
    const dir = mkdtempSync(join(tmpdir(), 'bastionless-pid-'));
    try {
      const file = join(dir, 'daemon.pid');
      write(file);
      return readLivePid(file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('returns a live pid', () => {
    expect(withPidFile((file) => writeFileSync(file, `${process.pid}\n`))).toBe(process.pid);
  });

  it('returns null for a missing file', () => {
    expect(withPidFile(() => undefined)).toBeNull();
  });

  it('returns null for a FIFO without blocking', () => {
    expect(withPidFile((file) => execFileSync('mkfifo', [file]))).toBeNull();
  });
});
