import { afterEach, describe, expect, it, vi } from 'vitest';
import { BaseNode, ConnectionClosedError, FlexStream, Node, Session } from '../../../src/index.js';
import { memoryPair } from '../../../src/transport/memory.js';

/**
 * Options take delays up to 2^31-1 ms, the longest a timer can wait: Node.js (and the fake
 * timers) run a longer delay after 1 ms. Delays derived from them must stay within it.
 */

const MAX_DELAY = 2 ** 31 - 1;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('the longest delays', () => {
  it('node.close() waits for the close-ACK as long as closeAckTimeout says', async () => {
    const [ta, tb] = memoryPair();
    const a = new Node(ta, { ip: 1, heartbeatInterval: 0, closeAckTimeout: MAX_DELAY });
    const b = new Node(tb, { ip: 2, heartbeatInterval: 0 });
    cleanups.push(
      () => a.destroy(),
      () => b.destroy(),
    );
    b.listen(7);
    await a.dial('2:7');
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'],
    });
    // The peer never sees the close: only the timeouts can end the handshake.
    ta.blackhole();
    const closeTransport = vi.spyOn(ta, 'close');
    void a.close();
    // The fallback timer of close() ran closeAckTimeout + 100 ms, past the longest delay, so
    // it fired after 1 ms and cut the handshake at once.
    await vi.advanceTimersByTimeAsync(1_000);
    expect(closeTransport).not.toHaveBeenCalled();
    expect(a.closed).toBe(false);
  });

  it('a session backs off for up to backoffMax with jitter, never in a tight loop', async () => {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'],
    });
    // The largest spread: delay * (1 + jitter), past the longest timer delay when the delay is
    // near it. Such a retry ran after 1 ms, and so did every one after it half of the time.
    vi.spyOn(Math, 'random').mockReturnValue(0.999);
    let attempts = 0;
    const s = new Session<FlexStream>({
      connector: () => {
        attempts++;
        return Promise.reject(new ConnectionClosedError('refused'));
      },
      makeNode: (t, o) => new BaseNode(t, o, (core) => new FlexStream(core)),
      password: 'p',
      domain: 'd',
      backoffInitial: MAX_DELAY,
      backoffMax: MAX_DELAY,
      backoffJitter: 0.2,
    });
    s.on('disconnect', () => {});
    cleanups.push(() => s.close());
    await vi.advanceTimersByTimeAsync(1_000);
    expect(attempts).toBe(1);
    expect(s.state).toBe('backoff');
  });
});
