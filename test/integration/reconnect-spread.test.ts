import { afterEach, describe, expect, it, vi } from 'vitest';
import { nodeReloadPlan } from '../../src/cli/node-reload.js';
import type { ConnectOptions } from '../../src/connect.js';
import { BaseNode, ConfigError, type FlexStream, FlexStream as FS, Session } from '../../src/index.js';
import type { RefusalInfo } from '../../src/switcher/gatekeeper.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { type MemoryTransport, memoryPair, seededRandom } from '../../src/transport/memory.js';
import type { Transport } from '../../src/transport/types.js';
import { captureLogger } from '../helpers/faulty-log.js';
import { nextEvent } from '../helpers/faulty-streams.js';

/**
 * The random wait before a session reconnects after a connection that worked is lost
 * (reconnectSpread). Before it, every node of a restarted switcher reconnected in the same
 * instant: a thousand of them filled 98 % of maxPendingAdmissions, and past it nodes were turned
 * away without a reply and waited backoffInitial.
 */

const PASSWORD = 'reconnect-spread';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Only the timers and the monotonic clock are fake: I/O and Web Crypto stay real. */
function fakeTimers(): void {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
}

/** Math.random gives these, in turn (the last one again once they run out). */
function draws(...values: number[]): void {
  let k = 0;
  vi.spyOn(Math, 'random').mockImplementation(() => values[Math.min(k++, values.length - 1)]!);
}

function switcher(options: { maxPendingAdmissions?: number } = {}): Switcher {
  const sw = new Switcher({ password: PASSWORD, ...options });
  cleanups.push(() => sw.close({ timeout: 100 }));
  return sw;
}

/**
 * A session whose connections are in-memory pairs handed to `target()`; records the time
 * (performance.now(), faked) of every connection attempt and the switcher's end of each.
 */
function memorySession(target: () => Switcher, domain: string, extra: Record<string, unknown> = {}) {
  const attempts: number[] = [];
  const far: MemoryTransport[] = [];
  const s = new Session<FlexStream>({
    connector: async () => {
      attempts.push(performance.now());
      const [a, b] = memoryPair();
      far.push(b);
      target().handle(b);
      return a as Transport;
    },
    makeNode: (t, o) => new BaseNode(t, o, (core) => new FS(core)),
    password: PASSWORD,
    domain,
    heartbeatInterval: 0,
    ...extra,
  });
  s.on('disconnect', () => {});
  cleanups.push(() => s.close());
  return { s, attempts, far };
}

/** Lets the session's connection outlast backoffInitial (default 1 s), then drops it. */
async function loseWorkingConnection(sw: Switcher, s: Session<FlexStream>, lasted = 1_500): Promise<void> {
  await vi.advanceTimersByTimeAsync(lasted);
  const lost = nextEvent(s, 'disconnect');
  sw.kick(s.domain, 'switcher restart');
  await lost;
}

/**
 * Yields to the event loop (not a timer: those are fake here) until `done()`, for at most `ms` of
 * real time (Date is not faked). Bounded by time, not by a count of turns: an admission's crypto
 * runs on libuv's thread pool, and on a loaded machine 20,000 idle turns (~50 ms) passed before
 * it finished.
 */
async function until(done: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
  if (!done()) throw new Error(`${what}: not within ${ms} ms`);
}

