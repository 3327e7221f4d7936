// Hints of `bastionless connect` when its first session start fails. connect exits then, so
// its hint must tell the user to run the command again, while the daemon keeps its retry hints.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BastionlessError,
  classifyError,
  withRunAgainHint,
  type ErrorCode,
} from '../../daemon/errors.js';
import { cliEnv, freePort, runCli } from './helpers.js';

const cleanups: Array<() => void> = [];

afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    cleanup();
  }
});

function awsError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name });
}

function systemError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { code });
}

describe('withRunAgainHint', () => {
  const retried: Array<[ErrorCode, Error, string]> = [
    ['ERR_ENDPOINT_UNREACHABLE', systemError('ECONNREFUSED'), 'Check the network connection'],
    ['ERR_AWS_UNAVAILABLE', awsError('ThrottlingException', 'Rate exceeded'), 'Wait'],
    ['ERR_SESSION_NOT_FOUND', awsError('DoesNotExistException', 'gone'), 'has ended'],
    ['ERR_HANDSHAKE_TIMEOUT', awsError('TimeoutError', 'timed out'), 'SSM agent'],
  ];
  for (const [code, cause, start] of retried) {
    it(`replaces the retry hint of ${code}`, () => {
      const daemonError = classifyError(cause);
      expect(daemonError.code).toBe(code);
      expect(daemonError.hint).toMatch(/retried|next connection/);

      const reported = withRunAgainHint(daemonError);
      expect(reported.code).toBe(code);
      expect(reported.message).toBe(daemonError.message);
      expect(reported.hint).toContain(start);
      expect(reported.hint).toMatch(/[Rr]un the command again/);
      expect(reported.hint).not.toMatch(/retried|next connection/);
    });
  }

  it('keeps a hint without a retry', () => {
    const denied = classifyError(awsError('AccessDeniedException', 'not authorized'));
    expect(withRunAgainHint(denied)).toBe(denied);
  });

  it('keeps an error without a hint', () => {
    const error = new BastionlessError('ERR_UNKNOWN', 'something failed', { retryable: true });
    expect(withRunAgainHint(error)).toBe(error);
  });
});

describe('connect with an unreachable endpoint', () => {
  it('exits with a run-again hint', { timeout: 60_000 }, async () => {
    const home = mkdtempSync(join(tmpdir(), 'bastionless-connect-hint-'));
    cleanups.push(() => rmSync(home, { recursive: true, force: true }));
    // Nothing listens on a port that was free a moment ago, so the connection is refused.
    const endpointPort = await freePort();
    const localPort = await freePort();
    const result = await runCli(
      [
        'connect',
        '--target',
        'i-0123456789abcdef0',
        '--remote-port',
        '5432',
        '--local-port',
        String(localPort),
        '--endpoint-url',
        `http://127.0.0.1:${endpointPort}`,
      ],
      cliEnv(home),
    );
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`Listening on 127.0.0.1:${localPort}`);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines.at(-2)).toMatch(/^bastionless connect: ERR_ENDPOINT_UNREACHABLE: /);
    expect(lines.at(-2)).toContain(`127.0.0.1:${endpointPort}`);
    expect(lines.at(-1)).toBe(
      'Check the network connection, the proxy and the endpoint (--endpoint-url, ' +
        '--ssm-endpoint), then run the command again.',
    );
    expect(result.stderr).not.toContain('retried');
  });
});
