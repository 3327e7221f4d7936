import { lstatSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeFileSystemError } from '../../daemon/cli/errors.js';

/** Returns the error a real file system call throws. */
function thrownBy(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  throw new Error('the call did not throw');
}

describe('describeFileSystemError', () => {
  it('names the path and fix for EACCES', () => {
    const error = Object.assign(
      new Error("EACCES: permission denied, lstat '/home/alice/.bastionless/state/daemon.pid'"),
      { code: 'EACCES', syscall: 'lstat', path: '/home/alice/.bastionless/state/daemon.pid' },
    );
    expect(describeFileSystemError(error)).toBe(
      'lstat /home/alice/.bastionless/state/daemon.pid failed: permission denied; check the owner and mode of /home/alice/.bastionless/state/daemon.pid and of the folders above it (`ls -ld /home/alice/.bastionless/state/daemon.pid`), or set BASTIONLESS_HOME to a folder you own',
    );
  });

  it('words a real ENOTDIR without a fix', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bastionless-fs-error-'));
    try {
      const file = join(dir, 'file');
      writeFileSync(file, '');
      const error = thrownBy(() => lstatSync(join(file, 'child')));
      expect(describeFileSystemError(error)).toBe(
        `lstat ${join(file, 'child')} failed: not a directory`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('skips errors without a path', () => {
    expect(describeFileSystemError(new Error('plain'))).toBeNull();
    expect(describeFileSystemError(Object.assign(new Error('x'), { code: 'ERR_X' }))).toBeNull();
    expect(describeFileSystemError('text')).toBeNull();
    expect(describeFileSystemError(null)).toBeNull();
  });
});
