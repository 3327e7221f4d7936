// Line and column of a JSON syntax error, for messages about a hand-edited config file. V8's
// JSON.parse names an offset for some errors only. Its "Unexpected token" messages quote a
// snippet of the text instead (checked on Node 20.20), so a scanner finds their offset.

type ScanState = 'value' | 'value-or-close' | 'key' | 'key-or-close' | 'colon' | 'comma' | 'end';

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);
const SIMPLE_ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);
const LITERALS: Readonly<Record<string, string>> = { t: 'true', f: 'false', n: 'null' };

/** Result of scanning one token: the offset after it, or the offset of the first bad character. */
type TokenScan = { ok: true; end: number } | { ok: false; at: number };

function isDigit(char: string | undefined): boolean {
  return char !== undefined && char >= '0' && char <= '9';
}

function isHexDigit(char: string | undefined): boolean {
  return char !== undefined && /^[0-9A-Fa-f]$/.test(char);
}

/** Scans the string that starts with the quote at `start`. */
function scanString(text: string, start: number): TokenScan {
  let index = start + 1;
  while (index < text.length) {
    const char = text[index]!;
    if (char === '"') {
      return { ok: true, end: index + 1 };
    }
    if (char.charCodeAt(0) < 0x20) {
      return { ok: false, at: index };
    }
    if (char !== '\\') {
      index += 1;
      continue;
    }
    const escape = text[index + 1];
    if (escape !== undefined && SIMPLE_ESCAPES.has(escape)) {
      index += 2;
    } else if (escape === 'u') {
      for (let digit = index + 2; digit < index + 6; digit += 1) {
        if (!isHexDigit(text[digit])) {
          return { ok: false, at: Math.min(digit, text.length) };
        }
      }
      index += 6;
    } else {
      return { ok: false, at: Math.min(index + 1, text.length) };
    }
  }
  return { ok: false, at: text.length };
}

/** Scans the number at `start`: -?(0|[1-9]digits)(.digits)?([eE][+-]?digits)? */
function scanNumber(text: string, start: number): TokenScan {
  let index = start;
  const digits = (): boolean => {
    if (!isDigit(text[index])) {
      return false;
    }
    while (isDigit(text[index])) {
      index += 1;
    }
    return true;
  };
  if (text[index] === '-') {
    index += 1;
  }
  if (text[index] === '0') {
    index += 1;
  } else if (!digits()) {
    return { ok: false, at: Math.min(index, text.length) };
  }
  if (text[index] === '.') {
    index += 1;
    if (!digits()) {
      return { ok: false, at: Math.min(index, text.length) };
    }
  }
  if (text[index] === 'e' || text[index] === 'E') {
    index += 1;
    if (text[index] === '+' || text[index] === '-') {
      index += 1;
    }
    if (!digits()) {
      return { ok: false, at: Math.min(index, text.length) };
    }
  }
  return { ok: true, end: index };
}

/** Scans a string, number, true, false or null at `start`. */
function scanScalar(text: string, start: number): TokenScan {
  const char = text[start]!;
  if (char === '"') {
    return scanString(text, start);
  }
  if (char === '-' || isDigit(char)) {
    return scanNumber(text, start);
  }
  const literal = LITERALS[char];
  if (literal === undefined) {
    return { ok: false, at: start };
  }
  for (let offset = 1; offset < literal.length; offset += 1) {
    if (text[start + offset] !== literal[offset]) {
      return { ok: false, at: Math.min(start + offset, text.length) };
    }
  }
  return { ok: true, end: start + literal.length };
}

/**
 * Returns the offset of the first character that makes `text` invalid JSON, the text's length
 * when it ends early, or -1 when it is valid. It keeps open brackets on an explicit stack
 * rather than recursing, so deep nesting cannot overflow the call stack.
 */
export function jsonErrorOffset(text: string): number {
  const closers: string[] = [];
  let state: ScanState = 'value';
  let index = 0;
  const afterValue = (): ScanState => (closers.length === 0 ? 'end' : 'comma');
  for (;;) {
    while (index < text.length && WHITESPACE.has(text[index]!)) {
      index += 1;
    }
    if (index === text.length) {
      return state === 'end' ? -1 : index;
    }
    const char = text[index]!;
    const closes = char === closers.at(-1);
    if (state === 'end') {
      return index;
    }
    if (state === 'colon') {
      if (char !== ':') {
        return index;
      }
      index += 1;
      state = 'value';
    } else if (closes && (state === 'comma' || state.endsWith('-or-close'))) {
      closers.pop();
      index += 1;
      state = afterValue();
    } else if (state === 'comma') {
      if (char !== ',') {
        return index;
      }
      index += 1;
      state = closers.at(-1) === '}' ? 'key' : 'value';
    } else if (state === 'key' || state === 'key-or-close') {
      if (char !== '"') {
        return index;
      }
      const scan = scanString(text, index);
      if (!scan.ok) {
        return scan.at;
      }
      index = scan.end;
      state = 'colon';
    } else if (char === '{' || char === '[') {
      closers.push(char === '{' ? '}' : ']');
      index += 1;
      state = char === '{' ? 'key-or-close' : 'value-or-close';
    } else {
      const scan = scanScalar(text, index);
      if (!scan.ok) {
        return scan.at;
      }
      index = scan.end;
      state = afterValue();
    }
  }
}

/**
 * Rewrites a JSON.parse message to name the error's line and column, both from 1, because an
 * editor jumps to a line. Node 20 reports "at position N" and Node 22 adds "(line L column C)"
 * for some errors. "Unexpected token" messages quote a snippet of the text, which can span
 * lines, so the snippet is dropped and the scanner supplies the offset.
 */
export function jsonErrorWithLine(message: string, text: string): string {
  const match = / (?:in JSON )?at position (\d+)(?: \(line \d+ column \d+\))?/.exec(message);
  const head = match
    ? message.replace(match[0], '')
    : message.replace(/, (?:\.\.\.)?".*"(?:\.\.\.)? is not valid JSON$/s, '');
  const offset = match ? Number(match[1]) : jsonErrorOffset(text);
  if (offset < 0) {
    return head;
  }
  const before = text.slice(0, offset).split('\n');
  return `${head} at line ${before.length}, column ${before.at(-1)!.length + 1}`;
}
