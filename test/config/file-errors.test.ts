// Messages for a config file that cannot be read, parsed or validated, from the store as the
// CLI and the daemon see them: line and column for JSON errors, and no editing advice for a
// file the process cannot read.

import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../daemon/config/errors.js';
import { invalidFailure, parseFailure, readFailure } from '../../daemon/config/file-errors.js';
import { jsonErrorOffset, jsonErrorWithLine } from '../../daemon/config/json-position.js';
import { ConfigStore } from '../../daemon/config/store.js';

let dir: string;
let file: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bastionless-file-errors-'));
  file = join(dir, 'config.json');
});

afterEach(() => {
  chmodSync(dir, 0o700);
  rmSync(dir, { recursive: true, force: true });
});

/** Returns the error JSON.parse throws for `text`. */
function syntaxErrorOf(text: string): Error {
  try {
    JSON.parse(text);
  } catch (error) {
    return error as Error;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be invalid JSON`);
}

describe('jsonErrorWithLine', () => {
  it('turns a Node 20 position into line and column', () => {
    const text = '{\n  "a": 1,\n  }';
    expect(jsonErrorWithLine('Unexpected token } in JSON at position 14', text)).toBe(
      'Unexpected token } at line 3, column 3',
    );
  });

  it('drops the Node 22 line suffix', () => {
    const text = '{\n  "a": 1,\n  }';
    expect(
      jsonErrorWithLine(
        'Expected double-quoted property name in JSON at position 14 (line 3 column 3)',
        text,
      ),
    ).toBe('Expected double-quoted property name at line 3, column 3');
  });

  it('places an early end at the end of the text', () => {
    expect(jsonErrorWithLine('Unexpected end of JSON input', '{\n  "a": ')).toBe(
      'Unexpected end of JSON input at line 2, column 8',
    );
  });

  it('keeps a message without a position', () => {
    expect(jsonErrorWithLine('Bad control character', '{}')).toBe('Bad control character');
  });

  it('locates a real parse error of this Node.js', () => {
    const text = '{\n  "version": 2,\n  "profiles": [],\n}\n';
    const message = jsonErrorWithLine(syntaxErrorOf(text).message, text);
    expect(message).toContain('at line 4, column 1');
    expect(message).not.toContain('position');
  });
});

describe('parseFailure', () => {
  it('names line and column', () => {
    const text = '{\n  "version": 2,\n  "profiles": [,]\n}';
    const error = parseFailure('/h/config.json', text, syntaxErrorOf(text));
    expect(error.code).toBe('ERR_CONFIG_PARSE');
    expect(error.message).toMatch(
      /^config file \/h\/config\.json is not valid JSON \(.+ at line 3, column 16\); fix it in an editor, or move it aside and add the profiles again with `bastionless add`$/,
    );
    expect(error.reason).toBe("not valid JSON (Unexpected token ',' at line 3, column 16)");
  });

  it('names an empty file as empty', () => {
    const error = parseFailure('/h/config.json', ' \n', syntaxErrorOf(' \n'));
    expect(error.code).toBe('ERR_CONFIG_PARSE');
    expect(error.reason).toBe('the file is empty');
    expect(error.message).toBe(
      'config file /h/config.json is empty; write {"version": 2, "profiles": []} into it, or delete it and add profiles with `bastionless add`',
    );
  });
});

describe('invalidFailure', () => {
  it('counts the issues after the first', () => {
    const error = invalidFailure('/h/config.json', [
      { path: 'profiles[0].name', message: 'profile "a b": name "a b" is invalid' },
      { path: 'profiles[0].localPort', message: 'profile "a b": localPort 0 is out of range' },
    ]);
    expect(error.code).toBe('ERR_CONFIG_INVALID');
    expect(error.reason).toBe('profile "a b": name "a b" is invalid (and 1 more)');
    expect(error.fields).toHaveLength(2);
  });
});

describe('readFailure', () => {
  const errno = (code: string, message: string) =>
    Object.assign(new Error(message), { code }) as NodeJS.ErrnoException;

  it('gives the chmod fix for EACCES', () => {
    const cause = errno('EACCES', "EACCES: permission denied, open '/h/config.json'");
    const error = readFailure('/h/config.json', cause);
    expect(error.code).toBe('ERR_CONFIG_READ');
    expect(error.message).toBe(
      'cannot read config file /h/config.json: permission denied; check its owner and mode (for example `chmod 600 /h/config.json`)',
    );
    expect(error.reason).toBe('permission denied');
    expect(error.cause).toBe(cause);
  });

  it('keeps the message of an unlisted code', () => {
    const error = readFailure('/h/config.json', errno('EIO', 'EIO: i/o error, read'));
    expect(error.message).toBe(
      'cannot read config file /h/config.json: EIO: i/o error, read; check that it is a readable file',
    );
  });
});

describe('ConfigStore with an unusable file', () => {
  it('reports a directory in place of the file', () => {
    mkdirSync(file);
    const store = new ConfigStore({ file });
    expect(store.load()).toEqual([]);
    expect(store.error?.code).toBe('ERR_CONFIG_READ');
    expect(store.error?.message).toBe(
      `cannot read config file ${file}: it is a directory; move the directory aside, or choose a file with --config FILE`,
    );
    expect(store.error?.message).not.toContain('invalid');
    expect(() => store.create({})).toThrow(ConfigError);
  });

  it('reports a JSON error by line in the store', () => {
    const text = '{\n  "version": 2,\n  "profiles": [\n    { "name": "db", }\n  ]\n}\n';
    writeFileSync(file, text);
    const store = new ConfigStore({ file });
    store.load();
    expect(store.error?.code).toBe('ERR_CONFIG_PARSE');
    expect(store.error?.message).toContain('at line 4, column 21');
    expect(store.error?.message).not.toContain('position');
    expect(readFileSync(file, 'utf8')).toBe(text);
  });
});

describe('jsonErrorOffset', () => {
  /** Returns JSON.parse's verdict on `text`: -1 when valid, else its offset or null without one. */
  const parseVerdict = (text: string): number | null => {
    try {
      JSON.parse(text);
      return -1;
    } catch (error) {
      const match = /at position (\d+)/.exec((error as Error).message);
      return match ? Number(match[1]) : null;
    }
  };

  it('accepts what JSON.parse accepts', () => {
    fc.assert(
      fc.property(fc.json(), (text) => {
        expect(jsonErrorOffset(text)).toBe(-1);
      }),
    );
  });

  it('agrees with JSON.parse on damaged text', () => {
    const damaged = fc
      .tuple(fc.json(), fc.nat(), fc.constantFrom('', ',', '}', ']', '"', ':', '\\', 'x', '\n'))
      .map(([text, at, insert]) => {
        const index = at % (text.length + 1);
        return insert === ''
          ? text.slice(0, index) + text.slice(index + 1)
          : text.slice(0, index) + insert + text.slice(index);
      });
    fc.assert(
      fc.property(damaged, (text) => {
        const verdict = parseVerdict(text);
        const offset = jsonErrorOffset(text);
        if (verdict === -1) {
          expect(offset).toBe(-1);
        } else {
          expect(offset).toBeGreaterThanOrEqual(0);
        }
        if (verdict !== null && verdict >= 0) {
          expect(offset).toBe(verdict);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('scans deep nesting without recursion', () => {
    expect(jsonErrorOffset('['.repeat(100_000))).toBe(100_000);
    expect(jsonErrorOffset(`${'['.repeat(50_000)}${']'.repeat(50_000)}`)).toBe(-1);
  });
});