describe('after a connection that worked is lost', () => {
  it('a session waits a random time within 0..500 ms by default, a new one each time', async () => {
    fakeTimers();
    const sw = switcher();
    const logger = captureLogger();
    const { s, attempts } = memorySession(() => sw, 'single', { logger });
    await nextEvent(s, 'ready');
    draws(0.1, 0.6, 0.9995);
    for (const expected of [50, 300, 500]) {
      await loseWorkingConnection(sw, s);
      const lostAt = performance.now();
      const before = attempts.length;
      // Waiting to reconnect, and saying for how long.
      expect(s.state).toBe('backoff');
      expect(logger.find('session disconnected').at(-1)?.fields.retryIn).toBe(expected);
      // Before: the next attempt came at once, at the very instant of the loss.
      if (expected > 1) await vi.advanceTimersByTimeAsync(expected - 1);
      expect(attempts).toHaveLength(before);
      const ready = nextEvent(s, 'ready');
      await vi.advanceTimersByTimeAsync(1);
      await ready;
      expect(attempts).toHaveLength(before + 1);
      expect(attempts.at(-1)! - lostAt).toBe(expected);
    }
  });

  it('by default waits no longer than backoffInitial or backoffMax, and reconnectSpread sets it', async () => {
    fakeTimers();
    const sw = switcher();
    draws(0.99999);
    const cases: [Record<string, number>, number][] = [
      [{}, 500],
      [{ backoffInitial: 200 }, 200],
      [{ backoffMax: 100 }, 100],
      [{ reconnectSpread: 2_000 }, 2_000],
      [{ backoffInitial: 200, reconnectSpread: 800 }, 800],
    ];
    for (const [i, [options, longest]] of cases.entries()) {
      const logger = captureLogger();
      const { s } = memorySession(() => sw, `spread-${i}`, { ...options, logger });
      await nextEvent(s, 'ready');
      await loseWorkingConnection(sw, s);
      expect(logger.find('session disconnected')[0]?.fields, JSON.stringify(options)).toMatchObject({
        lasted: 1_500,
        retryIn: longest,
      });
      await s.close();
    }
  });

  it('reconnectSpread 0 reconnects at once, as Go does', async () => {
    fakeTimers();
    const sw = switcher();
    const logger = captureLogger();
    const { s, attempts } = memorySession(() => sw, 'at-once', { reconnectSpread: 0, logger });
    await nextEvent(s, 'ready');
    const state = new Promise<string>((resolve) => s.once('disconnect', () => resolve(s.state)));
    await loseWorkingConnection(sw, s);
    expect(await state).toBe('connecting');
    expect(attempts).toHaveLength(2);
    expect(logger.find('session disconnected')[0]?.fields.retryIn).toBe(0);
  });

  it('a close() during the wait closes the session at once, with no further attempt', async () => {
    fakeTimers();
    const sw = switcher();
    draws(0.9);
    const { s, attempts } = memorySession(() => sw, 'closing');
    await nextEvent(s, 'ready');
    await loseWorkingConnection(sw, s);
    expect(s.state).toBe('backoff');
    const closed = nextEvent(s, 'close');
    // Resolves without any time passing: nothing waits for the 450 ms.
    await s.close();
    await closed;
    expect(s.state).toBe('closed');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(attempts).toHaveLength(1);
  });

  it("an abort of the opener's signal during the wait closes the session at once", async () => {
    fakeTimers();
    const sw = switcher();
    draws(0.9);
    const ac = new AbortController();
    const { s, attempts } = memorySession(() => sw, 'aborting', { signal: ac.signal });
    await nextEvent(s, 'ready');
    await loseWorkingConnection(sw, s);
    expect(s.state).toBe('backoff');
    const closed = nextEvent(s, 'close');
    ac.abort();
    await closed;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(attempts).toHaveLength(1);
  });

  it('refuses a reconnectSpread that a timer cannot wait, and takes 0', () => {
    const sw = switcher();
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, '100']) {
      expect(() => memorySession(() => sw, 'bad', { reconnectSpread: bad }), String(bad)).toThrow(
        ConfigError,
      );
    }
    expect(() => memorySession(() => sw, 'zero', { reconnectSpread: 0 })).not.toThrow();
  });
});

describe('many sessions against a switcher that restarts', () => {
  it('come back spread out, none turned away beyond maxPendingAdmissions', async () => {
    fakeTimers();
    // Reproducible draws, spread as real ones would be.
    vi.spyOn(Math, 'random').mockImplementation(seededRandom(20261127));
    const N = 64;
    const first = switcher();
    // The restarted switcher takes 8 admissions at a time (1,024 by default, for 1,000 nodes).
    const second = switcher({ maxPendingAdmissions: 8 });
    let current = first;
    const overloaded: RefusalInfo[] = [];
    second.on('refused', (info) => {
      if (info.reason === 'overloaded') overloaded.push(info);
    });
    const sessions = Array.from({ length: N }, (_, i) => memorySession(() => current, `herd-${i}`));
    await Promise.all(sessions.map(({ s }) => s.ready()));
    await vi.advanceTimersByTimeAsync(1_500); // every connection worked
    // The first switcher dies: every connection drops in the same instant, and the second one,
    // at the same address, takes the reconnections.
    current = second;
    const lostAt = performance.now();
    for (const { far } of sessions) far[0]!.destroy();
    let peak = 0;
    for (let t = 0; t <= 600; t++) {
      await vi.advanceTimersByTimeAsync(1);
      peak = Math.max(peak, second.stats().pendingAdmissions);
      // Each millisecond's admissions are through before the next millisecond's arrive.
      await until(() => second.stats().pendingAdmissions === 0, `admissions at ${t} ms`);
    }
    // Before: all 64 came at once; 56 were turned away without a reply, and waited backoffInitial.
    expect(overloaded).toHaveLength(0);
    expect(peak).toBeLessThan(8);
    await until(() => sessions.every(({ s }) => s.state === 'ready'), 'every session back');
    const delays = sessions.map(({ attempts }) => attempts[1]! - lostAt).sort((a, b) => a - b);
    expect(delays[0]).toBeGreaterThanOrEqual(0);
    expect(delays.at(-1)).toBeLessThanOrEqual(500);
    // Spread over the range, not bunched: a quarter of them in each quarter, give or take.
    for (let q = 0; q < 4; q++) {
      const inQuarter = delays.filter((d) => d >= q * 125 && d < (q + 1) * 125).length;
      expect(inQuarter).toBeGreaterThanOrEqual(N / 8);
    }
  });
});

