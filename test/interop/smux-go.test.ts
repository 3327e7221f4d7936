// Interoperability of the TypeScript smux client with the real github.com/xtaci/smux
// library: a Go peer (test/interop/go) runs an smux v1 server on a TCP socket.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { SmuxSession } from '../../daemon/smux/session.js';
import type { SmuxStream } from '../../daemon/smux/stream.js';

const ONE_MB = 1024 * 1024;

function goAvailable(): boolean {
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const hasGo = goAvailable();
if (!hasGo) {
  console.warn('smux interop tests skipped: go not found; install golang-go to run them');
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Starts the Go peer and resolves with its port and a reader for its output lines. */
class GoPeer {
  private readonly lines: string[] = [];
  private readonly waiters: Array<{ match: RegExp; resolve: (line: string) => void }> = [];

  private constructor(readonly child: ChildProcess) {
    const reader = createInterface({ input: child.stdout! });
    reader.on('line', (line) => {
      const waiter = this.waiters.find((candidate) => candidate.match.test(line));
      if (waiter) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      } else {
        this.lines.push(line);
      }
    });
  }

  static async start(binary: string, args: string[] = []): Promise<{ peer: GoPeer; port: number }> {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const peer = new GoPeer(child);
    const line = await peer.waitForLine(/^listening /);
    const port = Number(line.split(':').pop());
    return { peer, port };
  }

  waitForLine(match: RegExp, timeoutMs = 20_000): Promise<string> {
    const index = this.lines.findIndex((line) => match.test(line));
    if (index >= 0) {
      return Promise.resolve(this.lines.splice(index, 1)[0]!);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`Go peer printed no line matching ${match} in ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiters.push({
        match,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
    });
  }

  /** Output lines that no waiter consumed, such as stream errors. */
  unclaimedLines(): string[] {
    return [...this.lines];
  }
}

/** Connects an smux client session to the peer over TCP, with back-pressure both ways. */
async function connectSession(port: number): Promise<{ session: SmuxSession; socket: Socket }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const session = new SmuxSession({ write: (bytes) => socket.write(bytes) });
  socket.on('data', (chunk: Buffer) => session.push(chunk));
  socket.on('drain', () => session.notifyDrain());
  socket.on('close', () => session.close());
  session.on('pause-input', () => socket.pause());
  session.on('resume-input', () => socket.resume());
  return { session, socket };
}

/** Writes `data` in 64 KiB pieces, waiting for `drain` whenever `write` returns false. */
async function writeAll(stream: SmuxStream, data: Buffer): Promise<void> {
  for (let offset = 0; offset < data.length; offset += 65536) {
    if (!stream.write(data.subarray(offset, offset + 65536))) {
      await once(stream, 'drain');
    }
  }
}

/** Resolves with every byte received once `expectedBytes` arrived or the remote sent FIN. */
function readBytes(stream: SmuxStream, expectedBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const timer = setTimeout(
      () => reject(new Error(`stream ${stream.id} received ${received} of ${expectedBytes} bytes`)),
      30_000,
    );
    const done = () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    };
    stream.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received >= expectedBytes) {
        done();
      }
    });
    stream.on('end', done);
    stream.on('close', (error?: Error) => {
      if (error) {
        clearTimeout(timer);
        reject(error);
      }
    });
  });
}

describe.skipIf(!hasGo)('smux client against xtaci/smux', () => {
  let buildDir: string;
  let peer: GoPeer;
  let port: number;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    buildDir = mkdtempSync(join(tmpdir(), 'bastionless-smux-peer-'));
    const binary = join(buildDir, 'smux-peer');
    execFileSync('bash', [join(import.meta.dirname, 'build-go-peer.sh'), binary], {
      stdio: 'inherit',
    });
    ({ peer, port } = await GoPeer.start(binary));
  }, 120_000);

  afterAll(() => {
    for (const socket of sockets) {
      socket.destroy();
    }
    peer?.child.kill();
    if (buildDir) {
      rmSync(buildDir, { recursive: true, force: true });
    }
  });

  async function openSession(): Promise<SmuxSession> {
    const { session, socket } = await connectSession(port);
    sockets.push(socket);
    return session;
  }

  it('echoes a short message', async () => {
    const session = await openSession();
    const stream = session.openStream();
    const reply = readBytes(stream, 5);
    stream.write(Buffer.from('echo\nhello'));

    expect((await reply).toString()).toBe('hello');
    stream.close();
    expect(peer.unclaimedLines()).toEqual([]);
  });

  it('receives data then FIN from server', async () => {
    const session = await openSession();
    const stream = session.openStream();
    const ended = once(stream, 'end');
    const reply = readBytes(stream, Number.POSITIVE_INFINITY);
    stream.write(Buffer.from(`send ${ONE_MB}\n`));
    const data = await reply;
    await ended;

    const expected = Buffer.alloc(ONE_MB);
    for (let i = 0; i < expected.length; i++) {
      expected[i] = (i * 31 + stream.id) & 0xff;
    }
    expect(data.length).toBe(ONE_MB);
    expect(sha256(data)).toBe(sha256(expected));
    stream.close();
  });

  it('delivers data and FIN to server', async () => {
    const session = await openSession();
    const stream = session.openStream();
    const data = randomBytes(ONE_MB);
    await writeAll(stream, Buffer.concat([Buffer.from('sink\n'), data]));
    stream.close();
    const line = await peer.waitForLine(new RegExp(`^sink ${stream.id} `));

    expect(line).toBe(`sink ${stream.id} ${ONE_MB} ${sha256(data)}`);
  });

  it('carries 20 concurrent 1 MB streams', async () => {
    const session = await openSession();
    const streams = Array.from({ length: 20 }, () => session.openStream());
    const inputs = streams.map(() => randomBytes(ONE_MB));
    const outputs = await Promise.all(
      streams.map(async (stream, i) => {
        const reply = readBytes(stream, ONE_MB);
        await writeAll(stream, Buffer.concat([Buffer.from('echo\n'), inputs[i]!]));
        return reply;
      }),
    );
    for (const stream of streams) {
      stream.close();
    }

    expect(streams.map((stream) => stream.id)).toEqual(
      Array.from({ length: 20 }, (_, i) => 3 + 2 * i),
    );
    for (let i = 0; i < streams.length; i++) {
      expect(outputs[i]!.length).toBe(ONE_MB);
      expect(sha256(outputs[i]!)).toBe(sha256(inputs[i]!));
    }
    expect(session.streamCount).toBe(0);
  });

  it('keeps other streams moving past a paused one', async () => {
    const session = await openSession();
    const slow = session.openStream();
    const fast = session.openStream();
    slow.pause();
    slow.write(Buffer.from(`send ${ONE_MB}\n`));
    const fastInput = randomBytes(256 * 1024);
    const fastReply = readBytes(fast, fastInput.length);
    await writeAll(fast, Buffer.concat([Buffer.from('echo\n'), fastInput]));

    expect(sha256(await fastReply)).toBe(sha256(fastInput));
    const slowReply = readBytes(slow, Number.POSITIVE_INFINITY);
    slow.resume();
    expect((await slowReply).length).toBe(ONE_MB);
    slow.close();
    fast.close();
  });

  it('leaves no stream errors in the peer', async () => {
    // The peer's goroutines print errors after the streams close, so give them a moment.
    await new Promise((resolve) => setTimeout(resolve, 300));

    expect(peer.unclaimedLines().filter((line) => !line.startsWith('session-closed'))).toEqual([]);
  });
});
