import { describe, expect, it } from 'vitest';
import { endUnresponsiveDaemon } from '../../daemon/stop-daemon.js';

/** Records the signals sent, and resolves each waitForExit call with the next outcome. */
function fakeProcess(exits: boolean[]) {
  const signals: string[] = [];
  const waits: number[] = [];
  return {
    signals,
    waits,
    kill: (signal: NodeJS.Signals) => void signals.push(signal),
    waitForExit: async (timeoutMs: number) => {
      waits.push(timeoutMs);
      return exits.shift() ?? false;
    },
  };
}

describe('endUnresponsiveDaemon', () => {
  it('resumes a stopped daemon after SIGTERM', async () => {
    const fake = fakeProcess([true]);
    const outcome = await endUnresponsiveDaemon({
      ...fake,
      canContinue: true,
      stopTimeoutMs: 5000,
    });
    expect(outcome).toEqual({ signal: 'SIGTERM', exited: true });
    expect(fake.signals).toEqual(['SIGTERM', 'SIGCONT']);
    expect(fake.waits).toEqual([5000]);
  });

  it('sends SIGKILL when SIGTERM is not handled', async () => {
    const fake = fakeProcess([false, true]);
    const outcome = await endUnresponsiveDaemon({
      ...fake,
      canContinue: true,
      stopTimeoutMs: 5000,
      killTimeoutMs: 1000,
    });
    expect(outcome).toEqual({ signal: 'SIGKILL', exited: true });
    expect(fake.signals).toEqual(['SIGTERM', 'SIGCONT', 'SIGKILL']);
    expect(fake.waits).toEqual([5000, 1000]);
  });

  it('skips SIGCONT where it does not exist', async () => {
    const fake = fakeProcess([true]);
    await endUnresponsiveDaemon({ ...fake, canContinue: false });
    expect(fake.signals).toEqual(['SIGTERM']);
  });

  it('reports a process that survives SIGKILL', async () => {
    const fake = fakeProcess([false, false]);
    const outcome = await endUnresponsiveDaemon({ ...fake, canContinue: true });
    expect(outcome).toEqual({ signal: 'SIGKILL', exited: false });
  });
});
