import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, type FlexStream, Node } from '../../src/index.js';
import { memoryPair } from '../../src/transport/memory.js';

/**
 * FlexStream.setTimeout behaves like net.Socket's: 'timeout' after `ms` without traffic, traffic
 * postpones it, 0 turns it off. Only setTimeout/clearTimeout are faked; the memory link delivers
 * in microtasks, so traffic flows while the idle clock is under the test's control.
 */
const nodes: Node[] = [];
afterEach(() => {
  for (const n of nodes.splice(0)) n.destroy();
  vi.useRealTimers();
});

/** Writes one byte and waits for its echo: traffic both ways. */
async function roundTrip(s: FlexStream, v: number): Promise<void> {
  const echoed = new Promise<void>((r) => s.once('data', () => r()));
  s.write(Buffer.from([v]));
  await echoed;
}

/** `echo`: the peer writes back what it reads (else it only reads). */
async function stream(echo = true): Promise<{ s: FlexStream; peer: FlexStream }> {
  const [x, y] = memoryPair();
  const a = new Node(x, { domain: 'alice', ip: 1, heartbeatInterval: 0 });
  const b = new Node(y, { domain: 'bob', ip: 2, heartbeatInterval: 0 });
  nodes.push(a, b);
  const accepted = b.listen(9).accept();
  const s = await a.dial('bob:9');
  const peer = await accepted;
  if (echo) peer.on('data', (d: Buffer) => peer.write(d));
  else peer.resume();
  s.resume();
  return { s, peer };
}

describe('stream idle timeout', () => {
  it('fires after the idle time, is postponed by traffic, and 0 turns it off', async () => {
    const { s } = await stream();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let fired = 0;
    s.on('timeout', () => fired++);
    s.setTimeout(100);
    // Traffic every 60 ms for 600 ms: the clock keeps restarting, nothing fires.
    for (let i = 0; i < 10; i++) {
      await roundTrip(s, i);
      await vi.advanceTimersByTimeAsync(60);
    }
    expect(fired).toBe(0);
    // Silence: it fires once the idle time has passed since the last traffic (60 ms ago).
    await vi.advanceTimersByTimeAsync(39);
    expect(fired).toBe(0);
    await vi.advanceTimersByTimeAsync(100);
    expect(fired).toBe(1);
    // It stays quiet until traffic re-arms it, then fires again after a new idle period.
    await vi.advanceTimersByTimeAsync(500);
    expect(fired).toBe(1);
    await roundTrip(s, 1);
    await vi.advanceTimersByTimeAsync(101);
    expect(fired).toBe(2);
    s.setTimeout(0);
    await roundTrip(s, 2);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(fired).toBe(2);
  });

  // A net.Socket counts its writes as activity: a stream that only sends (an upload) is not idle,
  // and the usual `setTimeout(ms, () => s.destroy())` must not cut it off.
  it('is postponed by writes alone', async () => {
    const { s, peer } = await stream(false);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let fired = 0;
    s.on('timeout', () => fired++);
    s.setTimeout(100);
    for (let i = 0; i < 10; i++) {
      s.write(Buffer.from([i]));
      await vi.advanceTimersByTimeAsync(60);
    }
    expect(peer.bytesRead).toBe(10);
    expect(fired).toBe(0);
    await vi.advanceTimersByTimeAsync(41);
    expect(fired).toBe(1);
  });

  // As net.Socket's: setTimeout(0, cb) takes back the cb an earlier setTimeout(ms, cb) added.
  it('setTimeout(0, cb) removes cb instead of adding it once more', async () => {
    const { s } = await stream();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let fired = 0;
    const onIdle = (): void => {
      fired++;
    };
    s.setTimeout(100, onIdle);
    s.setTimeout(0, onIdle);
    expect(s.listenerCount('timeout')).toBe(0);
    s.setTimeout(100);
    await vi.advanceTimersByTimeAsync(101);
    expect(fired).toBe(0);
  });

  // Node runs a timer of NaN, Infinity or more than 2^31-1 ms after 1 ms: such an idle time would
  // report a busy stream idle at once. Like every other delay flexmux takes, it is refused.
  it('refuses an idle time that is not a timer delay in 0..2^31-1 ms with ConfigError', async () => {
    const { s } = await stream();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let fired = 0;
    s.on('timeout', () => fired++);
    for (const ms of [Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, -1]) {
      expect(() => s.setTimeout(ms)).toThrow(ConfigError);
    }
    s.setTimeout(2 ** 31 - 1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(fired).toBe(0);
  });

  // As net.Socket's: a destroyed stream keeps no callback that can never run (nor what it holds).
  it('a destroyed stream takes no timeout callback', async () => {
    const { s } = await stream();
    s.destroy();
    s.setTimeout(100, () => {});
    expect(s.listenerCount('timeout')).toBe(0);
  });
});
