// Mux and basic forwarders on real local sockets, with a scripted channel in place of the
// data channel so the order of flags and smux frames is exact.

import { EventEmitter, once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';

import { PayloadFlag } from '../../daemon/protocol/message.js';
import { BasicForwarder } from '../../daemon/portforward/basic.js';
import type { ForwardingCounters } from '../../daemon/portforward/channel.js';
import { MuxForwarder } from '../../daemon/portforward/mux.js';
import { SmuxCommand, SmuxFrameDecoder, encodeSmuxFrame } from '../../daemon/smux/frame.js';
import { listen, waitFor } from './helpers.js';

/** Channel that records what is sent and lets the test decide what `send` returns. */
class ScriptedChannel extends EventEmitter {
  readonly sent: Buffer[] = [];
  readonly flags: number[] = [];
  accept = true;
  paused = false;

  send(payload: Buffer): boolean {
    this.sent.push(payload);
    return this.accept;
  }

  sendFlag(flag: number): void {
    this.flags.push(flag);
  }

  pauseDelivery(): void {
    this.paused = true;
  }

  resumeDelivery(): void {
    this.paused = false;
  }
}

function counters(): ForwardingCounters {
  return { bytesIn: 0, bytesOut: 0, activeConnections: 0, totalConnections: 0, dialFailures: 0 };
}

const servers: Server[] = [];
const sockets: Socket[] = [];

afterEach(() => {
  for (const socket of sockets.splice(0)) {
    socket.destroy();
  }
  for (const server of servers.splice(0)) {
    server.close();
  }
});

/** Returns a connected pair: `local` is the accepted side that a forwarder owns. */
async function socketPair(): Promise<{ local: Socket; client: Socket }> {
  const server = createServer({ pauseOnConnect: true });
  servers.push(server);
  const port = await listen(server);
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = connect(port, '127.0.0.1');
  client.on('error', () => undefined);
  const [local] = await accepted;
  sockets.push(local, client);
  return { local, client };
}

function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

describe('MuxForwarder', () => {
  it('resets the stream the flag names', async () => {
    const channel = new ScriptedChannel();
    const stats = counters();
    const mux = new MuxForwarder(channel, stats, { keepAlive: false });
    let dialFailed = 0;
    mux.on('dial-failed', () => dialFailed++);
    const first = await socketPair();
    const second = await socketPair();
    mux.handleConnection(first.local);
    mux.handleConnection(second.local);
    let secondError: NodeJS.ErrnoException | undefined;
    second.client.on('error', (error) => {
      secondError = error;
    });
    const firstData = once(first.client, 'data');

    // Stream 3 got a reply; stream 5's dial failed, so the flag precedes its FIN.
    channel.emit('data', encodeSmuxFrame(SmuxCommand.Psh, 3, Buffer.from('hi')));
    channel.emit('flag', PayloadFlag.ConnectToPortError);
    channel.emit('data', encodeSmuxFrame(SmuxCommand.Fin, 5));
    await closed(second.client);

    expect(((await firstData) as [Buffer])[0].toString()).toBe('hi');
    expect(secondError?.code).toBe('ECONNRESET');
    expect(dialFailed).toBe(1);
    expect(stats.dialFailures).toBe(1);
    expect(first.client.destroyed).toBe(false);
    mux.close();
  });

  it('ends a silent stream gracefully without a flag', async () => {
    const channel = new ScriptedChannel();
    const mux = new MuxForwarder(channel, counters(), { keepAlive: false });
    let dialFailed = 0;
    mux.on('dial-failed', () => dialFailed++);
    const pair = await socketPair();
    mux.handleConnection(pair.local);
    const ended = once(pair.client, 'end');
    channel.emit('data', encodeSmuxFrame(SmuxCommand.Fin, 3));
    await ended;

    expect(dialFailed).toBe(0);
    const frames = new SmuxFrameDecoder().push(Buffer.concat(channel.sent));
    expect(frames.map((frame) => [frame.cmd, frame.streamId])).toEqual([
      [SmuxCommand.Syn, 3],
      [SmuxCommand.Fin, 3],
    ]);
    mux.close();
  });

  it('pauses the local socket while the channel is full', async () => {
    const channel = new ScriptedChannel();
    const mux = new MuxForwarder(channel, counters(), { keepAlive: false });
    const pair = await socketPair();
    mux.handleConnection(pair.local);
    channel.accept = false;
    pair.client.write('first');
    await waitFor(() => pair.local.isPaused(), 'the local socket to pause');

    channel.accept = true;
    channel.emit('drain');
    expect(pair.local.isPaused()).toBe(false);
    mux.close();
  });

  it('pauses delivery when stream buffers fill', async () => {
    const channel = new ScriptedChannel();
    const mux = new MuxForwarder(channel, counters(), {
      keepAlive: false,
      maxStreamBufferBytes: 1024,
      maxSessionBufferBytes: 64 * 1024,
    });
    const pair = await socketPair();
    mux.handleConnection(pair.local);
    // The client never reads, so the kernel buffers fill and then the stream queue grows.
    pair.client.pause();
    const chunk = Buffer.alloc(32 * 1024, 7);
    for (let i = 0; i < 400 && !channel.paused; i++) {
      channel.emit('data', encodeSmuxFrame(SmuxCommand.Psh, 3, chunk));
      await new Promise((resolve) => setImmediate(resolve));
    }

    expect(channel.paused).toBe(true);
    expect(pair.local.isPaused()).toBe(true);
    pair.client.resume();
    await waitFor(() => !channel.paused, 'delivery to resume');
    mux.close();
  });
});

describe('MuxForwarder stream end', () => {
  it('closes a socket paused for a drain', async () => {
    const channel = new ScriptedChannel();
    const stats = counters();
    const mux = new MuxForwarder(channel, stats, { keepAlive: false });
    const pair = await socketPair();
    mux.handleConnection(pair.local);
    let clientError: NodeJS.ErrnoException | undefined;
    pair.client.on('error', (error: NodeJS.ErrnoException) => {
      clientError = error;
    });
    // The channel never drains, so the forwarder stops reading the client's upload.
    channel.accept = false;
    pair.client.write(Buffer.alloc(16 * 1024 * 1024, 1));
    await waitFor(() => pair.local.isPaused(), 'the local socket to pause');
    const clientClosed = closed(pair.client);
    channel.emit('data', encodeSmuxFrame(SmuxCommand.Fin, 3));
    await clientClosed;

    // The client is still writing, so the reset surfaces on its read or its write.
    expect(clientError?.code).toMatch(/^(ECONNRESET|EPIPE)$/);
    await waitFor(() => stats.activeConnections === 0, 'the connection count to reach 0');
    expect(pair.local.destroyed).toBe(true);
    mux.close();
  });
});

describe('BasicForwarder', () => {
  it('resets connections on close', async () => {
    const channel = new ScriptedChannel();
    const stats = counters();
    const basic = new BasicForwarder(channel, stats);
    const active = await socketPair();
    const waiting = await socketPair();
    basic.handleConnection(active.local);
    basic.handleConnection(waiting.local);
    const errors: (string | undefined)[] = [];
    for (const client of [active.client, waiting.client]) {
      client.on('error', (error: NodeJS.ErrnoException) => errors.push(error.code));
    }
    const bothClosed = Promise.all([closed(active.client), closed(waiting.client)]);
    basic.close();
    await bothClosed;

    expect(errors).toEqual(['ECONNRESET', 'ECONNRESET']);
    expect(stats.activeConnections).toBe(0);
  });

  it('queues connections and sends DisconnectToPort', async () => {
    const channel = new ScriptedChannel();
    const stats = counters();
    const basic = new BasicForwarder(channel, stats);

    // Data before any connection waits for the first one.
    expect(channel.paused).toBe(true);
    const first = await socketPair();
    const second = await socketPair();
    basic.handleConnection(first.local);
    basic.handleConnection(second.local);
    expect(channel.paused).toBe(false);

    const firstData = once(first.client, 'data');
    channel.emit('data', Buffer.from('to first'));
    expect(((await firstData) as [Buffer])[0].toString()).toBe('to first');
    second.client.write('early from second');
    first.client.write('from first');
    await waitFor(() => channel.sent.length === 1, 'the first upload');
    expect(channel.sent.map(String)).toEqual(['from first']);

    first.client.end();
    await waitFor(() => channel.flags.length === 1, 'DisconnectToPort');
    expect(channel.flags).toEqual([PayloadFlag.DisconnectToPort]);
    await waitFor(() => channel.sent.length === 2, 'the second upload');
    expect(channel.sent.map(String)).toEqual(['from first', 'early from second']);
    const secondData = once(second.client, 'data');
    channel.emit('data', Buffer.from('to second'));
    expect(((await secondData) as [Buffer])[0].toString()).toBe('to second');
    expect(stats.totalConnections).toBe(2);
    basic.close();
  });
});
