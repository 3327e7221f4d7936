// Access control for the control API: a bearer token from a 0600 file, and Host and Origin
// checks, so another web site cannot drive the daemon through the user's browser.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { lstatSync, renameSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { writeFileAtomic } from '../config/atomic-write.js';
import { readStateFile, StateFileError } from '../state-file.js';

/** Subprotocol a browser offers next to `bearer.<token>`; the server selects it in reply. */
export const EVENTS_SUBPROTOCOL = 'bastionless.v1';
const BEARER_SUBPROTOCOL_PREFIX = 'bearer.';

/** 32 random bytes in base64url, the only token form the daemon writes and reuses. */
const TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;

/** Creates a fresh random token (256 bits, base64url) and stores it with mode 0600. */
export function createTokenFile(file: string): string {
  const token = randomBytes(32).toString('base64url');
  writeFileAtomic(file, `${token}\n`, 0o600);
  return token;
}

export interface LoadedToken {
  token: string;
  /** True when the token came from the existing file, false when a new one was created. */
  reused: boolean;
  /** Reason the existing file was not reused; undefined when it was reused or did not exist. */
  replacedBecause?: string;
}

/** A token file is 44 bytes; anything much larger was not written by this module. */
const MAX_TOKEN_FILE_BYTES = 1024;

/**
 * Reads a token that an earlier daemon created, so an open dashboard keeps working across a
 * restart. Returns the reason it cannot be trusted instead: a file that others could read,
 * another owner, a symlink, or content this module never writes mean the token may be known
 * to someone else. Throws only for read errors other than ENOENT.
 */
function readReusableToken(file: string): { token: string } | { reason: string } | null {
  let read: ReturnType<typeof readStateFile>;
  try {
    read = readStateFile(file, MAX_TOKEN_FILE_BYTES);
  } catch (error) {
    if (error instanceof StateFileError) {
      return { reason: error.reason };
    }
    throw error;
  }
  if (read === null) {
    return null;
  }
  // Windows reports no POSIX owner or mode bits, so these checks apply elsewhere only.
  if (process.platform !== 'win32') {
    if ((read.stat.mode & 0o077) !== 0) {
      return { reason: `its mode is ${(read.stat.mode & 0o777).toString(8)}, not 600` };
    }
    if (process.getuid && read.stat.uid !== process.getuid()) {
      return { reason: `it belongs to uid ${read.stat.uid}` };
    }
  }
  const token = read.text.trim();
  if (!TOKEN_FORMAT.test(token)) {
    return { reason: 'its content is not a token this daemon created' };
  }
  return { token };
}

/**
 * Returns the token in `file` when it is safe to reuse, else creates a new one there. A
 * missing, unreadable or untrusted file gets a new token. A directory in its place is moved
 * aside, because a rename cannot replace a directory with a file.
 */
export function loadOrCreateTokenFile(file: string): LoadedToken {
  const existing = readReusableToken(file);
  if (existing && 'token' in existing) {
    return { token: existing.token, reused: true };
  }
  let reason = existing?.reason;
  if (existing && lstatSync(file, { throwIfNoEntry: false })?.isDirectory()) {
    const aside = `${file}.${Date.now()}.moved`;
    renameSync(file, aside);
    reason = `${existing.reason}; the directory was moved to ${aside}`;
  }
  const token = createTokenFile(file);
  return reason === undefined
    ? { token, reused: false }
    : { token, reused: false, replacedBecause: reason };
}

/**
 * Reads the token of a running daemon for a client. Throws when the file is missing, is not a
 * regular file or is larger than a token file, so a FIFO planted there cannot block the CLI.
 */
export function readTokenFile(file: string): string {
  const read = readStateFile(file, MAX_TOKEN_FILE_BYTES);
  if (read === null) {
    throw new StateFileError(file, 'it does not exist');
  }
  return read.text.trim();
}

/** Compares in constant time; hashing first makes the lengths equal, so length leaks nothing. */
export function tokensEqual(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** Bearer token from the Authorization header, or null. */
export function bearerFromHeaders(headers: IncomingHttpHeaders): string | null {
  const header = headers.authorization;
  if (typeof header !== 'string') {
    return null;
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

/** Subprotocols offered in a websocket upgrade request. */
export function offeredSubprotocols(headers: IncomingHttpHeaders): string[] {
  const header = headers['sec-websocket-protocol'];
  if (typeof header !== 'string') {
    return [];
  }
  return header
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
}

/** Token carried as a `bearer.<token>` subprotocol, because browsers cannot set headers on websockets. */
export function bearerFromSubprotocols(protocols: Iterable<string>): string | null {
  for (const protocol of protocols) {
    if (protocol.startsWith(BEARER_SUBPROTOCOL_PREFIX)) {
      return protocol.slice(BEARER_SUBPROTOCOL_PREFIX.length);
    }
  }
  return null;
}

/**
 * Host values this server accepts. Any other Host means a DNS-rebinding page or a proxy
 * sent the request, so it is rejected even with a valid token.
 */
export function allowedHosts(port: number): Set<string> {
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
}

export function allowedOrigins(port: number, extra: readonly string[] = []): Set<string> {
  return new Set([`http://127.0.0.1:${port}`, `http://localhost:${port}`, ...extra]);
}
