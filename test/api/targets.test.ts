import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { createDescribeTargets } from '../../daemon/api/targets.js';

let emulator: Emulator;
const savedEnv = { ...process.env };

beforeAll(async () => {
  // The SDK's default provider chain reads these, so it never queries the instance metadata service.
  process.env.AWS_ACCESS_KEY_ID = 'AKIAEMULATOREXAMPLE';
  process.env.AWS_SECRET_ACCESS_KEY = 'emulator-secret';
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  emulator = await startEmulator({ pacing: false });
});

afterAll(async () => {
  process.env = savedEnv;
  await emulator?.close();
});

describe('createDescribeTargets', () => {
  it('lists only online instances', async () => {
    const describeTargets = createDescribeTargets();
    const targets = await describeTargets({ region: 'us-east-1', endpoint: emulator.url });
    const ids = targets.map((target) => target.instanceId).sort();
    const expected = emulator.state.scenario.instances
      .filter((instance) => instance.pingStatus === 'Online')
      .map((instance) => instance.instanceId)
      .sort();
    expect(ids).toEqual(expected);
    expect(ids).not.toContain('i-00000000000000bad');
    expect(targets.every((target) => target.pingStatus === 'Online')).toBe(true);
  });

  it('names targets by their Name tag', async () => {
    const describeTargets = createDescribeTargets();
    const targets = await describeTargets({ region: 'us-east-1', endpoint: emulator.url });
    expect(targets.length).toBeGreaterThan(0);
    for (const target of targets) {
      const instance = emulator.state.scenario.instances.find(
        (candidate) => candidate.instanceId === target.instanceId,
      )!;
      expect(target.name).toBe(instance.tags.Name ?? target.computerName);
      expect(target.computerName).not.toBe(instance.tags.Name);
    }
  });

  it('fails when the endpoint is unreachable', async () => {
    const describeTargets = createDescribeTargets(5000);
    await expect(
      describeTargets({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9' }),
    ).rejects.toThrow();
  });
});
