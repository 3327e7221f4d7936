// `logs`: print the daemon's JSON log lines as readable text, and follow new lines with -f.

import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { integerOption, parseCommandArgs } from './args.js';
import { pathsFor, print, type Command } from './command.js';
import { CliError } from './errors.js';

const FOLLOW_POLL_MS = 500;
/** Reading stops this far from the end, so a huge log never loads whole into memory. */
const MAX_TAIL_BYTES = 4 * 1024 * 1024;
const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
const HIDDEN_FIELDS = new Set(['time', 'level', 'msg', 'pid', 'hostname']);
const STACK_INDENT = '    ';

/**
 * An error as the daemon's `err` serializer writes it, with the serialized cause in `cause`.
 * Logs of older releases have no `cause`, and their `stack` ends with the causes' stacks.
 */
interface SerializedError {
  message: string;
  stack?: string;
  code?: unknown;
  cause?: unknown;
  aggregateErrors?: SerializedError[];
}

function isSerializedError(value: unknown): value is SerializedError {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const shape = value as Record<string, unknown>;
  return typeof shape.message === 'string' && typeof shape.stack === 'string';
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * Drops each cause message that repeats the text before it. Logs of older releases used pino's
 * standard err serializer, which writes "message: cause message", and wrappers such as
 * "StartSession on i-0abc failed: …" already end with their cause's message, which would then
 * appear twice.
 */
export function withoutRepeatedCauses(message: string): string {
  let result = message;
  let index = result.lastIndexOf(': ');
  while (index > 0) {
    const head = result.slice(0, index);
    const tail = result.slice(index + 2);
    if (tail.length > 0 && head.endsWith(tail)) {
      result = head;
    }
    index = result.lastIndexOf(': ', index - 1);
  }
  return result;
}

/** Returns the error's message, or its members' messages when it has none (AggregateError). */
function errorMessage(error: SerializedError): string {
  if (error.message) {
    return withoutRepeatedCauses(oneLine(error.message));
  }
  const members = (error.aggregateErrors ?? []).filter(isSerializedError);
  return members.map((member) => oneLine(member.message)).join('; ');
}

/**
 * Returns the stack lines of the error, of its causes and of its AggregateError members,
 * indented. Each cause's stack starts with "caused by:", as pino's standard serializer writes.
 */
function stackLines(error: SerializedError): string[] {
  const members = (error.aggregateErrors ?? []).filter(isSerializedError);
  return [error, ...members].flatMap((item) =>
    stackWithCauses(item)
      .split('\n')
      .map((line) => `${STACK_INDENT}${line.trim()}`),
  );
}

function stackWithCauses(error: SerializedError): string {
  let stack = error.stack ?? '';
  const seen = new Set<unknown>([error]);
  let cause = error.cause;
  while (isSerializedError(cause) && !seen.has(cause)) {
    seen.add(cause);
    stack = `${stack}\ncaused by: ${cause.stack}`;
    cause = cause.cause;
  }
  return stack;
}

function formatField(key: string, value: unknown): string {
  return `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`;
}

export interface FormatOptions {
  /** Prints the stack of each logged error on the lines after the entry. */
  verbose?: boolean;
}

/**
 * Formats one pino JSON line as `time level message field=value …`. A logged error becomes
 * its code and message on that line, and its stack follows only with `verbose`. A line that
 * is not JSON is returned as it is.
 */
export function formatLogLine(line: string, options: FormatOptions = {}): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof entry !== 'object' || entry === null) {
    return line;
  }
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString() : '';
  const level = LEVELS[entry.level as number] ?? String(entry.level ?? '');
  const fields: string[] = [];
  const errors: Array<[string, SerializedError]> = [];
  for (const [key, value] of Object.entries(entry)) {
    if (HIDDEN_FIELDS.has(key)) {
      continue;
    }
    if (isSerializedError(value)) {
      errors.push([key, value]);
    } else {
      fields.push(formatField(key, value));
    }
  }
  for (const [key, error] of errors) {
    // An entry such as { code, err } already names the code once.
    if (error.code !== undefined && entry.code === undefined) {
      fields.push(formatField('code', error.code));
    }
    fields.push(formatField(key, errorMessage(error)));
  }
  const head = `${time} ${level.padEnd(5)} ${String(entry.msg ?? '')}`;
  const lines = [fields.length > 0 ? `${head} ${fields.join(' ')}` : head];
  if (options.verbose) {
    lines.push(...errors.flatMap(([, error]) => stackLines(error)));
  }
  return lines.join('\n');
}

function readRange(file: string, start: number, end: number): string {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(end - start);
    const read = readSync(fd, buffer, 0, buffer.length, start);
    return buffer.subarray(0, read).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

function fileSize(file: string): number | null {
  try {
    return statSync(file).size;
  } catch {
    return null;
  }
}

export const logsCommand: Command = {
  name: 'logs',
  summary: 'print the daemon log',
  help: `Usage: bastionless logs [-f] [-n N] [--verbose] [--json] [--config FILE]

Prints the last lines of the daemon log from the state directory, one line per entry.
A logged error shows as its code and message.

  -f, --follow   keep printing new lines until Ctrl-C
  -n, --lines N  number of log entries to print first (default 50)
  --verbose      also print the stack trace of each logged error, below its entry
  --json         print the raw JSON lines, stack traces included

Examples:
  bastionless logs -n 200
  bastionless logs -f
  bastionless logs --verbose -n 20`,
  async run(argv) {
    const args = parseCommandArgs('logs', argv, {
      follow: { type: 'boolean', short: 'f' },
      lines: { type: 'string', short: 'n' },
      json: { type: 'boolean' },
      verbose: { type: 'boolean' },
    });
    const paths = pathsFor(args);
    const count = integerOption('logs', args, 'lines') ?? 50;
    const verbose = args.values.verbose === true;
    const render = (line: string) =>
      print(args.values.json ? line : formatLogLine(line, { verbose }));

    let size = fileSize(paths.logFile);
    if (size === null && !args.values.follow) {
      throw new CliError(
        `no daemon log at ${paths.logFile}; start the daemon with \`bastionless start\``,
      );
    }
    let offset = size ?? 0;
    if (size !== null) {
      const text = readRange(paths.logFile, Math.max(0, size - MAX_TAIL_BYTES), size);
      const lines = text.split('\n').filter((line) => line.length > 0);
      // slice(-0) would return every line, so a count of 0 needs its own case.
      for (const line of count === 0 ? [] : lines.slice(-count)) {
        render(line);
      }
    }
    if (!args.values.follow) {
      return 0;
    }

    let partial = '';
    for (;;) {
      await sleep(FOLLOW_POLL_MS);
      size = fileSize(paths.logFile);
      if (size === null) {
        continue;
      }
      // A smaller file means the log was rotated, so reading restarts at the top of the new one.
      if (size < offset) {
        offset = 0;
        partial = '';
      }
      if (size === offset) {
        continue;
      }
      const text =
        partial + readRange(paths.logFile, offset, Math.min(size, offset + MAX_TAIL_BYTES));
      offset = Math.min(size, offset + MAX_TAIL_BYTES);
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines.filter((entry) => entry.length > 0)) {
        render(line);
      }
    }
  },
};
