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

/** Formats one pino JSON line; a line that is not JSON is returned as it is. */
export function formatLogLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString() : '';
  const level = LEVELS[entry.level as number] ?? String(entry.level ?? '');
  const context = Object.entries(entry)
    .filter(([key]) => !HIDDEN_FIELDS.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  return `${time} ${level.padEnd(5)} ${String(entry.msg ?? '')}${context ? ` ${context}` : ''}`;
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
  help: `Usage: bastionless logs [-f] [-n N] [--json] [--config FILE]

Prints the last lines of the daemon log from the state directory.

  -f, --follow   keep printing new lines until Ctrl-C
  -n, --lines N  number of lines to print first (default 50)
  --json         print the raw JSON lines`,
  async run(argv) {
    const args = parseCommandArgs('logs', argv, {
      follow: { type: 'boolean', short: 'f' },
      lines: { type: 'string', short: 'n' },
      json: { type: 'boolean' },
    });
    const paths = pathsFor(args);
    const count = integerOption('logs', args, 'lines') ?? 50;
    const render = (line: string) => print(args.values.json ? line : formatLogLine(line));

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
