import { randomBytes } from 'node:crypto';
import type { Server } from 'node:net';
import { StartSessionCommand, TerminateSessionCommand } from '@aws-sdk/client-ssm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MessageType, PayloadType } from '../../daemon/protocol/message.js';
import { SmuxCommand, encodeSmuxFrame } from '../../daemon/smux/frame.js';
import type { EmulatorOptions } from './index.js';
import {
  INSTANCE,
  SessionFixture,
  closedPort,
  portOf,
  sha256,
  smuxFramesOf,
  startEchoServer,
} from './test-helpers.js';

describe('emulator data channel', () => {
  let echo: Server;
  const fixture = new SessionFixture();

  beforeAll(async () => {
    echo = await startEchoServer();
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => echo.close(() => resolve()));
  });

  afterEach(() => fixture.closeAll());

  function openSession(
    options: EmulatorOptions & { remotePort?: number; clientVersion?: string } = {},
  ) {
    return fixture.open({ ...options, remotePort: options.remotePort ?? portOf(echo) });
  }

  it('handshake request and complete', async () => {
    const { client, emulator, sessionId } = await openSession();
    await client.handshake();
    const request = client.framesOf(MessageType.OutputStreamData, PayloadType.HandshakeRequest)[0]!;
    expect(request.sequenceNumber).toBe(0n);
    expect(request.flags).toBe(1n);
    const body = JSON.parse(request.payload.toString());
    expect(body.AgentVersion).toBe('3.3.987.0');
    const properties = body.RequestedClientActions[0].ActionParameters.Properties;
    expect(Object.keys(properties)).toEqual(['host', 'localPortNumber', 'portNumber', 'type']);
    expect(properties.host).toBe('127.0.0.1');
    expect(properties.portNumber).toBe(String(portOf(echo)));
    expect(properties.type).toBe('LocalPortForwarding');
    const complete = client.framesOf(
      MessageType.OutputStreamData,
      PayloadType.HandshakeComplete,
    )[0]!;
    expect(complete.sequenceNumber).toBe(1n);
    expect(client.ackedSequences()).toContain(0);
    const record = emulator.sessions.find((s) => s.sessionId === sessionId)!;
    expect(record.mode).toBe('mux');
    expect(record.smuxKeepAlive).toBe(false);
    expect(record.clientVersion).toBe('1.2.650.0');
  });

  it('smux stream echoes 1 MiB intact', async () => {
    const { client, emulator, sessionId } = await openSession();
    await client.handshake();
    const payload = randomBytes(1024 * 1024);
    const smuxBytes = Buffer.concat([
      encodeSmuxFrame(SmuxCommand.Syn, 3),
      ...Array.from({ length: payload.length / 32768 }, (_, i) =>
        encodeSmuxFrame(SmuxCommand.Psh, 3, payload.subarray(i * 32768, (i + 1) * 32768)),
      ),
    ]);
    // Chunks of 1000 bytes so smux headers straddle message boundaries.
    for (let offset = 0; offset < smuxBytes.length; offset += 1000) {
      client.sendStream(PayloadType.Output, smuxBytes.subarray(offset, offset + 1000));
    }
    const received = () =>
      smuxFramesOf(client)
        .filter((f) => f.cmd === SmuxCommand.Psh && f.streamId === 3)
        .reduce((sum, f) => sum + f.data.length, 0);
    await client.waitFor(() => received() >= payload.length, 30_000, 'echoed bytes');
    const echoed = Buffer.concat(
      smuxFramesOf(client)
        .filter((f) => f.cmd === SmuxCommand.Psh && f.streamId === 3)
        .map((f) => f.data),
    );
    expect(sha256(echoed)).toBe(sha256(payload));
    expect(Math.max(...client.data.map((d) => d.length))).toBeLessThanOrEqual(1024);
    const record = emulator.sessions.find((s) => s.sessionId === sessionId)!;
    expect(record.streamsOpened).toBe(1);
    expect(record.bytesFromClient).toBe(smuxBytes.length);
  });

  it('dial failure sends flag 3 and FIN', async () => {
    const port = await closedPort();
    const { client, emulator, sessionId } = await openSession({ remotePort: port });
    await client.handshake();
    client.sendStream(PayloadType.Output, encodeSmuxFrame(SmuxCommand.Syn, 3));
    await client.waitFor(
      () => client.framesOf(MessageType.OutputStreamData, PayloadType.Flag).length > 0,
      5000,
      'ConnectToPortError flag',
    );
    const flag = client.framesOf(MessageType.OutputStreamData, PayloadType.Flag)[0]!;
    expect(flag.payload.toString('hex')).toBe('00000003');
    await client.waitFor(
      () => smuxFramesOf(client).some((f) => f.cmd === SmuxCommand.Fin && f.streamId === 3),
      5000,
      'FIN for stream 3',
    );
    const record = emulator.sessions.find((s) => s.sessionId === sessionId)!;
    expect(record.dialFailures).toBe(1);
    expect(record.state).toBe('connected');
  });

  it('basic mode with agent 3.0.196.0', async () => {
    const { client, emulator, sessionId } = await openSession({ agentVersion: '3.0.196.0' });
    await client.handshake();
    const record = emulator.sessions.find((s) => s.sessionId === sessionId)!;
    expect(record.mode).toBe('basic');
    const payload = randomBytes(64 * 1024);
    // Until its destination is connected the agent leaves data unacked, so resend the first.
    await client.sendUntilAcked(PayloadType.Output, payload.subarray(0, 1024));
    for (let offset = 1024; offset < payload.length; offset += 1024) {
      client.sendStream(PayloadType.Output, payload.subarray(offset, offset + 1024));
    }
    await client.waitFor(
      () => client.data.reduce((sum, d) => sum + d.length, 0) >= payload.length,
      20_000,
      'basic echo',
    );
    expect(sha256(Buffer.concat(client.data))).toBe(sha256(payload));
  });

  it('basic mode re-dials after DisconnectToPort', async () => {
    let connections = 0;
    const countConnection = () => connections++;
    echo.on('connection', countConnection);
    try {
      const { client } = await openSession({ agentVersion: '3.0.196.0' });
      await client.handshake();
      await client.sendUntilAcked(PayloadType.Output, Buffer.from('one'));
      await client.waitFor(() => Buffer.concat(client.data).toString() === 'one', 5000, 'echo');
      expect(connections).toBe(1);

      client.sendStream(PayloadType.Flag, Buffer.from([0, 0, 0, 1]));
      await client.sendUntilAcked(PayloadType.Output, Buffer.from('two'));
      await client.waitFor(
        () => Buffer.concat(client.data).toString() === 'onetwo',
        5000,
        'echo after re-dial',
      );
      expect(connections).toBe(2);
    } finally {
      echo.off('connection', countConnection);
    }
  });

  it('old client version selects basic mode', async () => {
    const { client, emulator, sessionId } = await openSession({ clientVersion: '1.1.61.0' });
    await client.handshake();
    const record = emulator.sessions.find((s) => s.sessionId === sessionId)!;
    expect(record.mode).toBe('basic');
  });

  it('keepalive stays on for client 1.2.0.0', async () => {
    const { client, emulator, sessionId } = await openSession({ clientVersion: '1.2.0.0' });
    await client.handshake();
    const record = emulator.sessions.find((s) => s.sessionId === sessionId)!;
    expect(record.mode).toBe('mux');
    expect(record.smuxKeepAlive).toBe(true);
  });

  it('smux keepalive timeout ends the session', async () => {
    const { client, emulator, sessionId } = await openSession({
      clientVersion: '1.2.0.0',
      smuxKeepAliveIntervalMs: 100,
      smuxKeepAliveTimeoutMs: 300,
    });
    await client.handshake();
    await client.waitFor(
      () => client.framesOf(MessageType.ChannelClosed).length > 0,
      5000,
      'channel_closed',
    );
    const record = emulator.sessions.find((s) => s.sessionId === sessionId)!;
    expect(record.state).toBe('failed');
    expect(record.endReason).toMatch(/keepalive/);
    const nops = smuxFramesOf(client).filter((f) => f.cmd === SmuxCommand.Nop);
    expect(nops.length).toBeGreaterThan(0);
  });

  it('duplicate input is acked again', async () => {
    const { client } = await openSession();
    await client.handshake();
    const frame = client.sendStream(PayloadType.Output, encodeSmuxFrame(SmuxCommand.Nop, 0));
    await client.waitFor(() => client.ackedSequences().includes(1), 5000, 'first ack');
    client.websocket.send(frame);
    await client.waitFor(
      () => client.ackedSequences().filter((s) => s === 1).length === 2,
      5000,
      'second ack',
    );
    expect(client.ackedSequences().filter((s) => s === 1)).toHaveLength(2);
  });

  it('out-of-order input is buffered and acked', async () => {
    const { client, emulator, sessionId } = await openSession();
    await client.handshake();
    const syn = encodeSmuxFrame(SmuxCommand.Syn, 3);
    const psh = encodeSmuxFrame(SmuxCommand.Psh, 3, Buffer.from('ordered'));
    client.sendStream(PayloadType.Output, psh, 2);
    await client.waitFor(() => client.ackedSequences().includes(2), 5000, 'ack of seq 2');
    client.sendStream(PayloadType.Output, syn, 1);
    const echoed = () =>
      Buffer.concat(
        smuxFramesOf(client)
          .filter((f) => f.cmd === SmuxCommand.Psh)
          .map((f) => f.data),
      );
    await client.waitFor(() => echoed().toString() === 'ordered', 5000, 'echo');
    expect(emulator.session(sessionId)!.agentReliability!.expectedSequence).toBe(3);
  });

  it('TerminateSession sends channel_closed', async () => {
    const { client, ssm, emulator, sessionId } = await openSession();
    await client.handshake();
    await ssm.send(new TerminateSessionCommand({ SessionId: sessionId }));
    await client.waitFor(
      () => client.framesOf(MessageType.ChannelClosed).length > 0,
      5000,
      'channel_closed',
    );
    const closed = JSON.parse(client.framesOf(MessageType.ChannelClosed)[0]!.payload.toString());
    expect(closed.SessionId).toBe(sessionId);
    expect(closed.MessageType).toBe('channel_closed');
    expect(typeof closed.CreatedDate).toBe('string');
    const record = emulator.sessions.find((s) => s.sessionId === sessionId)!;
    expect(record.terminatedBy).toBe('api:AKIATEST');
    expect(record.state).toBe('terminated');
  });

  it('TerminateSession flag ends the session', async () => {
    const { client, emulator, sessionId } = await openSession();
    await client.handshake();
    client.sendStream(PayloadType.Flag, Buffer.from([0, 0, 0, 2]));
    await client.waitFor(() => client.closeCode !== undefined, 5000, 'websocket close');
    const record = emulator.sessions.find((s) => s.sessionId === sessionId)!;
    expect(record.terminatedBy).toBe('client-flag');
  });

  it('idle timeout sends channel_closed', async () => {
    const { client, emulator, sessionId } = await openSession({ idleTimeoutMs: 300 });
    await client.handshake();
    await client.waitFor(
      () => client.framesOf(MessageType.ChannelClosed).length > 0,
      5000,
      'channel_closed',
    );
    const record = emulator.sessions.find((s) => s.sessionId === sessionId)!;
    expect(record.terminatedBy).toBe('idle-timeout');
  });

  it('metadata address fails the session', async () => {
    const { emulator, ssm } = await openSession();
    const started = await ssm.send(
      new StartSessionCommand({
        Target: INSTANCE,
        DocumentName: 'AWS-StartPortForwardingSessionToRemoteHost',
        Parameters: { host: ['169.254.169.254'], portNumber: ['80'] },
      }),
    );
    const client = await fixture.connect(started.StreamUrl!, started.TokenValue!);
    await client.waitFor(
      () => client.framesOf(MessageType.ChannelClosed).length > 0,
      5000,
      'channel_closed',
    );
    const closed = JSON.parse(client.framesOf(MessageType.ChannelClosed)[0]!.payload.toString());
    expect(closed.Output).toBe('Forwarding to IP address 169.254.169.254 is forbidden.');
    expect(client.framesOf(MessageType.OutputStreamData)).toHaveLength(0);
    const record = emulator.session(started.SessionId!)!.record;
    expect(record.state).toBe('failed');
    expect(record.dialFailures).toBe(0);
  });

  it('wrong token closes with 4001', async () => {
    const { emulator, sessionId } = await openSession();
    const url = `ws://127.0.0.1:${new URL(emulator.url).port}/v1/data-channel/${sessionId}?role=publish_subscribe`;
    const intruder = await fixture.connect(url, 'not-the-token');
    await intruder.waitFor(() => intruder.closeCode !== undefined, 5000, 'close');
    expect(intruder.closeCode).toBe(4001);
  });

  it('handshake timeout fails the session', async () => {
    const { client, emulator, sessionId } = await openSession({ handshakeTimeoutMs: 200 });
    await client.waitFor(
      () => client.framesOf(MessageType.ChannelClosed).length > 0,
      5000,
      'channel_closed',
    );
    const closed = JSON.parse(client.framesOf(MessageType.ChannelClosed)[0]!.payload.toString());
    expect(closed.Output).toMatch(/Handshake timed out/);
    const record = emulator.sessions.find((s) => s.sessionId === sessionId)!;
    expect(record.state).toBe('failed');
  });
});
