// Argument parsing shared by the commands, on top of node:util parseArgs.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import {
  AWS_REGION_PATTERN,
  missingRegionMessage,
  resolveRegion,
  type RegionRequest,
  type ResolvedRegion,
} from '../aws/region.js';
import { CliError, EXIT_USAGE } from './errors.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** Options every command accepts. */
export const COMMON_OPTIONS: OptionSpec = {
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

/** A negative number such as `-1` or `-0.5`, which parseArgs would take for an option. */
const NEGATIVE_NUMBER = /^-\d+(\.\d+)?$/;

/**
 * Joins an option that takes a value with a following negative number, e.g. `--local-port -1`
 * becomes `--local-port=-1`. parseArgs rejects a value that starts with "-" as ambiguous,
 * but no option here is spelt like a number, so the number is the value and can be reported
 * with the rule it breaks.
 */
export function joinNegativeValues(argv: string[], options: OptionSpec): string[] {
  const takesValue = new Map<string, string>();
  for (const [name, spec] of Object.entries(options)) {
    if (spec.type === 'string') {
      takesValue.set(`--${name}`, name);
      if (spec.short !== undefined) {
        takesValue.set(`-${spec.short}`, name);
      }
    }
  }
  const joined: string[] = [];
  for (let index = 0; index < argv.length; index += 1) {
    const token = argv[index]!;
    if (token === '--') {
      joined.push(...argv.slice(index));
      break;
    }
    const name = takesValue.get(token);
    const next = argv[index + 1];
    if (name !== undefined && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      joined.push(`--${name}=${next}`);
      index += 1;
    } else {
      joined.push(token);
    }
  }
  return joined;
}

/**
 * Parses the options of `command` plus COMMON_OPTIONS. Values of the options that mean the
 * same in every command (URLs, region, target id) are validated here, so each command
 * rejects them with the same usage error.
 */
export function parseCommandArgs(command: string, argv: string[], options: OptionSpec): ParsedArgs {
  return parseExactArgs(command, argv, { ...COMMON_OPTIONS, ...options });
}

/** Parses exactly `options`, for a command such as connect that takes no --config. */
export function parseExactArgs(command: string, argv: string[], options: OptionSpec): ParsedArgs {
  let args: ParsedArgs;
  try {
    const { values, positionals } = parseArgs({
      args: joinNegativeValues(argv, options),
      options,
      allowPositionals: true,
      strict: true,
    });
    args = { values: values as ParsedArgs['values'], positionals };
  } catch (error) {
    throw new CliError(describeParseError(command, error, options), EXIT_USAGE);
  }
  validateSharedOptions(command, args, options);
  return args;
}

/** Options validated by name in every command that has them. */
const SHARED_VALIDATORS: Record<string, (command: string, args: ParsedArgs, name: string) => void> =
  {
    'endpoint-url': urlOption,
    'ssm-endpoint': urlOption,
    region: regionOption,
    target: targetIdOption,
  };

function validateSharedOptions(command: string, args: ParsedArgs, options: OptionSpec): void {
  for (const [name, validate] of Object.entries(SHARED_VALIDATORS)) {
    if (options[name]?.type === 'string') {
      validate(command, args, name);
    }
  }
}

/**
 * Rewrites a node:util parseArgs error as one sentence that names the flag and the help
 * command. Node's own text spans several lines and suggests `--` quoting that rarely applies.
 */
export function describeParseError(
  command: string,
  error: unknown,
  options: OptionSpec = {},
): string {
  const help = helpPointer(command);
  const code = (error as NodeJS.ErrnoException).code;
  const message = (error as Error).message ?? String(error);
  // Node quotes the offending flag first, e.g. "Option '-n, --lines <value>' argument missing".
  const quoted = /'([^']+)'/.exec(message)?.[1]?.replace(/ <value>$/, '');
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && quoted) {
    const suggestion = quoted.startsWith('--')
      ? closestMatch(quoted.slice(2), Object.keys(options))
      : undefined;
    return suggestion === undefined
      ? `unknown option ${quoted}; ${help}`
      : `unknown option ${quoted}; did you mean --${suggestion}? See \`bastionless ${command} --help\``;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && quoted) {
    if (message.includes('does not take an argument')) {
      return `option ${quoted} takes no value; ${help}`;
    }
    // An option followed by a word starting with "-" (e.g. `--region -x`) also ends up here.
    return `option ${quoted} needs a value; ${help}`;
  }
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' && quoted) {
    return `unexpected argument "${quoted}"; ${help}`;
  }
  return `${message.split('\n')[0]}; ${help}`;
}

