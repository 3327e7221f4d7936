// AWS Signature Version 4 parsing and verification for the emulated API.

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface SigV4Authorization {
  accessKeyId: string;
  /** YYYYMMDD from the credential scope. */
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

const AUTHORIZATION_PATTERN =
  /^AWS4-HMAC-SHA256\s+Credential=([^/\s,]+)\/(\d{8})\/([^/\s,]+)\/([^/\s,]+)\/aws4_request,\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})\s*$/;

/** Parses an `Authorization` header; returns null for anything that is not SigV4. */
export function parseAuthorization(header: string | undefined): SigV4Authorization | null {
  const match = header === undefined ? null : AUTHORIZATION_PATTERN.exec(header);
  if (!match) {
    return null;
  }
  return {
    accessKeyId: match[1]!,
    date: match[2]!,
    region: match[3]!,
    service: match[4]!,
    signedHeaders: match[5]!.split(';'),
    signature: match[6]!,
  };
}

export interface SignedRequest {
  method: string;
  /** Path and query string as received, e.g. `/` or `/?Action=x`. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** RFC 3986 encoding as SigV4 requires: everything but unreserved characters. */
function encodeRfc3986(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function canonicalPath(path: string): string {
  // NOTE: only `/` is exercised, which every encoding rule maps to itself. Paths with
  // reserved characters would need the service-specific double-encoding rule.
  return path
    .split('/')
    .map((segment) => encodeRfc3986(decodeURIComponent(segment)))
    .join('/');
}

/** Orders query pairs by name, then value, by code point as SigV4 requires. */
function compareQueryPairs(
  [name, value]: readonly [string, string],
  [otherName, otherValue]: readonly [string, string],
): number {
  if (name !== otherName) {
    return name < otherName ? -1 : 1;
  }
  if (value === otherValue) {
    return 0;
  }
  return value < otherValue ? -1 : 1;
}

function canonicalQuery(query: string): string {
  if (query === '') {
    return '';
  }
  return query
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => {
      const [name = '', value = ''] = pair.split(/=(.*)/s);
      const decode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
      return [encodeRfc3986(decode(name)), encodeRfc3986(decode(value))] as const;
    })
    .sort(compareQueryPairs)
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

function headerValue(headers: SignedRequest['headers'], name: string): string {
  const value = headers[name];
  const joined = Array.isArray(value) ? value.join(',') : (value ?? '');
  return joined.trim().replace(/\s+/g, ' ');
}

/**
 * Computes the signature the client should have sent for `request` with `secretAccessKey`,
 * following the SigV4 canonical request rules for header-signed requests.
 */
export function computeSignature(
  request: SignedRequest,
  auth: SigV4Authorization,
  secretAccessKey: string,
): string {
  const queryStart = request.url.indexOf('?');
  const path = queryStart === -1 ? request.url : request.url.slice(0, queryStart);
  const query = queryStart === -1 ? '' : request.url.slice(queryStart + 1);
  const payloadHash =
    headerValue(request.headers, 'x-amz-content-sha256') || sha256Hex(request.body);
  const canonicalHeaders = auth.signedHeaders
    .map((name) => `${name}:${headerValue(request.headers, name)}\n`)
    .join('');
  const canonicalRequest = [
    request.method.toUpperCase(),
    canonicalPath(path),
    canonicalQuery(query),
    canonicalHeaders,
    auth.signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
  const amzDate = headerValue(request.headers, 'x-amz-date');
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  let key = hmac(`AWS4${secretAccessKey}`, auth.date);
  key = hmac(key, auth.region);
  key = hmac(key, auth.service);
  key = hmac(key, 'aws4_request');
  return createHmac('sha256', key).update(stringToSign).digest('hex');
}

/** Checks the request signature in constant time, and the body against x-amz-content-sha256. */
export function verifySignature(
  request: SignedRequest,
  auth: SigV4Authorization,
  secretAccessKey: string,
): boolean {
  const declaredHash = headerValue(request.headers, 'x-amz-content-sha256');
  if (/^[0-9a-f]{64}$/.test(declaredHash) && declaredHash !== sha256Hex(request.body)) {
    return false;
  }
  const expected = Buffer.from(computeSignature(request, auth, secretAccessKey), 'hex');
  const actual = Buffer.from(auth.signature, 'hex');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
