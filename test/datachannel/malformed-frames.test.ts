// Malformed frames from a rogue service on 127.0.0.1. The data channel drops each one, logs
// the first of each kind with its details and counts the rest. It rejects a websocket
// message above the frame limit from its header, names the frames in a failed start, and
// keeps carrying data.

import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { DataChannel, DataChannelError } from '../../daemon/datachannel/datachannel.js';
import {
  dataChannelTotals,
  MalformedFrameLog,
  type DataChannelLogger,
} from '../../daemon/datachannel/malformed-frames.js';
import {
  encodeMessage,
  MAX_FRAME_BYTES,
  MessageDecodeError,
  MessageType,
} from '../../daemon/protocol/message.js';
import { AgentPeer, waitFor } from './agent-peer.js';

/** Offsets of the ClientMessage header fields, from the frame layout. */
const DIGEST_OFFSET = 80;
const PAYLOAD_LENGTH_OFFSET = 116;

interface LogLine {
  fields: Record<string, unknown>;
  message: string;
}

function captureLogger(): { logger: DataChannelLogger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  return { lines, logger: { warn: (fields, message) => lines.push({ fields, message }) } };
}

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  while (cleanups.length > 0) {
    await cleanups.pop()!();
  }
});

async function startPeer(options: ConstructorParameters<typeof AgentPeer>[0] = {}) {
  const peer = new AgentPeer(options);
  await peer.start();
  cleanups.push(() => peer.stop());
  return peer;
}

function createChannel(peer: AgentPeer, logger: DataChannelLogger, handshakeTimeoutMs = 30_000) {
  const channel = new DataChannel({
    streamUrl: peer.url,
    tokenValue: 'start-token',
    sessionId: 'rogue-session',
    resume: async () => ({ tokenValue: 'resumed-token' }),
    reconnectInitialDelayMs: 20,
    handshakeTimeoutMs,
    logger,
  });
  cleanups.push(() => channel.close());
  return channel;
}

/** Bad frames of the rogue service, each with the error code the channel reports. */
function badFrames(peer: AgentPeer): Array<{ name: string; code: string; send: () => void }> {
  // Sequence number 0 was delivered with the handshake, so no frame here opens a gap.
  const output = (payload: Buffer) => peer.outputFrame(0, payload);
  return [
    {
      name: 'text frame',
      code: 'ERR_FRAME_TOO_SHORT',
      send: () => peer.socket!.send('not a binary frame'),
    },
    {
      name: '3-byte frame',
      code: 'ERR_FRAME_TOO_SHORT',
      send: () => peer.sendRaw(Buffer.from([1, 2, 3])),
    },
    {
      name: 'header length 2^32-1',
      code: 'ERR_BAD_HEADER_LENGTH',
      send: () => {
        const frame = output(Buffer.from('x'));
        frame.writeUInt32BE(0xffffffff, 0);
        peer.sendRaw(frame);
      },
    },
    {
      name: 'payload length 2^32-1',
      code: 'ERR_PAYLOAD_LENGTH_MISMATCH',
      send: () => {
        const frame = output(Buffer.from('x'));
        frame.writeUInt32BE(0xffffffff, PAYLOAD_LENGTH_OFFSET);
        peer.sendRaw(frame);
      },
    },
    {
      name: 'bad digest',
      code: 'ERR_DIGEST_MISMATCH',
      send: () => {
        const frame = output(Buffer.from('hello'));
        frame[DIGEST_OFFSET] = frame[DIGEST_OFFSET]! ^ 0xff;
        peer.sendRaw(frame);
      },
    },
    {
      name: 'sequence 2^62',
      code: 'ERR_PAYLOAD_INVALID_FIELD',
      send: () =>
        peer.sendRaw(
          encodeMessage({
            messageType: MessageType.OutputStreamData,
            sequenceNumber: 2n ** 62n,
            payload: Buffer.from('x'),
          }),
        ),
    },
  ];
}

