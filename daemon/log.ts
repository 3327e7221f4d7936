// Logger factory for the daemon: JSON lines to a size-capped, rotated file in the state
// directory, readable lines on the terminal in the foreground, secrets redacted in both.

import { closeSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import pino from 'pino';

/** Field names that can carry credentials or session tokens in any log object. */
const SECRET_KEYS = [
  'token',
  'Token',
  'TokenValue',
  'tokenValue',
  'SessionToken',
  'sessionToken',
  'secretAccessKey',
  'SecretAccessKey',
  'accessKeyId',
  'AccessKeyId',
  'credentials',
  'Credentials',
  'authorization',
  'Authorization',
  'password',
  'mfaCode',
  'mfa',
  'tokenCode',
  'TokenCode',
  'StreamUrl',
  'streamUrl',
];

/** Redaction paths for the secret keys at the top level and up to two objects deep. */
export const REDACT_PATHS: readonly string[] = SECRET_KEYS.flatMap((key) => [
  key,
  `*.${key}`,
  `*.*.${key}`,
]);

export const DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024;
export const DEFAULT_KEEP_FILES = 3;

export interface RotatingFileOptions {
  /** Path of the current log file. Older ones get the suffixes .1, .2 and so on. */
  path: string;
  /** Size at which the current file is rotated, in bytes. */
  maxBytes?: number;
  /** Number of files kept, the current one included. */
  keepFiles?: number;
}

/**
 * A synchronous pino destination that rotates its file by size. Writes are synchronous so
 * the last lines before a crash are on disk and rotation never races a pending write.
 */
export class RotatingFileDestination {
  readonly path: string;
  readonly maxBytes: number;
  readonly keepFiles: number;
  private fd: number;
  private size: number;

  constructor(options: RotatingFileOptions) {
    this.path = options.path;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_FILE_BYTES;
    this.keepFiles = options.keepFiles ?? DEFAULT_KEEP_FILES;
    if (!Number.isInteger(this.keepFiles) || this.keepFiles < 1) {
      throw new RangeError(`keepFiles must be an integer of at least 1, got ${this.keepFiles}`);
    }
    if (!(this.maxBytes > 0)) {
      throw new RangeError(`maxBytes must be positive, got ${this.maxBytes}`);
    }
    this.fd = openSync(this.path, 'a', 0o600);
    this.size = fstatSync(this.fd).size;
  }

  write(chunk: string): boolean {
    if (this.size > 0 && this.size + Buffer.byteLength(chunk) > this.maxBytes) {
      this.rotate();
    }
    this.size += writeSync(this.fd, chunk);
    return true;
  }

  /** Shifts file.N-1 to file.N down to file to file.1 and drops the oldest. */
  private rotate(): void {
    closeSync(this.fd);
    rmSync(`${this.path}.${this.keepFiles - 1}`, { force: true });
    for (let index = this.keepFiles - 2; index >= 1; index -= 1) {
      renameIfPresent(`${this.path}.${index}`, `${this.path}.${index + 1}`);
    }
    if (this.keepFiles > 1) {
      renameIfPresent(this.path, `${this.path}.1`);
    } else {
      rmSync(this.path, { force: true });
    }
    this.fd = openSync(this.path, 'a', 0o600);
    this.size = 0;
  }

  close(): void {
    closeSync(this.fd);
  }
}

function renameIfPresent(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw err;
    }
  }
}

/**
 * Serializes an error for the `err` field. The message is the error's own message followed by
 * each cause's message that the text before it does not already end with, because wrapper
 * errors such as "StartSession on i-0abc failed: <cause message>" repeat their cause's text.
 * pino's standard `err` serializer appends every cause's message, so those would appear twice.
 * `cause` keeps each cause's own message, code, stack and other fields, as pino's
 * `errWithCause` serializer writes them.
 */
export function serializeError(error: unknown): unknown {
  const serialized = pino.stdSerializers.errWithCause(error as Error);
  if (serialized === error || typeof serialized !== 'object' || serialized === null) {
    return serialized;
  }
  serialized.message = messageWithNewCauses(error as Error);
  return serialized;
}

function messageWithNewCauses(error: Error): string {
  let message = error.message;
  const seen = new Set<unknown>([error]);
  let cause: unknown = error.cause;
  while (isErrorLike(cause) && !seen.has(cause)) {
    seen.add(cause);
    if (message === '') {
      message = cause.message;
    } else if (cause.message && !message.endsWith(cause.message)) {
      message = `${message}: ${cause.message}`;
    }
    cause = cause.cause;
  }
  return message;
}

function isErrorLike(value: unknown): value is { message: string; cause?: unknown } {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { message?: unknown }).message === 'string'
  );
}

export interface LoggerOptions {
  /** Directory for `daemon.log` and its rotated copies. Without it no log file is written. */
  stateDir?: string;
  /** Also print readable lines to stdout, for `bastionless daemon --foreground`. */
  foreground?: boolean;
  level?: pino.LevelWithSilent;
  maxFileBytes?: number;
  keepFiles?: number;
  /** Extra destination that receives the JSON lines, for tests and the dashboard's log view. */
  stream?: { write(chunk: string): unknown };
}

export interface DaemonLogger {
  logger: pino.Logger;
  /** Closes the log file. The logger must not be used afterwards. */
  close(): void;
}

/**
 * Returns the stream for foreground logs: readable lines on a terminal, JSON lines otherwise.
 * pino-pretty is loaded only for a terminal because it adds about 10 MB to a daemon's memory.
 */
function foregroundStream(): pino.DestinationStream {
  if (!process.stdout.isTTY) {
    return pino.destination({ fd: 1, sync: true });
  }
  const require = createRequire(import.meta.url);
  const pretty = require('pino-pretty') as typeof import('pino-pretty');
  return pretty({ colorize: true, sync: true });
}

export function createLogger(options: LoggerOptions = {}): DaemonLogger {
  const level = options.level ?? 'info';
  // Streams accept every level, so the logger's own level is the one filter to change at run time.
  const streams: pino.StreamEntry[] = [];
  let file: RotatingFileDestination | undefined;
  if (options.stateDir) {
    mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
    file = new RotatingFileDestination({
      path: join(options.stateDir, 'daemon.log'),
      maxBytes: options.maxFileBytes,
      keepFiles: options.keepFiles,
    });
    streams.push({ level: 'trace', stream: file });
  }
  if (options.foreground) {
    streams.push({ level: 'trace', stream: foregroundStream() });
  }
  if (options.stream) {
    streams.push({ level: 'trace', stream: options.stream as pino.DestinationStream });
  }
  const logger = pino(
    {
      level,
      base: { pid: process.pid },
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
      serializers: { err: serializeError },
    },
    pino.multistream(streams),
  );
  return {
    logger,
    close: () => file?.close(),
  };
}

/** Child logger for one tunnel, so every line names it. */
export function tunnelLogger(parent: pino.Logger, tunnelName: string): pino.Logger {
  return parent.child({ tunnel: tunnelName });
}
