// Shared pieces of the tests that drive one side of the data channel (sender or receiver)
// without the DataChannel around it: a real websocket to an AgentPeer, and cleanup.

import { createHash } from 'node:crypto';
import { afterEach } from 'vitest';
import { WebSocketConnection } from '../../daemon/datachannel/connection.js';
import { decodeMessage, type ClientMessage } from '../../daemon/protocol/message.js';
import { waitFor, type AgentPeer } from './agent-peer.js';

/**
 * Opens a websocket to `peer`, authenticates it and passes every decoded frame to
 * `onMessage`. Resolves once the peer accepted the OpenDataChannelInput, so frames the peer
 * sends afterwards reach this connection.
 */
export async function connectToPeer(
  peer: AgentPeer,
  onMessage: (message: ClientMessage) => void,
): Promise<WebSocketConnection> {
  const connection = await WebSocketConnection.connect({
    streamUrl: peer.url,
    tokenValue: 'start-token',
    clientId: 'test-client',
    clientVersion: '1.2.707.0',
    pingIntervalMs: 30_000,
    pongTimeoutMs: 30_000,
    onFrame: (frame) => onMessage(decodeMessage(frame)),
  });
  await waitFor(() => peer.socket !== null, 5_000, 'the peer to accept OpenDataChannelInput');
  return connection;
}

/** Registers an afterEach hook that runs the returned cleanups, last registered first. */
export function cleanupAfterEach(): Array<() => Promise<void>> {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length > 0) {
      await cleanups.pop()!();
    }
  });
  return cleanups;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
