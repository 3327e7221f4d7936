import { appendFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  auditEntryFor,
  createAuditLog,
  formatAuditTable,
  type AuditEntry,
} from '../../daemon/audit/log.js';
import { makeProfile } from './helpers/fixtures.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bastionless-audit-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function entry(sessionId: string, overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    profile: 'orders-db',
    target: 'i-0123456789abcdef0',
    remoteHost: 'orders.c1a2b3c4d5e6.us-east-1.rds.amazonaws.com',
    remotePort: 5432,
    sessionId,
    start: '2026-12-04T10:00:00.000Z',
    end: '2026-12-04T10:30:00.000Z',
    reason: 'closed by user',
    bytesIn: 1536,
    bytesOut: 200,
    ...overrides,
  };
}

describe('createAuditLog', () => {
  it('writes one JSON line per entry', async () => {
    const log = createAuditLog(join(dir, 'state'));
    await Promise.all([log.record(entry('alice-1')), log.record(entry('alice-2'))]);
    const lines = (await readFile(log.file, 'utf8')).trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0]!)).toEqual(entry('alice-1'));
    expect(JSON.parse(lines[1]!)).toEqual(entry('alice-2'));
    expect((await stat(log.file)).mode & 0o777).toBe(0o600);
  });

  it('reads entries and skips damaged lines', async () => {
    const log = createAuditLog(dir);
    await log.record(entry('alice-1'));
    await appendFile(log.file, '{"profile":"cut short\n');
    await log.record(entry('alice-2'));
    const { entries, skippedLines } = await log.read();
    expect(entries.map((item) => item.sessionId)).toEqual(['alice-1', 'alice-2']);
    expect(skippedLines).toBe(1);
  });

  it('reads a missing log as empty', async () => {
    const log = createAuditLog(join(dir, 'never-written'));
    expect(await log.read()).toEqual({ entries: [], skippedLines: 0 });
  });
});

describe('auditEntryFor', () => {
  it('maps an ended session to an entry', () => {
    const entry = auditEntryFor({
      profile: makeProfile({ name: 'orders-db', remotePort: 5432 }),
      target: 'i-0123456789abcdef0',
      remoteHost: 'orders.example.internal',
      sessionId: 'alice-0a1b2c3d',
      startedAt: new Date('2026-12-04T10:00:00Z'),
      endedAt: new Date('2026-12-04T10:20:00Z'),
      end: { by: 'service', reason: 'idle timeout' },
      stats: {
        bytesIn: 4096,
        bytesOut: 512,
        activeConnections: 0,
        totalConnections: 3,
        dialFailures: 0,
        reconnects: 1,
        rttMs: 12,
      },
    });
    expect(entry).toEqual({
      profile: 'orders-db',
      target: 'i-0123456789abcdef0',
      remoteHost: 'orders.example.internal',
      remotePort: 5432,
      sessionId: 'alice-0a1b2c3d',
      start: '2026-12-04T10:00:00.000Z',
      end: '2026-12-04T10:20:00.000Z',
      reason: 'service: idle timeout',
      bytesIn: 4096,
      bytesOut: 512,
    });
  });
});

describe('formatAuditTable', () => {
  it('aligns columns with readable sizes', () => {
    const table = formatAuditTable([
      entry('alice-1'),
      entry('alice-2', { remoteHost: null, bytesIn: 5 }),
    ]);
    const lines = table.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(
      /^START\s+END\s+PROFILE\s+TARGET\s+REMOTE\s+IN\s+OUT\s+SESSION\s+REASON$/,
    );
    expect(lines[1]).toContain('orders.c1a2b3c4d5e6.us-east-1.rds.amazonaws.com:5432');
    expect(lines[1]).toContain('1.5 KiB');
    expect(lines[2]).toContain('i-0123456789abcdef0:5432');
    expect(lines[2]).toContain('5 B');
    expect(lines[1]!.indexOf('alice-1')).toBe(lines[2]!.indexOf('alice-2'));
  });
});
