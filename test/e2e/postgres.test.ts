// Real PostgreSQL reached through `bastionless connect` and the emulator: a large
// query compared byte for byte with a direct connection, and pgbench with 20 clients.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { spawnCli, type CliProcess } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';

const execFileAsync = promisify(execFile);
const pgUrl = process.env.BASTIONLESS_TEST_PG;
// CI starts PostgreSQL and sets the URL; elsewhere the suite is skipped unless CI=true.
const runSuite = pgUrl !== undefined || process.env.CI === 'true';

// About 60 MB of psql output: 240,000 rows, each an id and a 250-character text.
const LARGE_QUERY =
  'SELECT i, md5(i::text) || repeat(chr(65 + i % 26), 218) FROM generate_series(1, 240000) AS i ORDER BY i';

function pgBinary(name: string): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).sort() : [];
  for (const version of versions.reverse()) {
    const candidate = `${base}/${version}/bin/${name}`;
    if (existsSync(candidate)) {
      return candidate;
    }
  }
  return name;
}

async function psqlChecksum(url: string): Promise<{ sha256: string; bytes: number }> {
  const { stdout } = await execFileAsync('psql', [url, '-At', '-c', LARGE_QUERY], {
    encoding: 'buffer',
    maxBuffer: 256 * 1024 * 1024,
  });
  return { sha256: createHash('sha256').update(stdout).digest('hex'), bytes: stdout.length };
}

describe.runIf(runSuite)('PostgreSQL through bastionless connect', () => {
  let emulator: Emulator;
  let tunnel: CliProcess;
  let tunnelUrl: string;

  beforeAll(async () => {
    if (!pgUrl) {
      throw new Error(
        'BASTIONLESS_TEST_PG is not set; start PostgreSQL with scripts/start-postgres.sh',
      );
    }
    emulator = await startEmulator({ pacing: false });
    const pg = new URL(pgUrl);
    const localPort = await freePort();
    tunnel = spawnCli(
      [
        'connect',
        '--target',
        'i-0123456789abcdef0',
        '--host',
        pg.hostname,
        '--remote-port',
        pg.port,
        '--local-port',
        String(localPort),
        '--region',
        'us-east-1',
        '--endpoint-url',
        emulator.url,
      ],
      { AWS_ACCESS_KEY_ID: 'AKIAEMULATOR000001', AWS_SECRET_ACCESS_KEY: 'emulator-secret' },
    );
    await tunnel.waitForLine(new RegExp(`127\\.0\\.0\\.1:${localPort}`));
    const viaTunnel = new URL(pgUrl);
    viaTunnel.hostname = '127.0.0.1';
    viaTunnel.port = String(localPort);
    tunnelUrl = viaTunnel.toString();
  }, 60_000);

  afterAll(async () => {
    if (tunnel) {
      tunnel.child.kill('SIGINT');
      expect(await tunnel.exited).toBe(0);
    }
    await emulator?.close();
  });

  it('large query matches direct connection', async () => {
    const direct = await psqlChecksum(pgUrl!);
    const tunnelled = await psqlChecksum(tunnelUrl);
    expect(direct.bytes).toBeGreaterThan(50 * 1024 * 1024);
    expect(tunnelled.bytes).toBe(direct.bytes);
    expect(tunnelled.sha256).toBe(direct.sha256);
  }, 240_000);

  it('pgbench -S -c 20 has no failures', async () => {
    const pgbench = pgBinary('pgbench');
    await execFileAsync(pgbench, ['-i', '-s', '1', '-q', pgUrl!]);
    const { stdout } = await execFileAsync(
      pgbench,
      ['-S', '-c', '20', '-j', '2', '-T', '10', tunnelUrl],
      {
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    const processed = /number of transactions actually processed: (\d+)/.exec(stdout);
    const failed = /number of failed transactions: (\d+)/.exec(stdout);
    expect(processed, stdout).not.toBeNull();
    expect(Number(processed![1])).toBeGreaterThan(100);
    expect(failed, stdout).not.toBeNull();
    expect(Number(failed![1])).toBe(0);
  }, 120_000);

  it('SIGINT terminates the session', async () => {
    const started = emulator.calls.filter((call) => call.operation === 'AmazonSSM.StartSession');
    expect(started.length).toBeGreaterThanOrEqual(1);
    tunnel.child.kill('SIGINT');
    expect(await tunnel.exited).toBe(0);
    const terminated = emulator.calls.filter(
      (call) => call.operation === 'AmazonSSM.TerminateSession',
    );
    expect(terminated.length).toBe(started.length);
  }, 30_000);
});