describe('malformed frames', () => {
  it('are logged once per kind and counted', async () => {
    const peer = await startPeer();
    const { logger, lines } = captureLogger();
    const channel = createChannel(peer, logger);
    const chunks: Buffer[] = [];
    channel.on('data', (chunk: Buffer) => chunks.push(chunk));
    await channel.open();
    await waitFor(() => peer.acked.includes(1), 2_000, 'handshake complete ack');

    const frames = badFrames(peer);
    for (const frame of frames) {
      frame.send();
    }
    // The same kinds again: counted, but logged as one line of repeats.
    for (const frame of frames) {
      frame.send();
    }
    await waitFor(
      () => channel.stats.protocolErrors === 2 * frames.length,
      5_000,
      'every bad frame counted',
    );
    const data = randomBytes(4096);
    peer.sendOutput(data);
    await waitFor(() => Buffer.concat(chunks).length === data.length, 5_000, 'data after');

    const codes = [...new Set(frames.map((frame) => frame.code))];
    const firstLines = lines.filter((line) => line.fields.code !== undefined);
    const repeatLines = lines.filter((line) => line.fields.repeats !== undefined);
    expect(firstLines.map((line) => line.fields.code)).toEqual(codes);
    for (const line of firstLines) {
      expect(line.fields.sessionId).toBe('rogue-session');
      expect(String(line.fields.error).length).toBeGreaterThan(0);
      expect(line.message).toContain('malformed frame');
    }
    // The first repeat is logged at once; later ones wait for the one-minute interval.
    expect(repeatLines).toHaveLength(1);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect(dataChannelTotals().malformedFrames.get('ERR_DIGEST_MISMATCH')).toBeGreaterThanOrEqual(
      2,
    );

    await channel.close();
    const flushed = lines.filter((line) => line.fields.repeats !== undefined);
    expect(flushed).toHaveLength(2);
    expect(flushed.reduce((sum, line) => sum + Number(line.fields.repeats), codes.length)).toBe(
      2 * frames.length,
    );
  });

  it('rejects a message above the frame limit', async () => {
    const peer = await startPeer();
    const { logger, lines } = captureLogger();
    const channel = createChannel(peer, logger);
    const losses: DataChannelError[] = [];
    channel.on('reconnecting', (error: DataChannelError) => losses.push(error));
    const chunks: Buffer[] = [];
    channel.on('data', (chunk: Buffer) => chunks.push(chunk));
    await channel.open();
    await waitFor(() => peer.acked.includes(1), 2_000, 'handshake complete ack');

    peer.sendRaw(Buffer.alloc(64 * 1024 * 1024, 0x41));
    await waitFor(() => losses.length === 1, 10_000, 'websocket loss');
    await waitFor(() => peer.opens.length === 2, 5_000, 'resumed websocket');
    const data = randomBytes(4096);
    peer.sendOutput(data);
    await waitFor(() => Buffer.concat(chunks).length === data.length, 5_000, 'data after');

    expect(channel.stats.protocolErrors).toBe(1);
    expect(lines[0]?.fields.code).toBe('ERR_FRAME_TOO_LARGE');
    expect(String(lines[0]?.fields.error)).toContain(`${MAX_FRAME_BYTES}-byte frame limit`);
    expect(losses[0]?.code).toBe('ERR_CONNECTION_LOST');
    expect(losses[0]?.message).toContain('Max payload size exceeded');
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
  });

  it('are named in a failed start', async () => {
    const peer = await startPeer({ handshake: false });
    const { logger } = captureLogger();
    const channel = createChannel(peer, logger, 500);
    const opened = channel.open().catch((caught: unknown) => caught);
    await waitFor(() => peer.socket !== null && peer.opens.length === 1, 2_000, 'open frame');
    for (const frame of badFrames(peer).slice(0, 3)) {
      frame.send();
    }

    const error = (await opened) as DataChannelError;
    expect(error).toBeInstanceOf(DataChannelError);
    expect(error.code).toBe('ERR_HANDSHAKE_TIMEOUT');
    expect(error.message).toContain('3 malformed frames from the service');
    expect(error.message).toContain('ERR_FRAME_TOO_SHORT x2');
    expect(error.message).toContain('ERR_BAD_HEADER_LENGTH x1');
    expect(error.message).toContain('check that the SSM endpoint');
  });
});

describe('MalformedFrameLog', () => {
  it('logs repeats at most once a minute', () => {
    const { logger, lines } = captureLogger();
    let nowMs = 1_000_000;
    const log = new MalformedFrameLog('session-1', logger, () => nowMs);
    const error = new MessageDecodeError('ERR_DIGEST_MISMATCH', 'payload digest mismatch');
    for (let i = 0; i < 100; i++) {
      log.record(error);
      nowMs += 100;
    }
    // The first line and one repeat line come at once, and the next 98 repeats wait.
    expect(lines).toHaveLength(2);
    nowMs += 60_000;
    log.record(error);
    expect(lines).toHaveLength(3);
    expect(lines[2]?.fields.repeats).toBe(99);
    log.flush();
    expect(lines).toHaveLength(3);
    expect(log.summary()).toBe(
      '101 malformed frames from the service (ERR_DIGEST_MISMATCH x101: payload digest mismatch)',
    );
  });
});
