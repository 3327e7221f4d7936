// Whole-file writes that readers never see half done.

import { randomBytes } from 'node:crypto';
import { mkdirSync, openSync, closeSync, writeSync, fsyncSync, renameSync, rmSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

/**
 * Writes `data` to a temporary file next to `file`, flushes it, then renames it over `file`.
 * A rename within one directory is atomic on POSIX file systems and on NTFS, so a reader sees
 * either the old or the new content. The temporary file is removed if any step fails.
 */
export function writeFileAtomic(file: string, data: string, mode = 0o600): void {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  // 'wx' fails if the name exists, so a planted file or symlink is never followed.
  const fd = openSync(temp, 'wx', mode);
  try {
    try {
      writeSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}
