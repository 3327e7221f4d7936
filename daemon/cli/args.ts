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
    throw new CliError(
      `${(error as Error).message}; see \`bastionless ${command} --help\``,
      EXIT_USAGE,
    );
  }
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
