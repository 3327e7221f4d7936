import { describe, expect, it } from 'vitest';
import { OutgoingWindow, type QueuedMessage } from '../../daemon/datachannel/outgoing-window.js';

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
    expect(window.expired(300, 200).map((entry) => entry.sequenceNumber)).toEqual([0, 1, 3]);
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
