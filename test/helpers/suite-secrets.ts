// Registry of the secrets that the test suite hands out, and of the log files it writes, so
// test/security/secrets-scan.test.ts can check, after every other test file has finished, that
// no daemon log or audit file contains any of them.
//
// scripts/run-tests.mjs sets BASTIONLESS_TEST_SUITE_DIR for the whole run and points TMPDIR
// inside it. Without that variable (a single `npx vitest run FILE`) recording does nothing.

import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const SUITE_DIR_ENV = 'BASTIONLESS_TEST_SUITE_DIR';

/** Kinds of secret the scan looks for. MFA codes are matched as whole six-digit numbers. */
export type SecretKind =
  'secret-access-key' | 'session-token' | 'sso-token' | 'mfa-code' | 'api-token';

export interface RecordedSecret {
  kind: SecretKind;
  value: string;
}

/** Returns the suite directory of this run, or undefined outside scripts/run-tests.mjs. */
export function suiteDir(): string | undefined {
  return process.env[SUITE_DIR_ENV] || undefined;
}

/** Folder under the suite directory where copies of removed log files are kept. */
export function keptLogsDir(dir: string): string {
  return join(dir, 'kept-logs');
}

function secretsDir(dir: string): string {
  return join(dir, 'secrets');
}

/** Appends `value` to this process's secrets file of the run; empty values are ignored. */
export function recordSecret(kind: SecretKind, value: string | undefined): void {
  const dir = suiteDir();
  if (dir && value) {
    appendSecret(dir, kind, value);
  }
}

/** Appends `value` to this process's secrets file under the suite directory `dir`. */
export function appendSecret(dir: string, kind: SecretKind, value: string): void {
  mkdirSync(secretsDir(dir), { recursive: true });
  appendFileSync(
    join(secretsDir(dir), `${process.pid}.jsonl`),
    `${JSON.stringify({ kind, value })}\n`,
  );
}

/** Reads every secret that any process of the run recorded, without duplicates. */
export function readRecordedSecrets(dir: string): RecordedSecret[] {
  const folder = secretsDir(dir);
  if (!existsSync(folder)) {
    return [];
  }
  const seen = new Map<string, RecordedSecret>();
  for (const name of readdirSync(folder)) {
    for (const line of readFileSync(join(folder, name), 'utf8').split('\n')) {
      if (line.trim() === '') {
        continue;
      }
      const secret = JSON.parse(line) as RecordedSecret;
      seen.set(`${secret.kind}\n${secret.value}`, secret);
    }
  }
  return [...seen.values()];
}

/**
 * Prefix of the folders where the scan's own test plants leaks on purpose. Removing them keeps
 * nothing, because the real scan would otherwise report the planted leaks.
 */
export const PLANTED_PREFIX = 'bastionless-planted-';

/** Daemon log, audit log and their rotated copies: the files the scan reads. */
export function isScannedLogFile(name: string): boolean {
  return /^(daemon\.log|audit\.jsonl)(\.\d+)?$/.test(name);
}

/** Returns true for the control API token file, a secret by design that the scan reads as one. */
export function isTokenFile(name: string): boolean {
  return name === 'token';
}
