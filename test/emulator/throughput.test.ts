import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PayloadType } from '../../daemon/protocol/message.js';
import { SmuxCommand, SmuxFrameDecoder, encodeSmuxFrame } from '../../daemon/smux/frame.js';
import { SessionFixture, portOf } from './test-helpers.js';

const BLOCK = randomBytes(1024 * 1024);
const DOWNLOAD_BLOCKS = 100;

/** Sends DOWNLOAD_BLOCKS copies of BLOCK to each connection, then closes it. */
async function startSource(): Promise<Server> {
  const server = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    let sent = 0;
    const writeMore = () => {
      while (sent < DOWNLOAD_BLOCKS) {
        sent++;
        if (!socket.write(BLOCK)) {
          socket.once('drain', writeMore);
          return;
        }
      }
      socket.end();
    };
    writeMore();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

describe('emulator throughput', () => {
  let source: Server;
  const fixture = new SessionFixture();

  beforeAll(async () => {
    source = await startSource();
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => source.close(() => resolve()));
  });

  afterEach(() => fixture.closeAll());

  it('100 MiB download without pacing', async () => {
    const expected = createHash('sha256');
    for (let i = 0; i < DOWNLOAD_BLOCKS; i++) {
      expected.update(BLOCK);
    }
    const hash = createHash('sha256');
    const decoder = new SmuxFrameDecoder();
    let received = 0;
    let finished = false;
    const { client, record } = await fixture.open({
      remotePort: portOf(source),
      onData: (payload) => {
        for (const frame of decoder.push(payload)) {
          if (frame.streamId !== 3) {
            continue;
          }
          if (frame.cmd === SmuxCommand.Psh) {
            hash.update(frame.data);
            received += frame.data.length;
          } else if (frame.cmd === SmuxCommand.Fin) {
            finished = true;
          }
        }
      },
    });
    await client.handshake();

    const startedAt = performance.now();
    client.sendStream(PayloadType.Output, encodeSmuxFrame(SmuxCommand.Syn, 3));
    await client.waitFor(() => finished, 110_000, 'FIN after the download');
    const seconds = (performance.now() - startedAt) / 1000;
    console.log(`100 MiB download: ${seconds.toFixed(1)} s`);

    expect(received).toBe(DOWNLOAD_BLOCKS * BLOCK.length);
    expect(hash.digest('hex')).toBe(expected.digest('hex'));
    expect(record().bytesToClient).toBeGreaterThanOrEqual(received);
  }, 120_000);
});
