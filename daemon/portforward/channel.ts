// The part of DataChannel that the forwarders use, so they can be tested on their own.

import type { EventEmitter } from 'node:events';

/**
 * Ordered, acknowledged byte transport to the agent. Events: `data` (Buffer), `flag`
 * (number), `drain`. `send` returns false when its window is full; the data is queued
 * anyway and `drain` fires once there is room.
 */
export interface ForwardingChannel extends EventEmitter {
  send(payload: Buffer): boolean;
  sendFlag(flag: number): void;
  pauseDelivery(): void;
  resumeDelivery(): void;
}

/** Connection and byte counters that a forwarder updates. */
export interface ForwardingCounters {
  bytesIn: number;
  bytesOut: number;
  activeConnections: number;
  totalConnections: number;
  dialFailures: number;
}
