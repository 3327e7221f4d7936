// ConfigErrors for a config file that cannot be read, parsed or validated. Each message names
// the file, the problem and the fix, and `reason` carries the problem alone, so the CLI, the
// control API and the daemon log describe the same file in the same words.

import { ConfigError, type ConfigErrorCode, type FieldIssue } from './errors.js';
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

/**
 * Problems listed after the first one of an invalid file. A file with more problems is
 * probably not a config file at all, and the rest would push the first one off the screen.
 */
export const MAX_LISTED_ISSUES = 20;

/** Fix for a file that is not valid JSON or fails validation. */
const EDIT_FIX =
  'fix it in an editor, or move it aside and add the profiles again with `bastionless add`';

/** Builds a ConfigError whose message is `problem; fix`, keeping the fix apart for configErrorText. */
function fileError(
  code: ConfigErrorCode,
  problem: string,
  fix: string,
  options: { cause?: unknown; reason: string; fields?: FieldIssue[] },
): ConfigError {
  return new ConfigError(code, `${problem}; ${fix}`, { ...options, fix });
}

/** Returns the ERR_CONFIG_READ error for a failed read of `file`, other than ENOENT. */
export function readFailure(file: string, error: unknown): ConfigError {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const known = READ_PROBLEMS[code];
  const reason = known?.reason ?? (error as Error).message;
  const fix = known?.fix(file) ?? 'check that it is a readable file';
  return fileError('ERR_CONFIG_READ', `cannot read config file ${file}: ${reason}`, fix, {
    cause: error,
    reason,
  });
}

/** Returns the ERR_CONFIG_PARSE error for `text`, which JSON.parse rejected with `error`. */
export function parseFailure(file: string, text: string, error: unknown): ConfigError {
  if (text.trim() === '') {
    return fileError(
      'ERR_CONFIG_PARSE',
      `config file ${file} is empty`,
      'write {"version": 2, "profiles": []} into it, or delete it and add profiles with `bastionless add`',
      { cause: error, reason: 'the file is empty' },
    );
  }
  const detail = jsonErrorWithLine((error as Error).message, text);
  const reason = `not valid JSON (${detail})`;
  return fileError('ERR_CONFIG_PARSE', `config file ${file} is ${reason}`, EDIT_FIX, {
    cause: error,
    reason,
  });
}

/**
 * Returns the ERR_CONFIG_INVALID error that names the first issue and counts the others. The
 * CLI lists the others with configErrorText.
 */
export function invalidFailure(file: string, issues: FieldIssue[]): ConfigError {
  const first = issues[0]?.message ?? 'invalid';
  const reason = `${first}${moreIssuesSuffix(issues.length)}`;
  return fileError('ERR_CONFIG_INVALID', `config file ${file} is invalid: ${reason}`, EDIT_FIX, {
    fields: issues,
    reason,
  });
}

/** Count of further issues that invalidFailure appends to the first one. */
function moreIssuesSuffix(issueCount: number): string {
  return issueCount > 1 ? ` (and ${issueCount - 1} more)` : '';
}

/** Message and detail lines a command prints for a config file error. */
export interface ConfigErrorText {
  message: string;
  /**
   * Lines printed after the message. For an invalid file: one indented line per problem after
   * the first, then the fix, so the fix is the last line.
   */
  details: string[];
}

/**
 * Words a config file error the same way for every command. `leftUnchanged` is for commands
 * that would have written the file, such as `add`, so the message states that the file they
 * read and rejected was left unchanged. An invalid file gets each problem with its field path:
 * the first in the message and the others as detail lines up to MAX_LISTED_ISSUES. Its fix is
 * the last line, because a problem may end in its own next step, e.g. `use 1-65535`.
 */
export function configErrorText(
  error: ConfigError,
  options: { leftUnchanged?: boolean } = {},
): ConfigErrorText {
  const suffix = error.fix === undefined ? undefined : `; ${error.fix}`;
  if (suffix === undefined || !error.message.endsWith(suffix)) {
    return { message: error.message, details: [] };
  }
  const problem = error.message.slice(0, -suffix.length);
  // A file that could not be read is no file to change, e.g. a directory, so only a file that
  // was read and rejected gets the note.
  const unchanged =
    options.leftUnchanged && error.code !== 'ERR_CONFIG_READ' ? ', so it was left unchanged' : '';
  const reasonClause = `: ${error.reason}`;
  if (
    error.code !== 'ERR_CONFIG_INVALID' ||
    error.fields.length === 0 ||
    !problem.endsWith(reasonClause)
  ) {
    return { message: `${problem}${unchanged}${suffix}`, details: [] };
  }
  const head = problem.slice(0, -reasonClause.length);
  const [first, ...rest] = error.fields;
  return {
    message: `${head}${unchanged}: ${issueText(first!)}`,
    details: [...issueLines(rest), error.fix!],
  };
}

/** Returns `path: message` for an issue, or the message alone for an issue of the whole file. */
function issueText(issue: FieldIssue): string {
  return issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`;
}

/** Returns an indented line per issue, up to MAX_LISTED_ISSUES, and one for the rest. */
function issueLines(issues: FieldIssue[]): string[] {
  const lines = issues.slice(0, MAX_LISTED_ISSUES).map((issue) => `  ${issueText(issue)}`);
  if (issues.length > MAX_LISTED_ISSUES) {
    lines.push(`  and ${issues.length - MAX_LISTED_ISSUES} more problems`);
  }
  return lines;
}

/**
 * Returns the clause a 404 for a tunnel or group name adds while the daemon rejects its config
 * file: the file's problem comes first, because the name may be defined in that file.
 */
export function rejectedConfigClause(errorMessage: string): string {
  return `the daemon did not load its config file: ${errorMessage}`;
}
