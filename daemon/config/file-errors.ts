// ConfigErrors for a config file that cannot be read, parsed or validated. Each message names
// the file, the problem and the fix, and `reason` carries the problem alone, so the CLI, the
// control API and the daemon log describe the same file in the same words.

import { ConfigError, type FieldIssue } from './errors.js';
import { jsonErrorWithLine } from './json-position.js';

/** Fixes for read errors whose cause the user can act on, by Node.js error code. */
const READ_PROBLEMS: Readonly<Record<string, { reason: string; fix: (file: string) => string }>> = {
  EACCES: {
    reason: 'permission denied',
    fix: (file) => `check its owner and mode (for example \`chmod 600 ${file}\`)`,
  },
  EPERM: {
    reason: 'operation not permitted',
    fix: (file) => `check its owner and mode (for example \`chmod 600 ${file}\`)`,
  },
  EISDIR: {
    reason: 'it is a directory',
    fix: () => 'move the directory aside, or choose a file with --config FILE',
  },
  ENOTDIR: {
    reason: 'a component of its path is not a directory',
    fix: () => 'check the path, or choose another file with --config FILE',
  },
  ELOOP: {
    reason: 'its path has too many symbolic links',
    fix: () => 'check where its symbolic links point',
  },
};

/** Returns the ERR_CONFIG_READ error for a failed read of `file`, other than ENOENT. */
export function readFailure(file: string, error: unknown): ConfigError {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const known = READ_PROBLEMS[code];
  const reason = known?.reason ?? (error as Error).message;
  const fix = known?.fix(file) ?? 'check that it is a readable file';
  return new ConfigError('ERR_CONFIG_READ', `cannot read config file ${file}: ${reason}; ${fix}`, {
    cause: error,
    reason,
  });
}

/** Returns the ERR_CONFIG_PARSE error for `text`, which JSON.parse rejected with `error`. */
export function parseFailure(file: string, text: string, error: unknown): ConfigError {
  if (text.trim() === '') {
    return new ConfigError(
      'ERR_CONFIG_PARSE',
      `config file ${file} is empty; delete it and add profiles with \`bastionless add\`, or write {"version": 2, "profiles": []} into it`,
      { cause: error, reason: 'the file is empty' },
    );
  }
  const detail = jsonErrorWithLine((error as Error).message, text);
  return new ConfigError(
    'ERR_CONFIG_PARSE',
    `config file ${file} is not valid JSON (${detail}); fix the file, it was left unchanged`,
    { cause: error, reason: `not valid JSON (${detail})` },
  );
}

/** Returns the ERR_CONFIG_INVALID error that names the first issue and counts the others. */
export function invalidFailure(file: string, issues: FieldIssue[]): ConfigError {
  const first = issues[0]?.message ?? 'invalid';
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  const reason = `${first}${more}`;
  return new ConfigError(
    'ERR_CONFIG_INVALID',
    `config file ${file} is invalid: ${reason}; fix the file, it was left unchanged`,
    { fields: issues, reason },
  );
}

/**
 * Returns the clause that explains a name the daemon does not know while it rejects the config
 * file, because the profile may be in the file it could not load.
 */
export function rejectedConfigClause(errorMessage: string): string {
  return `the daemon rejected the current config file, so profiles added to it are not loaded: ${errorMessage}`;
}
