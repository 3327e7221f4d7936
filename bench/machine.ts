// Description of the machine a bench run used, for the results page.

import { readFileSync } from 'node:fs';
import { cpus, totalmem, release, platform } from 'node:os';

export interface MachineInfo {
  cpuModel: string;
  /** Logical CPUs visible to this process. */
  cores: number;
  memoryGiB: number;
  node: string;
  os: string;
}

export function describeMachine(): MachineInfo {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpuModel;
  } catch {
    // /proc is Linux only; os.cpus() already gave a model name elsewhere.
  }
  return {
    cpuModel,
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${platform()} ${release()}`,
  };
}
