// Errors the CLI prints as one sentence before exiting with a non-zero code.

import type { ConfigError } from '../config/errors.js';
import { configErrorText } from '../config/file-errors.js';

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export class CliError extends Error {
  override readonly name = 'CliError';

  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
    /** Extra lines printed after the message, e.g. one per invalid field. */
    readonly details: string[] = [],
  ) {
    super(message);
  }
}

export function daemonNotRunning(): CliError {
  return new CliError('the daemon is not running; start it with `bastionless start`');
}

/**
 * Turns a config file error into a CLI error with the same words for every command. Pass
 * `leftUnchanged` from commands that would have written the file.
 */
export function configFileError(
  error: ConfigError,
  options: { leftUnchanged?: boolean } = {},
): CliError {
  const { message, details } = configErrorText(error, options);
  return new CliError(message, EXIT_FAILURE, details);
}

function permissionFix(path: string): string {
  return `check the owner and mode of ${path} and of the folders above it (\`ls -ld ${path}\`), or set BASTIONLESS_HOME to a folder you own`;
}

/** Fixes for file system errors that the user can act on, by Node.js error code. */
const FILE_SYSTEM_FIXES: Readonly<Record<string, (path: string) => string>> = {
  EACCES: permissionFix,
  EPERM: permissionFix,
  ENOSPC: () => 'free some disk space and run the command again',
  EROFS: () => 'set BASTIONLESS_HOME to a folder on a writable file system',
};

/**
 * Formats a Node.js file system error (one with `syscall` and `path`) as one sentence with the
 * path and, for permission and disk problems, the fix. Returns null for any other error.
 */
export function describeFileSystemError(error: unknown): string | null {
  if (typeof error !== 'object' || error === null) {
    return null;
  }
  const { code, syscall, path } = error as NodeJS.ErrnoException;
  if (typeof code !== 'string' || typeof syscall !== 'string' || typeof path !== 'string') {
    return null;
  }
  // Node's message reads "EACCES: permission denied, lstat '/path'"; keep the middle part.
  const reason = /^[A-Z]+: ([^,]+),/.exec((error as Error).message)?.[1] ?? code;
  const fix = FILE_SYSTEM_FIXES[code];
  const sentence = `${syscall} ${path} failed: ${reason}`;
  return fix ? `${sentence}; ${fix(path)}` : sentence;
}
