// A real daemon against the SSM emulator, whose websocket to the daemon also carries broken
// frames and one message above the 1 MiB frame limit. The tunnel keeps carrying data, its
// status and the metrics count the dropped frames, and the log names each kind once.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { WebSocket } from 'ws';
import { describe, expect, it } from 'vitest';
import { MessageType, PayloadType, encodeMessage } from '../../daemon/protocol/message.js';
import type { Emulator } from '../emulator/index.js';
import { echoRoundTrip } from '../tunnel/helpers.js';
import {
  cleanupAfterEach,
  emulatorProfile,
  startEmulatorRig,
  startTestDaemon,
  waitUntil,
} from './helpers.js';

const addCleanup = cleanupAfterEach();

/** Offset of PayloadDigest in the ClientMessage header, from the frame layout. */
const DIGEST_OFFSET = 80;

/** Returns the emulator's live websocket to the daemon, a private field that only tests reach. */
function serviceSocket(emulator: Emulator, sessionId: string): WebSocket {
  const runtime = emulator.session(sessionId) as unknown as { websocket: WebSocket };
  return runtime.websocket;
}

/** Broken frames that each fail to decode in the daemon. */
function brokenFrames(): Array<string | Buffer> {
  const frame = () =>
    encodeMessage({
      messageType: MessageType.OutputStreamData,
      sequenceNumber: 0,
      payloadType: PayloadType.Output,
      payload: Buffer.from('x'),
    });
  const badHeaderLength = frame();
  badHeaderLength.writeUInt32BE(0xffffffff, 0);
  const badDigest = frame();
  badDigest[DIGEST_OFFSET] = badDigest[DIGEST_OFFSET]! ^ 0xff;
  return ['not a binary frame', Buffer.from([1, 2, 3]), badHeaderLength, badDigest];
}

async function metricValue(url: string, token: string, line: string): Promise<number> {
  const response = await fetch(`${url}/metrics`, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  const found = text.split('\n').find((entry) => entry.startsWith(`${line} `));
  return found === undefined ? Number.NaN : Number(found.slice(line.length + 1));
}

describe('malformed frames from the service', () => {
  it('are counted in status and metrics', { timeout: 60_000 }, async () => {
    const { home, emulator, echo } = await startEmulatorRig(addCleanup);
    const profile = emulatorProfile(emulator, {
      name: 'pg',
      awsProfile: 'static',
      remotePort: echo.port,
    });
    const daemon = await startTestDaemon(home.dir, [profile]);
    addCleanup(() => daemon.stop());
    await waitUntil('tunnel open', async () => (await daemon.tunnel('pg')).state === 'open');
    const sessionId = (await daemon.tunnel('pg')).sessionIds[0]!;
    const localPort = await daemon.localPort('pg');

    const frames = brokenFrames();
    for (const frame of frames) {
      serviceSocket(emulator, sessionId).send(frame);
    }
    await waitUntil(
      'broken frames counted',
      async () => (await daemon.tunnel('pg')).protocolErrors === frames.length,
    );
    // ws would buffer up to 100 MiB by default, but the daemon rejects this from its header.
    serviceSocket(emulator, sessionId).send(Buffer.alloc(64 * 1024 * 1024, 0x41));
    await waitUntil(
      'oversized message counted',
      async () => (await daemon.tunnel('pg')).protocolErrors === frames.length + 1,
    );
    const after = await echoRoundTrip('127.0.0.1', localPort, 256 * 1024);
    const status = await daemon.tunnel('pg');
    const { url, token } = daemon.daemon;

    expect(after.received).toBe(after.sent);
    expect(status.state).toBe('open');
    expect(status.sessionIds).toEqual([sessionId]);
    expect(status.droppedMessages).toBe(0);
    expect(
      await metricValue(
        url,
        token,
        'bastionless_datachannel_malformed_frames_total{code="ERR_FRAME_TOO_SHORT"}',
      ),
    ).toBe(2);
    expect(
      await metricValue(
        url,
        token,
        'bastionless_datachannel_malformed_frames_total{code="ERR_BAD_HEADER_LENGTH"}',
      ),
    ).toBe(1);
    expect(
      await metricValue(
        url,
        token,
        'bastionless_datachannel_malformed_frames_total{code="ERR_DIGEST_MISMATCH"}',
      ),
    ).toBe(1);
    expect(
      await metricValue(
        url,
        token,
        'bastionless_datachannel_malformed_frames_total{code="ERR_FRAME_TOO_LARGE"}',
      ),
    ).toBe(1);
    expect(await metricValue(url, token, 'bastionless_datachannel_stalls_total')).toBe(0);

    const logged = (await readFile(join(daemon.stateDir, 'daemon.log'), 'utf8'))
      .split('\n')
      .filter((line) => line.includes('dropped a malformed frame'))
      .map((line) => JSON.parse(line) as { tunnel?: string; sessionId: string; code: string });
    expect(logged.map((entry) => entry.code).sort()).toEqual([
      'ERR_BAD_HEADER_LENGTH',
      'ERR_DIGEST_MISMATCH',
      'ERR_FRAME_TOO_LARGE',
      'ERR_FRAME_TOO_SHORT',
    ]);
    expect(logged.every((entry) => entry.sessionId === sessionId)).toBe(true);
    expect(logged.every((entry) => entry.tunnel === 'pg')).toBe(true);
  });
});
