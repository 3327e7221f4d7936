// What a daemon leaves in the state directory for the next one: its control API port, so an
// open dashboard tab reconnects to the same address, and the tunnels that were running, so
// `stop` then `start` (or a crash and a start) brings back the tunnels the user left up.

import { readFileSync } from 'node:fs';
import { writeFileAtomic } from './config/atomic-write.js';
import type { TunnelStatus } from './config/types.js';

const RESUME_VERSION = 1;

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
 * Reads the resume file. Returns null when it does not exist; throws an Error naming the file
 * and the problem when it cannot be read or has another shape.
 */
export function readResumeState(file: string): ResumeState | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return null;
    }
    throw error;
  }
  const raw = JSON.parse(text) as Partial<ResumeState> | null;
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
