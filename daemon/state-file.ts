// Bounded reads of the small files a daemon leaves in its state directory (token, lock, resume).
// Anything else found at those paths must not block start-up: readFileSync waits forever for a
// writer on a FIFO, follows a symlink to any file, and reads a multi-gigabyte file whole.

import {
  closeSync,
  constants as fsConstants,
  fstatSync,
  openSync,
  readSync,
  type Stats,
} from 'node:fs';

/** A state file that is not a regular file of at most the expected size. */
export class StateFileError extends Error {
  override readonly name = 'StateFileError';
  readonly code = 'ERR_STATE_FILE_INVALID';
  constructor(
    readonly file: string,
    /** Reason the file was not read, e.g. "it is a symbolic link". */
    readonly reason: string,
  ) {
    super(`${file} was not read because ${reason}`);
  }
}

/**
 * Reads `file` as UTF-8. Returns null when it does not exist. Throws StateFileError when it is
 * a symbolic link, not a regular file, larger than `maxBytes`, or cannot be opened or read.
 * O_NONBLOCK makes the open of a FIFO return at once, so the fstat check can reject it.
 */
export function readStateFile(
  file: string,
  maxBytes: number,
): { text: string; stat: Stats } | null {
  let fd: number;
  try {
    // O_NOFOLLOW and O_NONBLOCK are undefined on Windows, which has neither FIFOs nor this risk.
    fd = openSync(
      file,
      fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0) | (fsConstants.O_NONBLOCK ?? 0),
    );
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      return null;
    }
    // Linux and macOS report ELOOP for O_NOFOLLOW on a symlink, FreeBSD reports EMLINK.
    if (code === 'ELOOP' || code === 'EMLINK') {
      throw new StateFileError(file, 'it is a symbolic link');
    }
    throw new StateFileError(file, `it cannot be opened (${code ?? (error as Error).message})`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) {
      throw new StateFileError(file, 'it is not a regular file');
    }
    if (stat.size > maxBytes) {
      throw new StateFileError(file, `it is larger than ${maxBytes} bytes`);
    }
    // One byte more than allowed shows a file that grew after the fstat.
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (;;) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) {
        break;
      }
      length += read;
      if (length > maxBytes) {
        throw new StateFileError(file, `it is larger than ${maxBytes} bytes`);
      }
    }
    return { text: buffer.toString('utf8', 0, length), stat };
  } finally {
    closeSync(fd);
  }
}
