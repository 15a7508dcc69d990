import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AbortError, ConnectionClosedError, DialTimeoutError } from '../../../src/errors.js';
import { PendingDials } from '../../../src/node/dialer.js';

/** Settles into 'ok', an error class name, or 'pending' without waiting for it. */
function track(p: Promise<string>): { state: string } {
  const t = { state: 'pending' };
  p.then(
    (v) => {
      t.state = v;
    },
    (e: Error) => {
      t.state = e.name;
    },
  );
  return t;
}

const flush = () => vi.advanceTimersByTimeAsync(0);

describe('pending dials: one shared deadline timer', () => {
  let gaveUp: number[];
  let dials: PendingDials<string>;
  beforeEach(() => {
    vi.useFakeTimers();
    gaveUp = [];
    dials = new PendingDials<string>(1_000, (port) => gaveUp.push(port));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('times a dial out on time although the wall clock stepped back', async () => {
    // Deadlines by Date.now(): after a step back (NTP, a resumed VM) the timer fired, found the
    // deadline an hour away, and re-armed for that hour; a dial to a dark peer hung that long.
    const a = track(dials.wait(1000, { domain: 'a', port: 1 }, 1_000, undefined));
    await vi.advanceTimersByTimeAsync(100);
    vi.setSystemTime(Date.now() - 3_600_000);
    await vi.advanceTimersByTimeAsync(900);
    expect(a.state).toBe('DialTimeoutError');
    expect(dials.size).toBe(0);
  });

  it('expires usual dials in order, each at its own deadline, with one timer for all', async () => {
    const a = track(dials.wait(1000, { domain: 'a', port: 1 }, 1_000, undefined));
    await vi.advanceTimersByTimeAsync(300);
    const b = track(dials.wait(1001, { domain: 'b', port: 1 }, 1_000, undefined));
    const c = track(dials.wait(1002, { ip: 7, port: 1 }, 1_000, undefined));
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(699);
    expect([a.state, b.state, c.state]).toEqual(['pending', 'pending', 'pending']);
    await vi.advanceTimersByTimeAsync(1);
    expect([a.state, b.state, c.state]).toEqual(['DialTimeoutError', 'pending', 'pending']);
    expect(gaveUp).toEqual([1000]);
    await vi.advanceTimersByTimeAsync(299);
    expect(b.state).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect([b.state, c.state]).toEqual(['DialTimeoutError', 'DialTimeoutError']);
    expect(gaveUp).toEqual([1000, 1001, 1002]);
    expect(dials.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('honours shorter and longer timeouts mixed with usual ones', async () => {
    const usual = track(dials.wait(1000, { domain: 'u', port: 1 }, 1_000, undefined));
    const short = track(dials.wait(1001, { domain: 's', port: 1 }, 100, undefined));
    const long = track(dials.wait(1002, { domain: 'l', port: 1 }, 5_000, undefined));
    const usual2 = track(dials.wait(1003, { domain: 'u2', port: 1 }, 1_000, undefined));
    await vi.advanceTimersByTimeAsync(100);
    expect([short.state, usual.state]).toEqual(['DialTimeoutError', 'pending']);
    await vi.advanceTimersByTimeAsync(900);
    expect([usual.state, usual2.state, long.state]).toEqual([
      'DialTimeoutError',
      'DialTimeoutError',
      'pending',
    ]);
    await vi.advanceTimersByTimeAsync(3_999);
    expect(long.state).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(long.state).toBe('DialTimeoutError');
    expect(gaveUp).toEqual([1001, 1000, 1003, 1002]);
  });

  it('says which dial timed out and after how long', async () => {
    const p = dials.wait(1000, { domain: 'slow', port: 80 }, 250, undefined);
    const caught = p.catch((e: Error) => e);
    await vi.advanceTimersByTimeAsync(250);
    const err = await caught;
    expect(err).toBeInstanceOf(DialTimeoutError);
    expect((err as Error).message).toBe('dial slow:80 timed out after 250 ms');
  });

  it('takes an answered dial out of the table and stops the timer when none is left', async () => {
    const a = track(dials.wait(1000, { domain: 'a', port: 1 }, 1_000, undefined));
    const taken = dials.take(1000);
    expect(taken?.port).toBe(1000);
    expect(dials.take(1000)).toBeUndefined();
    taken?.resolve('ok');
    await flush();
    expect(a.state).toBe('ok');
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(gaveUp).toEqual([]);
  });

  it('gives up on abort, once, and leaves no listener behind', async () => {
    const ac = new AbortController();
    const p = dials.wait(1000, { domain: 'a', port: 1 }, 1_000, ac.signal);
    const caught = p.catch((e: Error) => e);
    ac.abort();
    expect(await caught).toBeInstanceOf(AbortError);
    expect(gaveUp).toEqual([1000]);
    expect(dials.has(1000)).toBe(false);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(gaveUp).toEqual([1000]);
    // An answered dial no longer listens to its signal.
    const ac2 = new AbortController();
    const q = track(dials.wait(1001, { domain: 'b', port: 1 }, 1_000, ac2.signal));
    dials.take(1001)?.resolve('ok');
    ac2.abort();
    await flush();
    expect(q.state).toBe('ok');
    expect(gaveUp).toEqual([1000]);
  });

  it('dials sharing one signal listen to it through one listener', async () => {
    // A program that gives its shutdown signal to every dial. Before: a listener each, and
    // Node.js warned of a leak at the eleventh dial in flight.
    const ac = new AbortController();
    const all = Array.from({ length: 12 }, (_, i) =>
      track(dials.wait(1000 + i, { domain: 'a', port: 1 }, 1_000, ac.signal)),
    );
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    dials.take(1000)?.resolve('ok');
    ac.abort();
    await flush();
    expect(all.map((t) => t.state)).toEqual(['ok', ...Array(11).fill('AbortError')]);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    const again = new AbortController();
    const q = track(dials.wait(2000, { domain: 'b', port: 1 }, 1_000, again.signal));
    dials.take(2000)?.resolve('ok');
    await flush();
    expect(q.state).toBe('ok');
    expect(getEventListeners(again.signal, 'abort')).toHaveLength(0);
  });

  it('fails every dial when the connection goes', async () => {
    const a = track(dials.wait(1000, { domain: 'a', port: 1 }, 1_000, undefined));
    const b = track(dials.wait(1001, { domain: 'b', port: 1 }, 50, undefined));
    expect(dials.failAll(new ConnectionClosedError('gone')).map((d) => d.port)).toEqual([1000, 1001]);
    await flush();
    expect([a.state, b.state]).toEqual(['ConnectionClosedError', 'ConnectionClosedError']);
    expect(vi.getTimerCount()).toBe(0);
    expect(gaveUp).toEqual([]);
  });
});
