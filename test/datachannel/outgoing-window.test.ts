import { describe, expect, it } from 'vitest';
import {
  MAX_BACKOFF_MS,
  OutgoingWindow,
  backoffTimeoutMs,
  type QueuedMessage,
} from '../../daemon/datachannel/outgoing-window.js';

const encode = (sequenceNumber: number, message: QueuedMessage): Buffer =>
  Buffer.concat([Buffer.from([sequenceNumber]), message.payload]);

function message(bytes: number): QueuedMessage {
  return { payloadType: 1, payload: Buffer.alloc(bytes, 0x61) };
}

describe('OutgoingWindow', () => {
  it('numbers admitted messages from 0', () => {
    const window = new OutgoingWindow(10_000);
    window.enqueue(message(10));
    window.enqueue(message(10));
    const admitted = window.admit(encode, 0);
    expect(admitted.map((entry) => entry.sequenceNumber)).toEqual([0, 1]);
    expect(window.unackedBytes).toBe(20);
  });

  it('holds messages beyond the window in the queue', () => {
    const window = new OutgoingWindow(100);
    for (let i = 0; i < 5; i++) {
      window.enqueue(message(40));
    }
    expect(window.admit(encode, 0)).toHaveLength(3);
    expect(window.queuedCount).toBe(2);
    expect(window.isFull).toBe(true);
  });

  it('admits more after an ack', () => {
    const window = new OutgoingWindow(100);
    for (let i = 0; i < 5; i++) {
      window.enqueue(message(40));
    }
    window.admit(encode, 0);
    expect(window.acknowledge(1)?.sequenceNumber).toBe(1);
    expect(window.admit(encode, 0).map((entry) => entry.sequenceNumber)).toEqual([3]);
  });

  it('admits an oversized message into an empty window', () => {
    const window = new OutgoingWindow(10);
    window.enqueue(message(50));
    expect(window.admit(encode, 0)).toHaveLength(1);
  });

  it('ignores acks for unknown sequence numbers', () => {
    const window = new OutgoingWindow(100);
    window.enqueue(message(10));
    window.admit(encode, 0);
    expect(window.acknowledge(7)).toBeUndefined();
    expect(window.unackedBytes).toBe(10);
  });

  it('returns every expired entry', () => {
    const window = new OutgoingWindow(1_000);
    for (let i = 0; i < 4; i++) {
      window.enqueue(message(10));
    }
    window.admit(encode, 0);
    window.all()[2]!.lastSentMs = 250;
    const due = window.takeExpired(300, 200, Infinity);
    expect(due.map((entry) => entry.sequenceNumber)).toEqual([0, 1, 3]);
    expect(due.map((entry) => entry.lastSentMs)).toEqual([300, 300, 300]);
    expect(due.map((entry) => entry.retransmits)).toEqual([1, 1, 1]);
  });

  it('doubles the timeout per retransmission', () => {
    const window = new OutgoingWindow(1_000);
    window.enqueue(message(10));
    window.admit(encode, 0);
    const resendTimes: number[] = [];
    for (let now = 0; now <= 3_200; now += 100) {
      if (window.takeExpired(now, 200, Infinity).length > 0) {
        resendTimes.push(now);
      }
    }
    // Timeouts 200, 400, 800 and 1600 ms after each send, checked every 100 ms.
    expect(resendTimes).toEqual([300, 800, 1_700]);
  });

  it('caps the backed-off timeout', () => {
    expect(backoffTimeoutMs(200, 0)).toBe(200);
    expect(backoffTimeoutMs(200, 3)).toBe(1_600);
    expect(backoffTimeoutMs(200, 20)).toBe(MAX_BACKOFF_MS);
    expect(backoffTimeoutMs(20_000, 2)).toBe(20_000);
  });

  it('stops at the byte budget', () => {
    const window = new OutgoingWindow(100_000);
    for (let i = 0; i < 10; i++) {
      window.enqueue(message(1_000));
    }
    window.admit(encode, 0);
    const first = window.takeExpired(1_000, 200, 3_500);
    expect(first.map((entry) => entry.sequenceNumber)).toEqual([0, 1, 2]);
    const second = window.takeExpired(1_000, 200, 3_500);
    expect(second.map((entry) => entry.sequenceNumber)).toEqual([3, 4, 5]);
  });

  it('returns one entry larger than the budget', () => {
    const window = new OutgoingWindow(100_000);
    window.enqueue(message(5_000));
    window.admit(encode, 0);
    expect(window.takeExpired(1_000, 200, 1_000)).toHaveLength(1);
  });

  it('numbers insertNow ahead of the queue', () => {
    const window = new OutgoingWindow(10);
    window.enqueue(message(10));
    window.enqueue(message(10));
    window.admit(encode, 0);
    expect(window.insertNow(encode, message(4), 0).sequenceNumber).toBe(1);
    expect(window.admit(encode, 0)).toHaveLength(0);
  });
});
