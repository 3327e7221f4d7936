// Daemon logger: size-based rotation of the log file, redaction of secret fields and the
// serialized form of errors with causes.

import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BastionlessError } from '../../daemon/errors.js';
import { createLogger, RotatingFileDestination, tunnelLogger } from '../../daemon/log.js';

const dirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bastionless-log-'));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('RotatingFileDestination', () => {
  it('rotates at the size cap and keeps three files', () => {
    const dir = tempDir();
    const path = join(dir, 'daemon.log');
    const destination = new RotatingFileDestination({ path, maxBytes: 1000, keepFiles: 3 });
    const line = `${'x'.repeat(99)}\n`;
    for (let index = 0; index < 45; index += 1) {
      destination.write(line);
    }
    destination.close();

    expect(statSync(path).size).toBe(500);
    expect(statSync(`${path}.1`).size).toBe(1000);
    expect(statSync(`${path}.2`).size).toBe(1000);
    expect(existsSync(`${path}.3`)).toBe(false);
  });

  it('appends to an existing file', () => {
    const dir = tempDir();
    const path = join(dir, 'daemon.log');
    const first = new RotatingFileDestination({ path, maxBytes: 1000 });
    first.write('one\n');
    first.close();
    const second = new RotatingFileDestination({ path, maxBytes: 1000 });
    second.write('two\n');
    second.close();

    expect(readFileSync(path, 'utf8')).toBe('one\ntwo\n');
  });

  it('rejects keepFiles below one', () => {
    expect(
      () => new RotatingFileDestination({ path: join(tempDir(), 'x.log'), keepFiles: 0 }),
    ).toThrow(/keepFiles/);
  });
});

describe('createLogger', () => {
  it('redacts secrets at any of three levels', () => {
    const lines: string[] = [];
    const { logger } = createLogger({ stream: { write: (line: string) => lines.push(line) } });
    logger.info({ TokenValue: 'tv-secret' }, 'top');
    logger.info({ request: { sessionToken: 'st-secret', authorization: 'auth-secret' } }, 'nested');
    logger.info({ a: { credentials: { secretAccessKey: 'sak-secret' } } }, 'deep');
    logger.info({ mfaCode: '123456' }, 'mfa');

    const text = lines.join('');
    for (const secret of ['tv-secret', 'st-secret', 'auth-secret', 'sak-secret', '123456']) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('[redacted]');
    expect(lines).toHaveLength(4);
  });

  it('writes JSON lines to the state directory', () => {
    const dir = tempDir();
    const { logger, close } = createLogger({ stateDir: dir });
    tunnelLogger(logger, 'db').info({ sessionId: 's-1' }, 'session open');
    close();

    const line = JSON.parse(readFileSync(join(dir, 'daemon.log'), 'utf8').trim()) as Record<
      string,
      unknown
    >;
    expect(line.tunnel).toBe('db');
    expect(line.sessionId).toBe('s-1');
    expect(line.msg).toBe('session open');
  });
});

describe('createLogger error serializer', () => {
  interface LoggedError {
    type: string;
    message: string;
    stack: string;
    code?: string;
    cause?: LoggedError;
  }

  function logError(error: Error): LoggedError {
    const lines: string[] = [];
    const { logger } = createLogger({ stream: { write: (line: string) => lines.push(line) } });
    logger.error({ err: error }, 'failed');
    expect(lines).toHaveLength(1);
    return (JSON.parse(lines[0]!) as { err: LoggedError }).err;
  }

  it('states a repeated cause once', () => {
    const cause = Object.assign(new Error('i-0abc is not connected.'), {
      code: 'TargetNotConnected',
    });
    const error = new BastionlessError(
      'ERR_TARGET_NOT_CONNECTED',
      `StartSession on i-0abc failed: ${cause.message}`,
      { cause },
    );
    const logged = logError(error);
    expect(logged.message).toBe('StartSession on i-0abc failed: i-0abc is not connected.');
    expect(logged.code).toBe('ERR_TARGET_NOT_CONNECTED');
    expect(logged.stack).toBe(error.stack);
    expect(logged.cause?.message).toBe('i-0abc is not connected.');
    expect(logged.cause?.code).toBe('TargetNotConnected');
    expect(logged.cause?.stack).toBe(cause.stack);
  });

  it('appends a cause the message lacks', () => {
    const root = new Error('connect ECONNREFUSED 127.0.0.1:9');
    const middle = new Error(`request failed: ${root.message}`, { cause: root });
    const error = new Error('Cannot reach the endpoint', { cause: middle });
    const logged = logError(error);
    expect(logged.message).toBe(
      'Cannot reach the endpoint: request failed: connect ECONNREFUSED 127.0.0.1:9',
    );
    expect(logged.cause?.message).toBe('request failed: connect ECONNREFUSED 127.0.0.1:9');
    expect(logged.cause?.cause?.message).toBe('connect ECONNREFUSED 127.0.0.1:9');
  });

  it('ends a cause cycle', () => {
    const first = new Error('first');
    const second = new Error('second', { cause: first });
    first.cause = second;
    const logged = logError(first);
    expect(logged.message).toBe('first: second');
    expect(logged.cause?.message).toBe('second');
  });
});
