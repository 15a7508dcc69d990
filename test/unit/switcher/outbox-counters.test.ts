import { describe, expect, it } from 'vitest';
import { Outbox, ReadGate } from '../../../src/switcher/outbox.js';
import type { Transport, TransportHandlers } from '../../../src/transport/types.js';
import { header } from '../../../src/wire/frame.js';

/**
 * An outbox's queuedBytes and framesOut (a client's stats) count what is queued or went out:
 * frames a closed client's scheduler drops are not. Counted, a client closed but not yet torn
 * down showed switcher-made frames (refusals, answers, pings) queued that never would go out.
 */

class SinkTransport implements Transport {
  readonly framing = 'stream' as const;
  readonly remoteAddress = 'test';
  readonly bufferedAmount = 0;
  readonly closed = false;
  attach(_h: TransportHandlers): void {}
  send(): boolean {
    return true;
  }
  pauseReading(): void {}
  resumeReading(): void {}
  close(): void {}
  destroy(): void {}
}

const limits = {
  maxQueuePerSource: 1_000_000,
  maxQueuePerClient: 1_000_000,
  quantum: 64 * 1024,
  maxBatchBytes: 64 * 1024,
  maxControlQueue: 16,
  stallTimeout: 0,
};

function setUp() {
  const dst = new SinkTransport();
  const box = new Outbox<{ gate: ReadGate }>(dst, limits, new ReadGate(dst));
  const source = { gate: new ReadGate(new SinkTransport()) };
  return { dst, box, source };
}

const frame = (): Uint8Array => header(0, 1, 2, 3, 4, 0);

describe('Outbox counters', () => {
  it('count nothing the closed client drops: control frames, forwarded ones, those sent as a source', () => {
    const { box, source } = setUp();
    box.control(frame());
    box.scheduler.flush();
    expect([box.queuedBytes, box.framesOut]).toEqual([0, 1]);
    box.close();
    box.control(frame());
    box.forward(source, frame(), new Uint8Array(10));
    box.sendAs(source, frame(), new Uint8Array(0));
    expect([box.queuedBytes, box.framesOut]).toEqual([0, 1]);
  });

  it('count nothing queued once the close dropped what waited', () => {
    const { dst, box, source } = setUp();
    dst.send = () => false;
    box.forward(source, frame(), new Uint8Array(10));
    box.scheduler.flush();
    box.forward(source, frame(), new Uint8Array(10));
    expect(box.queuedBytes).toBeGreaterThan(0);
    box.close();
    expect(box.queuedBytes).toBe(0);
  });
});