/**
 * The wait before the first attempt (startSpread): none by default, as a single node's first
 * connection is the one its user waits on; a fleet started all at once may spread it. Before the
 * option, nodes started in the same instant all dialled in that instant, and those past
 * maxPendingAdmissions were turned away, to come back only after a failed attempt.
 */
describe('the first attempt', () => {
  it('comes at once by default', async () => {
    fakeTimers();
    const sw = switcher();
    draws(0.9);
    const { s, attempts } = memorySession(() => sw, 'first');
    // Made in the constructor, before any timer could run.
    expect(attempts).toEqual([performance.now()]);
    await nextEvent(s, 'ready');
  });

  it('with startSpread, waits a random time within 0..startSpread, connecting meanwhile', async () => {
    fakeTimers();
    const sw = switcher();
    draws(0.25);
    const startedAt = performance.now();
    const { s, attempts } = memorySession(() => sw, 'spread-start', { startSpread: 2_000 });
    expect(s.state).toBe('connecting');
    await vi.advanceTimersByTimeAsync(499);
    expect(attempts).toHaveLength(0);
    const ready = nextEvent(s, 'ready');
    await vi.advanceTimersByTimeAsync(1);
    await ready;
    expect(attempts).toEqual([startedAt + 500]);
  });

  it('a close() or an abort of the opener during the wait closes the session with no attempt', async () => {
    fakeTimers();
    const sw = switcher();
    draws(0.9);
    const { s: closing, attempts: a1 } = memorySession(() => sw, 'start-close', { startSpread: 1_000 });
    await closing.close();
    expect(closing.state).toBe('closed');
    const ac = new AbortController();
    const { s: aborting, attempts: a2 } = memorySession(() => sw, 'start-abort', {
      startSpread: 1_000,
      signal: ac.signal,
    });
    const closed = nextEvent(aborting, 'close');
    ac.abort();
    await closed;
    await vi.advanceTimersByTimeAsync(2_000);
    expect(a1).toHaveLength(0);
    expect(a2).toHaveLength(0);
  });

  it('reconnectNow() during the wait attempts at once, and the wait makes no second attempt', async () => {
    // A page that came back online, or a program that knows the switcher is up, called it in the
    // start's spread: it did nothing, and the first attempt waited out the draw (up to
    // startSpread), unlike in a back-off, where it attempts at once.
    fakeTimers();
    const sw = switcher();
    draws(0.9);
    const startedAt = performance.now();
    const { s, attempts } = memorySession(() => sw, 'start-now', { startSpread: 10_000 });
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(attempts).toHaveLength(0);
    const ready = nextEvent(s, 'ready');
    expect(s.reconnectNow()).toBe(true);
    // Made in the call: the connector runs before attempt()'s first await.
    expect(attempts).toEqual([startedAt + 1_000]);
    expect(s.state).toBe('connecting');
    await ready;
    // The spread's timer went with the wait: its 9 s would have made a second attempt.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(attempts).toHaveLength(1);
    expect(s.state).toBe('ready');
    expect(s.reconnectNow()).toBe(false);
    // Closed during the wait, it makes none.
    const { s: closed, attempts: none } = memorySession(() => sw, 'start-closed', { startSpread: 10_000 });
    await closed.close();
    expect(closed.reconnectNow()).toBe(false);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(none).toHaveLength(0);
  });

  it("the node command's reload (SIGHUP) leaves the wait to run: a fleet reloaded in it stays spread", async () => {
    // The reload ends a back-off for the new password (reconnectNow()), and since reconnectNow()
    // ended the start's spread too, a SIGHUP to every unit of a fleet in its spread made them all
    // connect in that instant. The first attempt reads the new password anyway.
    fakeTimers();
    const sw = switcher();
    draws(0.9);
    const startedAt = performance.now();
    const { s, attempts } = memorySession(() => sw, 'start-reload', { startSpread: 10_000 });
    const plan = nodeReloadPlan({ passwordFile: 'unread' }, { session: s, options: {} as ConnectOptions });
    await vi.advanceTimersByTimeAsync(1_000);
    plan.applied?.(['password', 'CA']);
    expect(s.reconnectNow({ keepStartSpread: true })).toBe(false);
    expect(attempts).toHaveLength(0);
    expect(s.state).toBe('connecting');
    const ready = nextEvent(s, 'ready');
    await vi.advanceTimersByTimeAsync(8_000);
    expect(attempts).toEqual([startedAt + 9_000]);
    await ready;
    // In a back-off it still attempts at once.
    await loseWorkingConnection(sw, s);
    expect(s.state).toBe('backoff');
    expect(s.reconnectNow({ keepStartSpread: true })).toBe(true);
    expect(attempts).toHaveLength(2);
  });

  it('refuses a startSpread that a timer cannot wait, and takes 0', () => {
    const sw = switcher();
    for (const bad of [-1, Number.NaN, 2 ** 31, '100']) {
      expect(() => memorySession(() => sw, 'bad', { startSpread: bad }), String(bad)).toThrow(ConfigError);
    }
    expect(() => memorySession(() => sw, 'zero', { startSpread: 0 })).not.toThrow();
  });
});
