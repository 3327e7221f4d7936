// Access control for the control API: a bearer token from a 0600 file, and Host and Origin
// checks, so another web site cannot drive the daemon through the user's browser.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { writeFileAtomic } from '../config/atomic-write.js';

/** Subprotocol a browser offers next to `bearer.<token>`; the server selects it in reply. */
export const EVENTS_SUBPROTOCOL = 'bastionless.v1';
const BEARER_SUBPROTOCOL_PREFIX = 'bearer.';

/** Creates a fresh random token (256 bits, base64url) and stores it with mode 0600. */
export function createTokenFile(file: string): string {
  const token = randomBytes(32).toString('base64url');
  writeFileAtomic(file, `${token}\n`, 0o600);
  return token;
}

export function readTokenFile(file: string): string {
  return readFileSync(file, 'utf8').trim();
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