export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === 'string' ? value : undefined;
}

/** Accepted range of an integer option, and the noun that names its values in errors. */
export interface IntegerRange {
  /** Default 0. */
  min?: number;
  /** Default: no upper limit. */
  max?: number;
  /** Default `a whole number`; e.g. `a port`. */
  noun?: string;
}

/** The port range of TCP, for --remote-port and a --local-port that must be fixed. */
export const PORT_RANGE: IntegerRange = { min: 1, max: 65535, noun: 'a port' };

/** Ports of a listener, where 0 lets the system pick a free port. */
export const LISTEN_PORT_RANGE: IntegerRange = { min: 0, max: 65535, noun: 'a port' };

const TARGET_ID_PATTERN = /^(i|mi)-[0-9a-f]{8,17}$/;

function describeRange({ min = 0, max, noun = 'a whole number' }: IntegerRange): string {
  return max === undefined ? `${noun}, ${min} or more` : `${noun} ${min}-${max}`;
}

function helpPointer(command: string): string {
  return `see \`bastionless ${command} --help\``;
}

/** Shows a value as typed when it is one plain token, and quoted when it has spaces or quotes. */
function showValue(value: string): string {
  return /^[\w.:/@+-]+$/.test(value) ? value : JSON.stringify(value);
}

/**
 * Returns the usage error of every invalid option value: `invalid --NAME VALUE: must be RULE;
 * see \`bastionless COMMAND --help\``, with exit code 2.
 */
export function invalidOption(command: string, name: string, value: string, rule: string) {
  return new CliError(
    `invalid --${name} ${showValue(value)}: must be ${rule}; ${helpPointer(command)}`,
    EXIT_USAGE,
  );
}

/**
 * Parses an integer option; absent gives undefined. A value that is not a whole number within
 * `range` is a usage error that names the option, the value and the range.
 */
export function integerOption(
  command: string,
  args: ParsedArgs,
  name: string,
  range: IntegerRange = {},
): number | undefined {
  const value = stringOption(args, name);
  if (value === undefined) {
    return undefined;
  }
  const number = /^-?\d+$/.test(value) ? Number(value) : Number.NaN;
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = range;
  if (!Number.isSafeInteger(number) || number < min || number > max) {
    throw invalidOption(command, name, value, describeRange(range));
  }
  return number;
}

/**
 * Parses a URL option such as --endpoint-url; absent gives undefined. Anything but an
 * http:// or https:// URL with a host is a usage error that names the option and the value.
 */
export function urlOption(command: string, args: ParsedArgs, name: string): string | undefined {
  const value = stringOption(args, name);
  if (value === undefined) {
    return undefined;
  }
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || !/^https?:$/.test(url.protocol) || url.hostname === '') {
    throw invalidOption(
      command,
      name,
      value,
      'an http:// or https:// URL such as http://127.0.0.1:4566',
    );
  }
  return value;
}

/** Returns a string option that must match `pattern`, described by `rule` in the error. */
function patternOption(
  command: string,
  args: ParsedArgs,
  name: string,
  pattern: RegExp,
  rule: string,
): string | undefined {
  const value = stringOption(args, name);
  if (value !== undefined && !pattern.test(value)) {
    throw invalidOption(command, name, value, rule);
  }
  return value;
}

