// The `status` table: one row per tunnel, and the next step under a failed or needs-login
// tunnel. The last test runs the real CLI process against the tray's fake daemon.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { statusTable } from '../../daemon/cli/tunnel-commands.js';
import { startFakeDaemon } from '../tray/fake-daemon.js';
import { tunnelStatus } from '../ui/fixtures.js';
import { cliEnv, runCli } from './helpers.js';

const at = '2025-01-01T00:00:00.000Z';
const ssoHint = 'Run `aws sso login --profile sso-dev`, then the tunnel starts again.';

const ssoExpired = tunnelStatus({
  name: 'orders',
  state: 'needs-login',
  reason: 'the SSO token expired',
  lastError: { code: 'ERR_NEEDS_LOGIN', message: 'the SSO token expired', hint: ssoHint, at },
});
const refused = tunnelStatus({
  name: 'cache',
  state: 'failed',
  lastError: {
    code: 'ERR_REMOTE_REFUSED',
    message: 'connection refused by 10.0.0.5:6379',
    hint: 'Check that a server listens on 10.0.0.5:6379.',
    at,
  },
});
const waitingForMfa = tunnelStatus({
  name: 'admin',
  state: 'needs-login',
  reason: 'waiting for an MFA code; enter it with `bastionless mfa`',
});
const open = tunnelStatus({ name: 'web', state: 'open', reason: 'forwarding' });
const recovered = tunnelStatus({
  name: 'api',
  state: 'reconnecting',
  lastError: { code: 'ERR_SESSION_CLOSED', message: 'closed', hint: 'It is retried.', at },
});

const endpointHint = 'Check the network connection, proxy and endpoint override.';
const closingAtOnce = tunnelStatus({
  name: 'rds',
  state: 'connecting',
  reason:
    'Cannot reach http://127.0.0.1:1. Next attempt at 2025-01-01T00:00:05.000Z; ' +
    'connections are closed at once until a session opens.',
  nextAttemptAt: '2025-01-01T00:00:05.000Z',
  lastError: {
    code: 'ERR_ENDPOINT_UNREACHABLE',
    message: 'Cannot reach http://127.0.0.1:1',
    hint: endpointHint,
    at,
  },
});
const reopened = tunnelStatus({
  name: 'redis',
  state: 'open',
  openSince: '2025-01-01T00:01:00.000Z',
  lastError: { code: 'ERR_SESSION_NOT_FOUND', message: 'Session not found', at },
});

describe('statusTable', () => {
  it('puts the hint under a needs-login row', () => {
    const lines = statusTable([ssoExpired]).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^orders\s+needs-login\s/);
    expect(lines[1]).toContain('ERR_NEEDS_LOGIN: the SSO token expired');
    expect(lines[2]).toBe(`  hint: ${ssoHint}`);
  });

  it('puts the hint under a failed row', () => {
    const lines = statusTable([refused]).split('\n');
    expect(lines[2]).toBe('  hint: Check that a server listens on 10.0.0.5:6379.');
  });

  it('shows the reason when no error exists', () => {
    const lines = statusTable([waitingForMfa]).split('\n');
    expect(lines[2]).toBe('  hint: waiting for an MFA code; enter it with `bastionless mfa`');
  });

  it('adds no hint line for other states', () => {
    const lines = statusTable([open, recovered]).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines.some((line) => line.includes('hint:'))).toBe(false);
  });

  it('keeps columns aligned around hint lines', () => {
    const lines = statusTable([ssoExpired, open, refused]).split('\n');
    expect(lines.map((line) => line.split(/\s+/)[0])).toEqual([
      'NAME',
      'orders',
      '',
      'web',
      'cache',
      '',
    ]);
    const stateColumn = lines[0]!.indexOf('STATE');
    for (const row of [lines[1]!, lines[3]!, lines[4]!]) {
      expect(row.slice(stateColumn)).toMatch(/^(needs-login|open|failed)\s/);
    }
  });
});

describe('statusTable for fast closes', () => {
  it('puts hint and next attempt under the row', () => {
    const lines = statusTable([closingAtOnce]).split('\n');

    expect(lines).toHaveLength(4);
    expect(lines[1]).toContain('ERR_ENDPOINT_UNREACHABLE: Cannot reach http://127.0.0.1:1');
    expect(lines[2]).toBe(`  hint: ${endpointHint}`);
    expect(lines[3]).toBe(
      '  connections are closed at once until a session opens; ' +
        'next attempt at 2025-01-01T00:00:05.000Z',
    );
  });

  it('says a listening tunnel waits for a connection', () => {
    const listening = { ...closingAtOnce, state: 'listening' as const, nextAttemptAt: null };

    const lines = statusTable([listening]).split('\n');

    expect(lines[3]).toBe(
      '  connections are closed at once until a session opens; ' +
        'the next connection starts another attempt',
    );
  });

  it('says a connecting tunnel retries now', () => {
    const lines = statusTable([{ ...closingAtOnce, nextAttemptAt: null }]).split('\n');

    expect(lines[3]).toMatch(/; retrying now$/);
  });

  it('adds no lines for a transient error', () => {
    const retrying = { ...closingAtOnce, reason: 'Cannot reach http://127.0.0.1:1' };

    const lines = statusTable([retrying]).split('\n');

    expect(lines).toHaveLength(2);
  });
});

describe('statusTable last error', () => {
  it('leaves out an error from before the open period', () => {
    const row = statusTable([reopened]).split('\n')[1]!;

    expect(row).toMatch(/^redis\s+open/);
    expect(row).not.toContain('ERR_SESSION_NOT_FOUND');
  });

  it('shows an error from the open period', () => {
    const later = { ...reopened, openSince: '2024-12-31T23:59:00.000Z' };

    const row = statusTable([later]).split('\n')[1]!;

    expect(row).toContain('ERR_SESSION_NOT_FOUND: Session not found');
  });
});

describe('bastionless status', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('prints the login command under the row', async () => {
    const home = await mkdtemp(join(tmpdir(), 'bastionless-status-'));
    cleanups.push(() => rm(home, { recursive: true, force: true }));
    const daemon = await startFakeDaemon(join(home, 'state'), 'status-token');
    cleanups.push(() => daemon.close());
    daemon.tunnels.push(ssoExpired, open);

    const result = await runCli(['status'], cliEnv(home));
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[1]).toMatch(/^orders\s+needs-login/);
    expect(lines[2]).toBe(`  hint: ${ssoHint}`);
    expect(lines[3]).toMatch(/^web\s+open/);
    expect(lines).toHaveLength(4);
  });
});
