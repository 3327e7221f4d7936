// Argument parsing shared by the commands: negative numbers as option values, integer and URL
// options, parse errors as one sentence, and the closest command for a typo.

import { describe, expect, it } from 'vitest';
import {
  closestMatch,
  editDistance,
  integerOption,
  joinNegativeValues,
  parseCommandArgs,
  PORT_RANGE,
  urlOption,
  type OptionSpec,
} from '../../daemon/cli/args.js';
import { CliError, EXIT_USAGE } from '../../daemon/cli/errors.js';

const OPTIONS: OptionSpec = {
  'local-port': { type: 'string' },
  lines: { type: 'string', short: 'n' },
  follow: { type: 'boolean', short: 'f' },
  'endpoint-url': { type: 'string' },
};

/** Returns the CliError `run` throws, failing the test when it throws none. */
function usageError(run: () => unknown): CliError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    return error as CliError;
  }
  return expect.unreachable('no CliError thrown');
}

describe('joinNegativeValues', () => {
  it('joins a long option with a negative number', () => {
    expect(joinNegativeValues(['--local-port', '-1'], OPTIONS)).toEqual(['--local-port=-1']);
  });

  it('joins a short option under its long name', () => {
    expect(joinNegativeValues(['-n', '-5', '-f'], OPTIONS)).toEqual(['--lines=-5', '-f']);
  });

  it('leaves a boolean option alone', () => {
    expect(joinNegativeValues(['-f', '-5'], OPTIONS)).toEqual(['-f', '-5']);
  });

  it('leaves a following option alone', () => {
    expect(joinNegativeValues(['--local-port', '-f'], OPTIONS)).toEqual(['--local-port', '-f']);
  });

  it('stops at --', () => {
    expect(joinNegativeValues(['--', '--local-port', '-1'], OPTIONS)).toEqual([
      '--',
      '--local-port',
      '-1',
    ]);
  });
});

describe('integerOption', () => {
  const parse = (argv: string[]) => parseCommandArgs('add', argv, OPTIONS);

  it('reads a port', () => {
    expect(integerOption('add', parse(['--local-port', '15432']), 'local-port', PORT_RANGE)).toBe(
      15432,
    );
  });

  it('returns undefined when absent', () => {
    expect(integerOption('add', parse([]), 'local-port', PORT_RANGE)).toBeUndefined();
  });

  const invalid: Array<[string, string]> = [
    ['-1', 'invalid --local-port -1: must be a port 1-65535; see `bastionless add --help`'],
    ['0', 'invalid --local-port 0: must be a port 1-65535; see `bastionless add --help`'],
    ['70000', 'invalid --local-port 70000: must be a port 1-65535; see `bastionless add --help`'],
    ['5e3', 'invalid --local-port 5e3: must be a port 1-65535; see `bastionless add --help`'],
    ['-0.5', 'invalid --local-port -0.5: must be a port 1-65535; see `bastionless add --help`'],
  ];
  for (const [value, message] of invalid) {
    it(`rejects port ${value}`, () => {
      const error = usageError(() =>
        integerOption('add', parse(['--local-port', value]), 'local-port', PORT_RANGE),
      );
      expect(error.message).toBe(message);
      expect(error.exitCode).toBe(EXIT_USAGE);
    });
  }

  it('rejects a negative count', () => {
    const args = parseCommandArgs('logs', ['-n', '-5'], OPTIONS);
    const error = usageError(() => integerOption('logs', args, 'lines'));
    expect(error.message).toBe(
      'invalid --lines -5: must be a whole number, 0 or more; see `bastionless logs --help`',
    );
  });

  it('accepts zero without a range', () => {
    expect(integerOption('logs', parse(['-n', '0']), 'lines')).toBe(0);
  });
});

describe('urlOption', () => {
  const parse = (value: string) => parseCommandArgs('add', ['--endpoint-url', value], OPTIONS);

  it('accepts an http URL', () => {
    expect(urlOption('add', parse('http://127.0.0.1:4566'), 'endpoint-url')).toBe(
      'http://127.0.0.1:4566',
    );
  });

  for (const value of ['not-a-url', 'ftp://example.com', 'http://']) {
    it(`rejects ${value}`, () => {
      const error = usageError(() => urlOption('add', parse(value), 'endpoint-url'));
      expect(error.message).toBe(
        `invalid --endpoint-url ${value}: must be an http:// or https:// URL such as ` +
          'http://127.0.0.1:4566; see `bastionless add --help`',
      );
      expect(error.exitCode).toBe(EXIT_USAGE);
    });
  }
});

describe('parseCommandArgs errors', () => {
  it('names a value that looks like an option', () => {
    const error = usageError(() => parseCommandArgs('add', ['--local-port', '--bogus'], OPTIONS));
    expect(error.message).toBe('option --local-port needs a value; see `bastionless add --help`');
  });

  it('names an unknown option', () => {
    const error = usageError(() => parseCommandArgs('add', ['--bogus'], OPTIONS));
    expect(error.message).toBe('unknown option --bogus; see `bastionless add --help`');
  });
});

describe('editDistance', () => {
  const table: Array<[string, string, number]> = [
    ['status', 'status', 0],
    ['stauts', 'status', 1],
    ['stat', 'start', 1],
    ['', 'up', 2],
    ['ls', 'rm', 2],
    ['kitten', 'sitting', 3],
  ];
  for (const [left, right, distance] of table) {
    it(`counts ${distance} from "${left}" to "${right}"`, () => {
      expect(editDistance(left, right)).toBe(distance);
      expect(editDistance(right, left)).toBe(distance);
    });
  }
});

describe('closestMatch', () => {
  const commands = ['daemon', 'start', 'stop', 'status', 'up', 'down', 'logs', 'doctor'];

  it('suggests status for stauts', () => {
    expect(closestMatch('stauts', commands)).toBe('status');
  });

  it('ignores case', () => {
    expect(closestMatch('Doctr', commands)).toBe('doctor');
  });

  it('suggests nothing for an unrelated word', () => {
    expect(closestMatch('frobnicate', commands)).toBeUndefined();
  });

  it('suggests nothing for ls', () => {
    expect(closestMatch('ls', commands)).toBeUndefined();
  });
});