/** Parses a region option such as --region; absent gives undefined. */
export function regionOption(command: string, args: ParsedArgs, name = 'region') {
  return patternOption(command, args, name, AWS_REGION_PATTERN, 'an AWS region such as eu-west-1');
}

/** Parses a managed node id option such as --target; absent gives undefined. */
export function targetIdOption(command: string, args: ParsedArgs, name = 'target') {
  const rule = 'a managed node id such as i-0123456789abcdef0 or mi-0123456789abcdef0';
  return patternOption(command, args, name, TARGET_ID_PATTERN, rule);
}

/**
 * Resolves the region from --region, the AWS_* variables or the AWS config file. None found,
 * or a value from the variables or the file that is not a region, is a usage error.
 */
export function requireRegion(command: string, request: RegionRequest): ResolvedRegion {
  const resolved = resolveRegion(request);
  if (resolved === undefined) {
    throw new CliError(missingRegionMessage(request), EXIT_USAGE);
  }
  if (!AWS_REGION_PATTERN.test(resolved.region)) {
    throw new CliError(
      `invalid region ${showValue(resolved.region)} from ${resolved.source}: must be an AWS ` +
        `region such as eu-west-1; ${helpPointer(command)}`,
      EXIT_USAGE,
    );
  }
  return resolved;
}

/** A required option: its flag and whether the parsed arguments contain it. */
export type RequiredOption = [flag: string, present: (args: ParsedArgs) => boolean];

/** Throws one usage error that lists every required option that is missing. */
export function requireOptions(
  command: string,
  args: ParsedArgs,
  required: readonly RequiredOption[],
): void {
  const missing = required.filter(([, present]) => !present(args)).map(([flag]) => flag);
  if (missing.length > 0) {
    throw new CliError(`missing ${joinWithAnd(missing)}; ${helpPointer(command)}`, EXIT_USAGE);
  }
}

function joinWithAnd(items: string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/**
 * Returns the edit distance of two strings: the fewest insertions, deletions, substitutions
 * and swaps of adjacent characters between them (optimal string alignment), so the common
 * typo `stauts` is one edit from `status`.
 */
export function editDistance(left: string, right: string): number {
  const rows: number[][] = [Array.from({ length: right.length + 1 }, (_, index) => index)];
  for (let row = 1; row <= left.length; row += 1) {
    const current = [row];
    for (let column = 1; column <= right.length; column += 1) {
      const substitution = left[row - 1] === right[column - 1] ? 0 : 1;
      let distance = Math.min(
        rows[row - 1]![column]! + 1,
        current[column - 1]! + 1,
        rows[row - 1]![column - 1]! + substitution,
      );
      const swapped =
        row > 1 &&
        column > 1 &&
        left[row - 1] === right[column - 2] &&
        left[row - 2] === right[column - 1];
      if (swapped) {
        distance = Math.min(distance, rows[row - 2]![column - 2]! + 1);
      }
      current.push(distance);
    }
    rows.push(current);
  }
  return rows[left.length]![right.length]!;
}

/**
 * Returns the candidate closest to `input` by edit distance. Returns undefined when even the
 * closest one needs more edits than a third of its length (at least 1), so a typo gets a
 * suggestion and an unrelated word such as `ls` does not. Ties go to the earlier candidate.
 */
export function closestMatch(input: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(input.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best === undefined || bestDistance > Math.max(1, Math.floor(best.length / 3))) {
    return undefined;
  }
  return best;
}

export function requirePositional(command: string, args: ParsedArgs, what: string): string {
  const value = args.positionals[0];
  if (value === undefined) {
    throw new CliError(`missing ${what}; ${helpPointer(command)}`, EXIT_USAGE);
  }
  if (args.positionals.length > 1) {
    throw unexpectedArgument(command, args.positionals[1]!);
  }
  return value;
}

export function unexpectedArgument(command: string, value: string): CliError {
  return new CliError(`unexpected argument "${value}"; ${helpPointer(command)}`, EXIT_USAGE);
}
