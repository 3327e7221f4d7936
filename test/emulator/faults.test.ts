import { randomBytes } from 'node:crypto';
import type { Server } from 'node:net';
import { ResumeSessionCommand, StartSessionCommand } from '@aws-sdk/client-ssm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MessageType, PayloadType } from '../../daemon/protocol/message.js';
import { SmuxCommand, encodeSmuxFrame } from '../../daemon/smux/frame.js';
import type { EmulatorOptions } from './index.js';
import type { RawClient } from './raw-client.js';
import {
  INSTANCE,
  SessionFixture,
  portOf,
  sha256,
  smuxFramesOf,
  startEchoServer,
} from './test-helpers.js';

function echoedOnStream3(client: RawClient): Buffer {
  return Buffer.concat(
    smuxFramesOf(client)
      .filter((f) => f.cmd === SmuxCommand.Psh && f.streamId === 3)
      .map((f) => f.data),
  );
}

/** Opens stream 3 and sends `payload` on it in 1000-byte data-channel messages. */
function sendOnStream3(client: RawClient, payload: Buffer, open = true): void {
  const parts = open ? [encodeSmuxFrame(SmuxCommand.Syn, 3)] : [];
  for (let offset = 0; offset < payload.length; offset += 32768) {
    parts.push(encodeSmuxFrame(SmuxCommand.Psh, 3, payload.subarray(offset, offset + 32768)));
  }
  const bytes = Buffer.concat(parts);
  for (let offset = 0; offset < bytes.length; offset += 1000) {
    client.sendStream(PayloadType.Output, bytes.subarray(offset, offset + 1000));
  }
}

