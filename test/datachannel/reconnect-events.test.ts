// The data channel's `reconnect-failed` event on a real websocket: each failed attempt after
// a lost websocket is announced with its number and the delay before the next one, and the
// channel still resumes once an attempt succeeds. `reconnect-attempt` announces every start.

import { afterEach, describe, expect, it } from 'vitest';
import { DataChannel } from '../../daemon/datachannel/datachannel.js';
import type { ReconnectAttemptFailure } from '../../daemon/datachannel/reconnect.js';
import { AgentPeer, waitFor } from './agent-peer.js';

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  while (cleanups.length > 0) {
    await cleanups.pop()!();
  }
});

describe('DataChannel reconnect-failed', () => {
  it('announces each failed attempt', async () => {
    const peer = new AgentPeer();
    await peer.start();
    cleanups.push(() => peer.stop());
    let resumes = 0;
    const channel = new DataChannel({
      streamUrl: peer.url,
      tokenValue: 'start-token',
      sessionId: 'session-1',
      reconnectInitialDelayMs: 20,
      reconnectMaxDelayMs: 40,
      resume: async () => {
        resumes += 1;
        if (resumes <= 3) {
          throw new Error(`InternalServerError ${resumes}`);
        }
        return { tokenValue: 'resumed-token' };
      },
    });
    cleanups.push(() => channel.close());
    const reports: ReconnectAttemptFailure[] = [];
    channel.on('reconnect-failed', (report: ReconnectAttemptFailure) => reports.push(report));
    const started: number[] = [];
    channel.on('reconnect-attempt', (attempt: number) => started.push(attempt));
    let reconnected = false;
    channel.on('reconnected', () => {
      reconnected = true;
    });
    await channel.open();

    peer.socket!.close(1000, 'Bye');
    await waitFor(() => reconnected, 5_000, 'the resume');

    expect(reports.map((report) => report.attempt)).toEqual([1, 2, 3]);
    expect(started).toEqual([1, 2, 3, 4]);
    expect(reports.map((report) => (report.error as Error).message)).toEqual([
      'InternalServerError 1',
      'InternalServerError 2',
      'InternalServerError 3',
    ]);
    for (const report of reports) {
      expect(report.stage).toBe('resume');
      expect(report.nextDelayMs).toBeGreaterThan(0);
      expect(report.nextDelayMs).toBeLessThanOrEqual(40);
    }
  });
});
