// Acks stop for 30 s in the middle of a 50 MB upload: the data channel must stay within its
// window, the local socket must be back-pressured, and the upload must finish intact.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATA_CHANNEL_DEFAULTS } from '../../daemon/datachannel/options.js';
import type { PortForwardSession } from '../../daemon/portforward/types.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { reliabilityScenario, waitFor } from './harness/daemon-process.js';
import { startForwardSession, type ForwardSession } from './harness/forward-session.js';
import { runBulk } from './harness/workload.js';
import { WorkloadServer } from './harness/workload-server.js';

const UPLOAD_BYTES = 50 * 1024 * 1024;
const ACK_STOP_MS = 30_000;
/** The upload must have moved this much before the acks stop, so the stall hits mid-transfer. */
const STALL_AFTER_BYTES = 8 * 1024 * 1024;
const WINDOW_BYTES = DATA_CHANNEL_DEFAULTS.windowBytes;
const MAX_PAYLOAD_BYTES = DATA_CHANNEL_DEFAULTS.maxPayloadBytes;

/** The channel is private to the session; this test reads its counters only. */
interface ChannelView {
  channel: { stats: { unackedBytes: number; retransmits: number } };
}

let emulator: Emulator;
let target: WorkloadServer;
let session: PortForwardSession;
let forward: ForwardSession;
let localPort: number;

beforeAll(async () => {
  emulator = await startEmulator({ pacing: false, scenario: reliabilityScenario() });
  target = new WorkloadServer();
  await target.listen();
  forward = await startForwardSession(emulator, target.port);
  session = forward.session;
  localPort = forward.port;
});

afterAll(async () => {
  await forward?.close();
  await target?.close();
  await emulator?.close();
});

describe('acks stop during a 50 MB upload', () => {
  it('stays within the window and completes', { timeout: 150_000 }, async () => {
    const record = emulator.sessions[0]!;
    const channel = (session as unknown as ChannelView).channel;
    let maxUnacked = 0;
    const unackedSampler = setInterval(() => {
      maxUnacked = Math.max(maxUnacked, channel.stats.unackedBytes);
    }, 5);

    const transfer = runBulk({
      port: localPort,
      connectionId: 1,
      uploadBytes: UPLOAD_BYTES,
      downloadBytes: 0,
      readTimeoutMs: 120_000,
    });
    await waitFor('the upload to pass 8 MiB', async () =>
      record.bytesFromClient >= STALL_AFTER_BYTES ? true : undefined,
    );
    emulator.setFaults(record.sessionId, { dropAcksToClientProbability: 1 });
    const stallStarted = Date.now();
    const atStallStart = record.bytesFromClient;
    const retransmitsBefore = channel.stats.retransmits;

    // Let the window fill, then watch the agent side: nothing new may arrive beyond what
    // the window held when the acks stopped.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const afterFill = record.bytesFromClient;
    const unackedWhileStalled = channel.stats.unackedBytes;
    await new Promise((resolve) => setTimeout(resolve, ACK_STOP_MS - (Date.now() - stallStarted)));
    const atStallEnd = record.bytesFromClient;
    const retransmitsDuringStall = channel.stats.retransmits - retransmitsBefore;
    emulator.setFaults(record.sessionId, {});

    const result = await transfer;
    clearInterval(unackedSampler);
    maxUnacked = Math.max(maxUnacked, channel.stats.unackedBytes);
    console.log(
      JSON.stringify({
        uploadBytes: UPLOAD_BYTES,
        bytesAtStallStart: atStallStart,
        bytesDuringStall: atStallEnd - atStallStart,
        bytesAfterWindowFilled: atStallEnd - afterFill,
        unackedWhileStalled,
        maxUnacked,
        retransmitsDuringStall,
        transferMs: result.durationMs,
      }),
    );

    expect(result.error).toBeUndefined();
    expect(result.mismatch).toBeUndefined();
    expect(result.ok).toBe(true);
    expect(result.bytesUp).toBe(UPLOAD_BYTES);
    // admit() lets one message into a window that is not yet full, so the bound is the window
    // plus less than one message.
    expect(maxUnacked).toBeLessThan(WINDOW_BYTES + MAX_PAYLOAD_BYTES);
    expect(unackedWhileStalled).toBeGreaterThan(WINDOW_BYTES - MAX_PAYLOAD_BYTES);
    // Back-pressure: once the window is full the agent receives nothing new for 25 s, and
    // all it received during the stall is less than one window.
    expect(atStallEnd - afterFill).toBe(0);
    expect(atStallEnd - atStallStart).toBeLessThan(WINDOW_BYTES + MAX_PAYLOAD_BYTES);
    expect(retransmitsDuringStall).toBeGreaterThan(0);
    expect(record.bytesFromClient).toBeGreaterThanOrEqual(UPLOAD_BYTES);
  });
});