describe('emulator faults', () => {
  let echo: Server;
  const fixture = new SessionFixture();

  beforeAll(async () => {
    echo = await startEchoServer();
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => echo.close(() => resolve()));
  });

  afterEach(() => fixture.closeAll());

  function openSession(options: EmulatorOptions = {}) {
    return fixture.open({ ...options, remotePort: portOf(echo) });
  }

  it('lost acks to the client', async () => {
    const { client, emulator, sessionId } = await openSession();
    await client.handshake();
    const acksBefore = client.ackedSequences().length;
    emulator.setFaults(sessionId, { dropAcksToClientProbability: 1 });
    client.sendStream(PayloadType.Output, encodeSmuxFrame(SmuxCommand.Nop, 0));
    await client.waitFor(
      () => emulator.session(sessionId)!.agentReliability!.expectedSequence === 2,
      5000,
      'agent to process seq 1',
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(client.ackedSequences()).toHaveLength(acksBefore);
  });

  it('dropped and reordered frames still deliver every byte', async () => {
    const { client, emulator, sessionId } = await openSession();
    await client.handshake();
    emulator.setFaults(sessionId, {
      seed: 42,
      frameDirection: 'to-client',
      dropProbability: 0.05,
      reorderProbability: 0.1,
      reorderWindow: 4,
      duplicateProbability: 0.05,
    });
    const payload = randomBytes(64 * 1024);
    sendOnStream3(client, payload);
    await client.waitFor(
      () => echoedOnStream3(client).length >= payload.length,
      30_000,
      'echo under loss',
    );
    expect(sha256(echoedOnStream3(client))).toBe(sha256(payload));
    const sequences = client
      .framesOf(MessageType.OutputStreamData)
      .map((f) => Number(f.sequenceNumber));
    const sorted = [...sequences].sort((a, b) => a - b);
    expect(sequences).not.toEqual(sorted);
  });

  it('duplicated frames reach the client twice', async () => {
    const { client, emulator, sessionId } = await openSession();
    await client.handshake();
    emulator.setFaults(sessionId, { frameDirection: 'to-client', duplicateProbability: 1 });
    sendOnStream3(client, Buffer.from('twice'));
    await client.waitFor(() => echoedOnStream3(client).length >= 5, 5000, 'echo');
    const data = client.framesOf(MessageType.OutputStreamData, PayloadType.Output);
    expect(data.length).toBeGreaterThanOrEqual(2);
    expect(data[0]!.sequenceNumber).toBe(data[1]!.sequenceNumber);
  });

  it('delayed frames arrive late', async () => {
    const { client, emulator, sessionId } = await openSession();
    await client.handshake();
    emulator.setFaults(sessionId, {
      frameDirection: 'to-client',
      delayProbability: 1,
      delayMs: 300,
    });
    const sentAt = Date.now();
    sendOnStream3(client, Buffer.from('late'));
    await client.waitFor(() => echoedOnStream3(client).length >= 4, 5000, 'delayed echo');
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(280);
  });

  it('websocket pings at the set interval', async () => {
    const { client } = await openSession({ pingIntervalMs: 100 });
    let pings = 0;
    client.websocket.on('ping', () => pings++);
    await client.waitFor(() => pings >= 2, 5000, 'two pings');
    expect(pings).toBeGreaterThanOrEqual(2);
  });

  it('close every N bytes, then resume', async () => {
    const { client, emulator, sessionId, ssm, streamUrl, record } = await openSession();
    await client.handshake();
    emulator.setFaults(sessionId, { closeEveryBytes: 4000 });
    const first = randomBytes(3000);
    sendOnStream3(client, first);
    await client.waitFor(() => client.closeCode !== undefined, 5000, 'websocket close');
    expect(client.closeCode).toBe(1000);
    expect(client.closeReason).toBe('Bye');
    await client.waitFor(() => record().state === 'disconnected', 2000, 'disconnected state');

    const oldToken = emulator.session(sessionId)!.token;
    const resumed = await ssm.send(new ResumeSessionCommand({ SessionId: sessionId }));
    const stale = await fixture.connect(streamUrl, oldToken);
    await stale.waitFor(() => stale.closeCode !== undefined, 5000, 'stale token close');
    expect(stale.closeCode).toBe(4001);

    emulator.setFaults(sessionId, {});
    const second = await fixture.connect(streamUrl, resumed.TokenValue!);
    // Sequence state survives: the new socket continues where the old one stopped.
    second.expected = client.expected;
    second.nextSequence = client.nextSequence;
    await second.waitFor(() => record().state === 'connected', 2000, 'connected state');
    expect(record().websocketOpens).toBe(2);
    second.sendStream(
      PayloadType.Output,
      encodeSmuxFrame(SmuxCommand.Psh, 3, Buffer.from('after resume')),
    );
    await second.waitFor(
      () => Buffer.concat(second.data).includes(Buffer.from('after resume')),
      10_000,
      'echo after resume',
    );
    const reliability = emulator.session(sessionId)!.agentReliability!;
    expect(reliability.expectedSequence).toBe(second.nextSequence);
  });

  it('close every T ms', async () => {
    const { client, emulator, sessionId } = await openSession();
    await client.handshake();
    emulator.setFaults(sessionId, { closeEveryMs: 100 });
    await client.waitFor(() => client.closeCode !== undefined, 5000, 'websocket close');
    expect(client.closeCode).toBe(1000);
  });

  it('pause then start publication', async () => {
    const { client, emulator, sessionId } = await openSession();
    await client.handshake();
    emulator.setFaults(sessionId, { pausePublication: { afterMs: 10, durationMs: 200 } });
    await client.waitFor(
      () => client.framesOf(MessageType.StartPublication).length > 0,
      5000,
      'start_publication',
    );
    expect(client.framesOf(MessageType.PausePublication)).toHaveLength(1);
    const types = client.frames.map((f) => f.messageType);
    expect(types.indexOf(MessageType.PausePublication)).toBeLessThan(
      types.indexOf(MessageType.StartPublication),
    );
  });

  it('paused agent holds output until start', async () => {
    const { client, emulator, sessionId } = await openSession();
    await client.handshake();
    emulator.setFaults(sessionId, { pausePublication: { durationMs: 300 } });
    await client.waitFor(
      () => client.framesOf(MessageType.PausePublication).length > 0,
      5000,
      'pause_publication',
    );
    sendOnStream3(client, Buffer.from('held'));
    await client.waitFor(() => echoedOnStream3(client).length >= 4, 5000, 'echo after start');
    expect(echoedOnStream3(client).toString()).toBe('held');
    // Frame order rather than a sleep shows the hold, because a slow machine can use up the
    // whole pause before the test looks.
    const startIndex = client.frames.findIndex(
      (f) => f.messageType === MessageType.StartPublication,
    );
    const echoIndex = client.frames.findIndex(
      (f) => f.payloadType === PayloadType.Output && f.payload.includes('held'),
    );
    expect(startIndex).toBeGreaterThan(-1);
    expect(echoIndex).toBeGreaterThan(startIndex);
  });

  it('ResumeSession rejected N times', async () => {
    const { emulator, sessionId, ssm } = await openSession();
    emulator.setFaults(sessionId, {
      rejectResume: { errorType: 'InternalServerError', count: 2 },
    });
    for (let attempt = 0; attempt < 2; attempt++) {
      const error = (await ssm
        .send(new ResumeSessionCommand({ SessionId: sessionId }))
        .catch((e: unknown) => e)) as Error;
      expect(error.name).toBe('InternalServerError');
    }
    const resumed = await ssm.send(new ResumeSessionCommand({ SessionId: sessionId }));
    expect(resumed.TokenValue).toBeTruthy();
  });

  it('ResumeSession with empty token', async () => {
    const { emulator, sessionId, ssm } = await openSession();
    emulator.setFaults(sessionId, { emptyResumeToken: true });
    const resumed = await ssm.send(new ResumeSessionCommand({ SessionId: sessionId }));
    expect(resumed.TokenValue ?? '').toBe('');
  });

  it('handshake delay', async () => {
    const { emulator, ssm } = await openSession();
    emulator.setDefaultFaults({ handshakeDelayMs: 300 });
    const started = await ssm.send(
      new StartSessionCommand({
        Target: INSTANCE,
        DocumentName: 'AWS-StartPortForwardingSession',
        Parameters: { portNumber: [String(portOf(echo))] },
      }),
    );
    const openedAt = Date.now();
    const delayed = await fixture.connect(started.StreamUrl!, started.TokenValue!);
    await delayed.handshake();
    expect(Date.now() - openedAt).toBeGreaterThanOrEqual(250);
    expect(emulator.session(started.SessionId!)!.activeFaults.handshakeDelayMs).toBe(300);
  });

  it('silent websocket answers no ping', async () => {
    const { client, emulator, sessionId } = await openSession();
    await client.handshake();
    let pongs = 0;
    client.websocket.on('pong', () => pongs++);
    client.websocket.ping('before');
    await client.waitFor(() => pongs === 1, 5000, 'the pong before the fault');
    expect(pongs).toBe(1);
    emulator.setFaults(sessionId, { silent: true });
    client.websocket.ping('during');
    sendOnStream3(client, Buffer.from('unheard'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(pongs).toBe(1);
    expect(echoedOnStream3(client).length).toBe(0);
  });

  it('administrator termination', async () => {
    const { client, emulator, sessionId, record } = await openSession();
    await client.handshake();
    emulator.setFaults(sessionId, { terminateAfterMs: 50 });
    await client.waitFor(
      () => client.framesOf(MessageType.ChannelClosed).length > 0,
      5000,
      'channel_closed',
    );
    expect(record().terminatedBy).toBe('admin');
    const closed = JSON.parse(client.framesOf(MessageType.ChannelClosed)[0]!.payload.toString());
    expect(closed.Output).toMatch(/administrator/);
  });

  it('maximum session duration', async () => {
    const { client, record } = await openSession({ maxSessionDurationMs: 300 });
    await client.handshake();
    await client.waitFor(
      () => client.framesOf(MessageType.ChannelClosed).length > 0,
      5000,
      'channel_closed',
    );
    expect(record().terminatedBy).toBe('max-duration');
  });
});
