// Shape of docs/benchmarks.json, shared by the runner, the page renderer and the smoke test.

import type { MachineInfo } from './machine.js';
import type { SuiteResult, SuiteSizes, Throughput } from './suite.js';

export interface EmulatorCeiling {
  pacing: boolean;
  download1: Throughput;
  download8: Throughput;
  upload1: Throughput;
  /** Agent messages resent because an ack was late, over all runs. */
  duplicates: number;
}

export interface PoolResult {
  sessionPool: number;
  download8: Throughput;
}

export interface IdleResources {
  tunnels: number;
  /** Resident memory after the tunnels settled, in MB (10^6 bytes). */
  rssMb: number;
  /** CPU time used while idle, in seconds per minute. */
  cpuSecondsPerMinute: number;
  /** Resident memory of an idle Node process started the same way, in MB. */
  bareNodeRssMb: number;
}

export interface LoadResources {
  /** Payload bytes carried through the tunnel process while it was sampled. */
  bytesMoved: number;
  cpuSeconds: number;
  cpuSecondsPerGb: number;
  peakRssMb: number;
}

export interface HotSpot {
  functionName: string;
  location: string;
  selfPercent: number;
}

export interface ProfileResult {
  workload: string;
  sampledSeconds: number;
  hotSpots: HotSpot[];
}

export interface TargetResult {
  name: string;
  /** Measured value, in the unit the description names. */
  value: number;
  threshold: number;
  comparison: '>=' | '<=' | '<' | '==';
  met: boolean;
  detail: string;
}

export interface BenchResults {
  schemaVersion: 1;
  date: string;
  smoke: boolean;
  durationSeconds: number;
  machine: MachineInfo;
  openssh: { version: string; cipher: string };
  /** Description of the program that hosted the bastionless sessions. */
  tunnelHost: string;
  sizes: { pacingOff: SuiteSizes; pacingOn: SuiteSizes; poolBytesPerConnection: number };
  paths: {
    direct: SuiteResult;
    ssh: SuiteResult;
    bastionlessPacingOff: SuiteResult;
    bastionlessPacingOn: SuiteResult;
  };
  emulator: { pacingOff: EmulatorCeiling; pacingOn: EmulatorCeiling };
  sessionPool: PoolResult[];
  resources: { idle: IdleResources; load: LoadResources };
  profile: ProfileResult | null;
  targets: TargetResult[];
}
