// The shape every CLI command has, so main.ts can list, dispatch and print help uniformly.

import { resolvePaths, type BastionlessPaths } from '../paths.js';
import { stringOption, type ParsedArgs } from './args.js';

export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Full help text printed by `bastionless NAME --help`. */
  help: string;
  /** Runs the command and resolves to the exit code. */
  run(argv: string[]): Promise<number>;
}

export function pathsFor(args: ParsedArgs): BastionlessPaths {
  return resolvePaths({ configFile: stringOption(args, 'config') });
}

export function print(line = ''): void {
  process.stdout.write(`${line}\n`);
}
