// What a daemon leaves in the state directory for the next one. Its control API port lets an
// open dashboard tab reconnect to the same address. The tunnels that were running let `stop`
// then `start` (or a crash and a start) bring back the tunnels the user left up.

import { writeFileAtomic } from './config/atomic-write.js';
import { MAX_PROFILES } from './config/schema.js';
import type { TunnelStatus } from './config/types.js';
import { readStateFile } from './state-file.js';

const RESUME_VERSION = 1;
/**
 * MAX_PROFILES names of at most 63 characters and a config file path fit in under 24 KiB, so
 * a larger file was not written by a daemon.
 */
const MAX_RESUME_FILE_BYTES = 64 * 1024;

export interface ResumeState {
  version: typeof RESUME_VERSION;
  /** Control API port of the last daemon. */
  apiPort: number;
  /** Config file the tunnel names refer to; another config file restores no tunnels. */
  configFile: string;
  /** Names of the tunnels that were not stopped, sorted. */
  runningTunnels: string[];
}

function isPort(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 65535;
}

/**
 * Reads the resume file. Returns null when it does not exist. Throws an Error naming the file
 * and the problem when it is not a regular file of at most MAX_RESUME_FILE_BYTES, cannot be
 * read, or has another shape.
 */
export function readResumeState(file: string): ResumeState | null {
  const read = readStateFile(file, MAX_RESUME_FILE_BYTES);
  if (read === null) {
    return null;
  }
  let raw: Partial<ResumeState> | null;
  try {
    raw = JSON.parse(read.text) as Partial<ResumeState> | null;
  } catch {
    // JSON.parse quotes the start of the text in its message, and the error would carry it into
    // the log, so a file that is a hard link to the token file would leak part of the token.
    throw new Error(`${file} is not valid JSON`);
  }
  if (
    typeof raw !== 'object' ||
    raw === null ||
    raw.version !== RESUME_VERSION ||
    !isPort(raw.apiPort) ||
    typeof raw.configFile !== 'string' ||
    !Array.isArray(raw.runningTunnels) ||
    !raw.runningTunnels.every((name) => typeof name === 'string')
  ) {
    throw new Error(`${file} is not a version ${RESUME_VERSION} resume file`);
  }
  if (raw.runningTunnels.length > MAX_PROFILES) {
    throw new Error(
      `${file} lists ${raw.runningTunnels.length} tunnels; a config file has at most ${MAX_PROFILES}`,
    );
  }
  return raw as ResumeState;
}

/** Names of the tunnels whose state is anything but `stopped`, sorted. */
export function runningTunnelNames(statuses: TunnelStatus[]): string[] {
  return statuses
    .filter((status) => status.state !== 'stopped')
    .map((status) => status.name)
    .sort();
}

/**
 * Returns a function that writes the resume file atomically when its content would change.
 * Tunnels change state often and each write costs an fsync, so unchanged content is skipped.
 */
export function createResumeWriter(file: string): (state: Omit<ResumeState, 'version'>) => void {
  let written: string | undefined;
  return (state) => {
    const content = `${JSON.stringify({ version: RESUME_VERSION, ...state }, null, 2)}\n`;
    if (content !== written) {
      writeFileAtomic(file, content, 0o600);
      written = content;
    }
  };
}
