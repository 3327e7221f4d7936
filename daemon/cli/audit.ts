// `audit`: print the audit log of tunnel sessions.

import { createAuditLog, formatAuditTable, type AuditEntry } from '../audit/log.js';
import { integerOption, parseCommandArgs, stringOption } from './args.js';
import { pathsFor, print, type Command } from './command.js';

/**
 * Returns the line printed when no session matches. With --profile, it lists the profiles that
 * do have sessions, so a misspelt name is distinguishable from an empty log.
 */
export function noSessionsMessage(
  entries: readonly AuditEntry[],
  profile: string | undefined,
  file: string,
): string {
  if (profile === undefined || entries.length === 0) {
    return `no sessions recorded in ${file}`;
  }
  const profiles = [...new Set(entries.map((entry) => entry.profile))].sort();
  const sessions = entries.length === 1 ? '1 session' : `${entries.length} sessions`;
  return `no sessions for profile ${profile} (${sessions} recorded for: ${profiles.join(', ')})`;
}

export const auditCommand: Command = {
  name: 'audit',
  summary: 'print the audit log of tunnel sessions',
  help: `Usage: bastionless audit [--profile NAME] [--last N] [--json]

Prints one line per ended session: start, end, profile, target, remote host and port, bytes
in and out, session id and why it ended.

  --profile NAME   only sessions of this profile
  --last N         only the N most recent sessions
  --json           print JSON lines, as stored

Examples:
  bastionless audit --last 20
  bastionless audit --profile orders-db
  bastionless audit --json > sessions.jsonl`,
  async run(argv) {
    const args = parseCommandArgs('audit', argv, {
      profile: { type: 'string' },
      last: { type: 'string' },
      json: { type: 'boolean' },
    });
    const log = createAuditLog(pathsFor(args).stateDir);
    const { entries, skippedLines } = await log.read();
    const profile = stringOption(args, 'profile');
    const matching =
      profile === undefined ? entries : entries.filter((entry) => entry.profile === profile);
    let selected = matching;
    const last = integerOption('audit', args, 'last');
    if (last !== undefined) {
      selected = selected.slice(Math.max(0, selected.length - last));
    }
    if (skippedLines > 0) {
      process.stderr.write(`warning: skipped ${skippedLines} damaged line(s) in ${log.file}\n`);
    }
    if (args.values.json) {
      for (const entry of selected) {
        print(JSON.stringify(entry));
      }
      return 0;
    }
    if (matching.length === 0) {
      print(noSessionsMessage(entries, profile, log.file));
    } else if (selected.length > 0) {
      print(formatAuditTable(selected));
    }
    return 0;
  },
};
