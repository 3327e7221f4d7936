// Description of the machine a bench run used, for the results page.

import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, release, platform } from 'node:os';

export interface MachineInfo {
  cpuModel: string;
  /** Logical CPUs visible to this process. */
  cores: number;
  memoryGiB: number;
  node: string;
  os: string;
  /**
   * Load averages over 1, 5 and 15 minutes when the description was taken. Above the core
   * count, other programs competed with the bench for the CPU.
   */
  loadAverage?: number[];
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
    loadAverage: loadavg().map((value) => Math.round(value * 100) / 100),
  };
}
