// Starts the emulator for the AWS integration tests, with a strict scenario, so real SDK
// clients call the emulated STS, EC2, RDS, ElastiCache and SSM APIs on 127.0.0.1.

import { startEmulator } from '../../emulator/index.js';
import type { Scenario } from '../../emulator/scenario.js';
import type { EmulatorState } from '../../emulator/state.js';

export interface AwsApiServer {
  endpoint: string;
  state: EmulatorState;
  close(): Promise<void>;
}

/**
 * Starts the emulator with `scenario`: only its instances exist, and when it lists
 * credentials, only those keys are accepted. The emulator fills in the defaults of partial
 * entries (an instance without `pingStatus` is Online, for example).
 */
export async function startAwsApiServer(scenario: Record<string, unknown>): Promise<AwsApiServer> {
  const emulator = await startEmulator({ scenario: scenario as Partial<Scenario>, pacing: false });
  return {
    endpoint: emulator.url,
    state: emulator.state,
    close: () => emulator.close(),
  };
}
