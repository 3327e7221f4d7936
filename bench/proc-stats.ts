// CPU time and memory of another process, read from Linux /proc, so the bench measures
// the tunnel process from outside without any hook inside it.

import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

let clockTicks: number | undefined;

/** Returns the kernel's clock ticks per second (USER_HZ), which /proc/PID/stat counts in. */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    const output = spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim();
    const parsed = Number(output);
    // 100 is USER_HZ on every mainstream Linux architecture; getconf may be absent.
    clockTicks = Number.isInteger(parsed) && parsed > 0 ? parsed : 100;
  }
  return clockTicks;
}

export interface ProcessSample {
  /** User plus system CPU time since the process started, in seconds. */
  cpuSeconds: number;
  /** Resident set size now, in bytes (VmRSS). */
  rssBytes: number;
  /** Peak resident set size since the process started, in bytes (VmHWM). */
  peakRssBytes: number;
}

function statusKilobytes(status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
  if (!match) {
    throw new Error(`/proc status has no ${field} line`);
  }
  return Number(match[1]) * 1024;
}

/** Reads CPU time and memory of `pid`; throws if the process is gone. */
export function sampleProcess(pid: number): ProcessSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name in field 2 may contain spaces and parentheses, so the fields are
  // counted from the last closing parenthesis: utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return {
    cpuSeconds: ticks / ticksPerSecond(),
    rssBytes: statusKilobytes(status, 'VmRSS'),
    peakRssBytes: statusKilobytes(status, 'VmHWM'),
  };
}
