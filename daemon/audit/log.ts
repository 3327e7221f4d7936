// JSON-lines audit log of tunnel sessions: one line per session, written when it ends, in
// `audit.jsonl` of the state directory.

import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Profile } from '../config/types.js';
import type { SessionEnd, SessionStats } from '../portforward/types.js';

export interface AuditEntry {
  profile: string;
  target: string;
  remoteHost: string | null;
  remotePort: number;
  sessionId: string;
  /** ISO 8601 start and end times. */
  start: string;
  end: string;
  /** Reason the session ended, e.g. "closed by user" or "idle timeout". */
  reason: string;
  /** Bytes received from the remote host and sent to it. */
  bytesIn: number;
  bytesOut: number;
}

export interface AuditLog {
  readonly file: string;
  /** Appends one entry; concurrent calls are written in call order. */
  record(entry: AuditEntry): Promise<void>;
  /** Reads every entry, oldest first; a damaged line is skipped and counted. */
  read(): Promise<{ entries: AuditEntry[]; skippedLines: number }>;
}

export const AUDIT_FILE_NAME = 'audit.jsonl';

/** Builds the entry of one ended port-forwarding session, e.g. in its `ended` handler. */
export function auditEntryFor(options: {
  profile: Profile;
  /** Instance id the session ran on. */
  target: string;
  /** Host the agent dialed, after `rds:` style names were resolved; null for the target. */
  remoteHost: string | null;
  sessionId: string;
  startedAt: Date;
  endedAt: Date;
  end: SessionEnd;
  stats: SessionStats;
}): AuditEntry {
  return {
    profile: options.profile.name,
    target: options.target,
    remoteHost: options.remoteHost,
    remotePort: options.profile.remotePort,
    sessionId: options.sessionId,
    start: options.startedAt.toISOString(),
    end: options.endedAt.toISOString(),
    reason: `${options.end.by}: ${options.end.reason}`,
    bytesIn: options.stats.bytesIn,
    bytesOut: options.stats.bytesOut,
  };
}

function isAuditEntry(value: unknown): value is AuditEntry {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const entry = value as Record<string, unknown>;
  return (
    typeof entry.profile === 'string' &&
    typeof entry.sessionId === 'string' &&
    typeof entry.start === 'string' &&
    typeof entry.end === 'string' &&
    typeof entry.bytesIn === 'number' &&
    typeof entry.bytesOut === 'number'
  );
}

export function createAuditLog(stateDir: string): AuditLog {
  const file = join(stateDir, AUDIT_FILE_NAME);
  let queue: Promise<void> = Promise.resolve();
  return {
    file,
    record(entry) {
      const line = `${JSON.stringify(entry)}\n`;
      const write = queue.then(async () => {
        await mkdir(stateDir, { recursive: true, mode: 0o700 });
        await appendFile(file, line, { mode: 0o600 });
      });
      // A failed write rejects its own caller but does not block later entries.
      queue = write.catch(() => undefined);
      return write;
    },
    async read() {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
          return { entries: [], skippedLines: 0 };
        }
        throw error;
      }
      const entries: AuditEntry[] = [];
      let skippedLines = 0;
      for (const line of text.split('\n')) {
        if (line.trim() === '') {
          continue;
        }
        try {
          const parsed: unknown = JSON.parse(line);
          if (isAuditEntry(parsed)) {
            entries.push(parsed);
            continue;
          }
        } catch {
          // Counted below: a line cut short by a crash must not hide the rest of the log.
        }
        skippedLines += 1;
      }
      return { entries, skippedLines };
    },
  };
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) {
    return `${bytes} B`;
  }
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** Formats entries as a fixed-width table for `bastionless audit`. */
export function formatAuditTable(entries: AuditEntry[]): string {
  const header = ['START', 'END', 'PROFILE', 'TARGET', 'REMOTE', 'IN', 'OUT', 'SESSION', 'REASON'];
  const rows = entries.map((entry) => [
    entry.start,
    entry.end,
    entry.profile,
    entry.target,
    `${entry.remoteHost ?? entry.target}:${entry.remotePort}`,
    formatBytes(entry.bytesIn),
    formatBytes(entry.bytesOut),
    entry.sessionId,
    entry.reason,
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]!.length)),
  );
  return [header, ...rows]
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
