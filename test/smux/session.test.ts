import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';

import {
  SmuxCommand,
  SmuxFrameDecoder,
  SmuxProtocolError,
  encodeSmuxFrame,
  type SmuxFrame,
} from '../../daemon/smux/frame.js';
import { SmuxSessionError } from '../../daemon/smux/errors.js';
import { SmuxSession } from '../../daemon/smux/session.js';
import type { SmuxStream } from '../../daemon/smux/stream.js';

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Creates a session that records its written bytes, with the sink result under test control. */
function recordingSession(
  options: {
    keepAlive?: boolean;
    maxStreamBufferBytes?: number;
    maxSessionBufferBytes?: number;
  } = {},
) {
  const written: Buffer[] = [];
  let accept = true;
  const session = new SmuxSession({
    write: (bytes) => {
      written.push(bytes);
      return accept;
    },
    ...options,
  });
  return {
    session,
    written,
    bytes: () => Buffer.concat(written),
    setAccept: (value: boolean) => {
      accept = value;
    },
  };
}

function collect(stream: SmuxStream): { chunks: Buffer[]; ended: () => boolean } {
  const chunks: Buffer[] = [];
  let ended = false;
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  stream.on('end', () => {
    ended = true;
  });
  return { chunks, ended: () => ended };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('SmuxSession', () => {
  it('writes the golden bytes of open, hello, close, open', () => {
    const { session, bytes } = recordingSession();
    const first = session.openStream();
    first.write(Buffer.from('hello'));
    first.close();
    const second = session.openStream();

    expect(first.id).toBe(3);
    expect(second.id).toBe(5);
    expect(bytes().toString('hex')).toBe(
      [
        '0100000003000000',
        '010205000300000068656c6c6f',
        '0101000003000000',
        '0100000005000000',
      ].join(''),
    );
  });

  it('splits writes into PSH frames of 32768 bytes', () => {
    const { session, bytes } = recordingSession();
    const stream = session.openStream();
    const data = randomBytes(32768 * 2 + 100);
    stream.write(data);

    const frames = new SmuxFrameDecoder().push(bytes());
    const psh = frames.filter((frame) => frame.cmd === SmuxCommand.Psh);
    expect(psh.map((frame) => frame.data.length)).toEqual([32768, 32768, 100]);
    expect(sha256(Buffer.concat(psh.map((frame) => frame.data)))).toBe(sha256(data));
  });

  it('reassembles frames split at every byte', () => {
    const { session } = recordingSession();
    const stream = session.openStream();
    const received = collect(stream);
    const payload = randomBytes(3000);
    const wire = Buffer.concat([
      encodeSmuxFrame(SmuxCommand.Nop, 0),
      encodeSmuxFrame(SmuxCommand.Psh, stream.id, payload.subarray(0, 1000)),
      encodeSmuxFrame(SmuxCommand.Psh, stream.id, payload.subarray(1000)),
      encodeSmuxFrame(SmuxCommand.Fin, stream.id),
    ]);
    for (let i = 0; i < wire.length; i++) {
      session.push(wire.subarray(i, i + 1));
    }

    expect(sha256(Buffer.concat(received.chunks))).toBe(sha256(payload));
    expect(received.ended()).toBe(true);
  });

  it('decodes many frames from one chunk', () => {
    const { session } = recordingSession();
    const streams = [session.openStream(), session.openStream()];
    const received = streams.map(collect);
    session.push(
      Buffer.concat([
        encodeSmuxFrame(SmuxCommand.Psh, 5, Buffer.from('to five')),
        encodeSmuxFrame(SmuxCommand.Psh, 3, Buffer.from('to three')),
        encodeSmuxFrame(SmuxCommand.Fin, 3),
      ]),
    );

    expect(Buffer.concat(received[0]!.chunks).toString()).toBe('to three');
    expect(received[0]!.ended()).toBe(true);
    expect(Buffer.concat(received[1]!.chunks).toString()).toBe('to five');
    expect(received[1]!.ended()).toBe(false);
  });

  it('discards PSH for a stream closed locally', () => {
    const { session } = recordingSession();
    const stream = session.openStream();
    const received = collect(stream);
    stream.close();
    session.push(encodeSmuxFrame(SmuxCommand.Psh, stream.id, Buffer.from('late')));

    expect(received.chunks).toHaveLength(0);
    expect(session.discardedBytes).toBe(4);
    expect(session.streamCount).toBe(0);
    expect(() => stream.write(Buffer.from('x'))).toThrow(SmuxSessionError);
  });

  it('ends the session on a bad version', () => {
    const { session } = recordingSession();
    const stream = session.openStream();
    let sessionError: Error | undefined;
    let streamError: Error | undefined;
    session.on('close', (error?: Error) => {
      sessionError = error;
    });
    stream.on('close', (error?: Error) => {
      streamError = error;
    });
    session.push(Buffer.from('0202000003000000', 'hex'));

    expect(sessionError).toBeInstanceOf(SmuxProtocolError);
    expect((sessionError as SmuxProtocolError).code).toBe('ERR_SMUX_VERSION');
    expect(streamError).toBe(sessionError);
    expect(session.closed).toBe(true);
    expect(() => session.openStream()).toThrow(SmuxSessionError);
  });

  it('ends the session on an unknown command', () => {
    const { session } = recordingSession();
    let sessionError: Error | undefined;
    session.on('close', (error?: Error) => {
      sessionError = error;
    });
    session.push(Buffer.from('0109000000000000', 'hex'));

    expect((sessionError as SmuxProtocolError).code).toBe('ERR_SMUX_COMMAND');
  });

  it('sends no NOP with keepalive off', () => {
    vi.useFakeTimers();
    const { session, written } = recordingSession();
    vi.advanceTimersByTime(60_000);

    expect(written).toHaveLength(0);
    expect(session.closed).toBe(false);
  });

  it('sends a NOP every 10 s with keepalive on', () => {
    vi.useFakeTimers();
    const { session, written } = recordingSession({ keepAlive: true });
    vi.advanceTimersByTime(10_000);
    session.push(encodeSmuxFrame(SmuxCommand.Nop, 0));
    vi.advanceTimersByTime(20_000);

    expect(written.map((frame) => frame.toString('hex'))).toEqual([
      '0103000000000000',
      '0103000000000000',
      '0103000000000000',
    ]);
    expect(session.closed).toBe(false);
    session.close();
  });

  it('fails a silent peer with keepalive on', () => {
    vi.useFakeTimers();
    const { session } = recordingSession({ keepAlive: true });
    let sessionError: Error | undefined;
    session.on('close', (error?: Error) => {
      sessionError = error;
    });
    vi.advanceTimersByTime(30_000);

    expect((sessionError as SmuxSessionError).code).toBe('ERR_SMUX_KEEPALIVE_TIMEOUT');
  });

  it('reports sink back-pressure and drain', () => {
    const { session, setAccept } = recordingSession();
    const stream = session.openStream();
    let drains = 0;
    stream.on('drain', () => drains++);
    setAccept(false);

    expect(stream.write(Buffer.from('a'))).toBe(false);
    setAccept(true);
    expect(stream.write(Buffer.from('b'))).toBe(false);
    session.notifyDrain();
    expect(drains).toBe(1);
    expect(stream.write(Buffer.from('c'))).toBe(true);
  });

  it('queues for a paused stream without blocking others', () => {
    const { session } = recordingSession({ maxStreamBufferBytes: 100 });
    const slow = session.openStream();
    const fast = session.openStream();
    const slowData = collect(slow);
    const fastData = collect(fast);
    const events: string[] = [];
    slow.on('receive-full', () => events.push('full'));
    slow.on('receive-drained', () => events.push('drained'));
    slow.pause();
    const payload = randomBytes(150);
    session.push(encodeSmuxFrame(SmuxCommand.Psh, slow.id, payload.subarray(0, 80)));
    session.push(encodeSmuxFrame(SmuxCommand.Psh, fast.id, Buffer.from('fast')));
    session.push(encodeSmuxFrame(SmuxCommand.Psh, slow.id, payload.subarray(80)));
    session.push(encodeSmuxFrame(SmuxCommand.Fin, slow.id));

    expect(Buffer.concat(fastData.chunks).toString()).toBe('fast');
    expect(slowData.chunks).toHaveLength(0);
    expect(slow.bufferedBytes).toBe(150);
    expect(events).toEqual(['full']);
    expect(slowData.ended()).toBe(false);

    slow.resume();
    expect(sha256(Buffer.concat(slowData.chunks))).toBe(sha256(payload));
    expect(events).toEqual(['full', 'drained']);
    expect(slowData.ended()).toBe(true);
    expect(session.bufferedBytes).toBe(0);
  });

  it('pauses input when the session buffer is full', () => {
    const { session } = recordingSession({ maxSessionBufferBytes: 1000 });
    const streams = [session.openStream(), session.openStream()];
    const events: string[] = [];
    session.on('pause-input', () => events.push('pause'));
    session.on('resume-input', () => events.push('resume'));
    for (const stream of streams) {
      stream.pause();
      session.push(encodeSmuxFrame(SmuxCommand.Psh, stream.id, randomBytes(600)));
    }

    expect(events).toEqual(['pause']);
    expect(session.isInputPaused).toBe(true);
    streams[0]!.resume();
    expect(session.bufferedBytes).toBe(600);
    expect(events).toEqual(['pause']);
    streams[1]!.close();
    expect(session.bufferedBytes).toBe(0);
    expect(events).toEqual(['pause', 'resume']);
  });

  it('carries 20 streams both ways', () => {
    // Loop the client onto a minimal echo server built from the frame codec.
    const serverDecoder = new SmuxFrameDecoder();
    const serverFrames: SmuxFrame[] = [];
    const client: SmuxSession = new SmuxSession({
      write: (bytes) => {
        for (const frame of serverDecoder.push(bytes)) {
          serverFrames.push(frame);
          if (frame.cmd === SmuxCommand.Psh) {
            const echo = encodeSmuxFrame(SmuxCommand.Psh, frame.streamId, frame.data);
            // Echo in uneven pieces so frames straddle chunk boundaries.
            client.push(echo.subarray(0, 5));
            client.push(echo.subarray(5));
          } else if (frame.cmd === SmuxCommand.Fin) {
            client.push(encodeSmuxFrame(SmuxCommand.Fin, frame.streamId));
          }
        }
        return true;
      },
    });
    const streams: SmuxStream[] = [];
    const inputs = new Map<number, Buffer>();
    const outputs = new Map<number, ReturnType<typeof collect>>();
    for (let i = 0; i < 20; i++) {
      const stream = client.openStream();
      streams.push(stream);
      inputs.set(stream.id, randomBytes(50_000 + i * 1000));
      outputs.set(stream.id, collect(stream));
    }
    for (const stream of streams) {
      stream.write(inputs.get(stream.id)!);
    }
    for (const stream of streams) {
      stream.close();
    }

    expect(streams.map((stream) => stream.id)).toEqual(
      Array.from({ length: 20 }, (_, i) => 3 + 2 * i),
    );
    for (const stream of streams) {
      const output = outputs.get(stream.id)!;
      expect(sha256(Buffer.concat(output.chunks))).toBe(sha256(inputs.get(stream.id)!));
    }
    expect(serverFrames.filter((frame) => frame.cmd === SmuxCommand.Syn)).toHaveLength(20);
    expect(serverFrames.filter((frame) => frame.cmd === SmuxCommand.Fin)).toHaveLength(20);
    expect(client.streamCount).toBe(0);
  });
});
