// Argument parsing shared by the commands, on top of node:util parseArgs.

import { parseArgs, type ParseArgsConfig } from 'node:util';
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

export function parseCommandArgs(command: string, argv: string[], options: OptionSpec): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...COMMON_OPTIONS, ...options },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as ParsedArgs['values'], positionals };
  } catch (error) {
    throw new CliError(describeParseError(command, error), EXIT_USAGE);
  }
}

/**
 * Rewrites a node:util parseArgs error as one sentence that names the flag and the help
 * command. Node's own text spans several lines and suggests `--` quoting that rarely applies.
 */
export function describeParseError(command: string, error: unknown): string {
  const help = `see \`bastionless ${command} --help\``;
  const code = (error as NodeJS.ErrnoException).code;
  const message = (error as Error).message ?? String(error);
  // Node quotes the offending flag first, e.g. "Option '-n, --lines <value>' argument missing".
  const quoted = /'([^']+)'/.exec(message)?.[1]?.replace(/ <value>$/, '');
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && quoted) {
    return `unknown option ${quoted}; ${help}`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && quoted) {
    if (message.includes('does not take an argument')) {
      return `option ${quoted} takes no value; ${help}`;
    }
    // An option followed by a word starting with "-" (e.g. `-n -5`) also ends up here.
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

/** Parses an integer option; absent gives undefined, anything but digits is a usage error. */
export function integerOption(command: string, args: ParsedArgs, name: string): number | undefined {
  const value = stringOption(args, name);
  if (value === undefined) {
    return undefined;
  }
  if (!/^\d+$/.test(value)) {
    throw new CliError(
      `--${name} "${value}" is not a whole number; see \`bastionless ${command} --help\``,
      EXIT_USAGE,
    );
  }
  return Number(value);
}

export function requirePositional(command: string, args: ParsedArgs, what: string): string {
  const value = args.positionals[0];
  if (value === undefined) {
    throw new CliError(`missing ${what}; usage: see \`bastionless ${command} --help\``, EXIT_USAGE);
  }
  if (args.positionals.length > 1) {
    throw new CliError(
      `unexpected argument "${args.positionals[1]}"; see \`bastionless ${command} --help\``,
      EXIT_USAGE,
    );
  }
  return value;
}
