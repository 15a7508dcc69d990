import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  PIN_SWEEP_MS,
  type PinHolder,
  pin,
  pinnedCount,
  sweep,
  unpin,
} from '../../../src/transport/read-pin.js';
import { dialTcp, listenTcp } from '../../../src/transport/tcp.js';
import type { Transport } from '../../../src/transport/types.js';
import { Acceptor, attachProbe } from './probe.js';

const holder = (): PinHolder => ({ pinned: null, reads: 0 });

describe('read pin', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps the latest chunk until the next one, and lets go once the holder is quiet for a sweep', () => {
    const h = holder();
    const a = new Uint8Array(4);
    const b = new Uint8Array(8);
    const before = pinnedCount();
    pin(h, a);
    pin(h, b);
    expect(h.pinned).toBe(b);
    expect(pinnedCount()).toBe(before + 1);
    sweep(); // it read since the last sweep: it keeps its chunk
    expect(h.pinned).toBe(b);
    sweep(); // quiet since: let go
    expect(h.pinned).toBeNull();
    expect(pinnedCount()).toBe(before);
  });

  it('lets go at unpin, and its sweeper stops once nobody holds a chunk', () => {
    vi.useFakeTimers();
    const h = holder();
    pin(h, new Uint8Array(1));
    expect(vi.getTimerCount()).toBe(1);
    unpin(h);
    expect(h.pinned).toBeNull();
    expect(vi.getTimerCount()).toBe(0);

    pin(h, new Uint8Array(1));
    vi.advanceTimersByTime(PIN_SWEEP_MS); // read since the start: kept
    expect(h.pinned).not.toBeNull();
    vi.advanceTimersByTime(PIN_SWEEP_MS); // quiet for a whole interval: released, timer gone
    expect(h.pinned).toBeNull();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('holds the last chunk a TCP transport read until its socket closes', async () => {
    const acceptor = new Acceptor<Transport>();
    const listener = await listenTcp({ host: '127.0.0.1', port: 0 }, acceptor.accept);
    const client = await dialTcp('127.0.0.1', listener.address.port);
    const server = await acceptor.next();
    try {
      const probe = attachProbe(server);
      let last: Uint8Array | null = null;
      probe.onData = (c) => {
        last = c;
      };
      client.send([new Uint8Array(1000).fill(7)]);
      await probe.until(() => probe.bytes === 1000, '1000 bytes');
      expect((server as unknown as PinHolder).pinned).toBe(last);
      client.destroy();
      await probe.closed();
      expect((server as unknown as PinHolder).pinned).toBeNull();
    } finally {
      client.destroy();
      server.destroy();
      await listener.close();
    }
  });
});
