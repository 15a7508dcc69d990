import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { BaseNode, type FlexStream, FlexStream as FS, Session } from '../../src/index.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { memoryPair } from '../../src/transport/memory.js';
import type { Transport } from '../../src/transport/types.js';

/**
 * session.reconnectNow(): a session waiting out its back-off (up to backoffMax, 30 s) had no way
 * to try again at once when its program knew the network was back. The back-offs here are a
 * minute long: a test that waited for one would run out of time first.
 */

const PASSWORD = 'reconnect-now';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A session whose attempts fail while `down.is` holds, and reach `sw` otherwise. */
function session(sw: Switcher, extra: { signal?: AbortSignal; startSpread?: number } = {}) {
  const down = { is: true, attempts: 0 };
  const s = new Session<FlexStream>({
    connector: async () => {
      down.attempts++;
      if (down.is) throw new Error('network unreachable');
      const [a, b] = memoryPair();
      sw.handle(b);
      return a as Transport;
    },
    makeNode: (t, o) => new BaseNode(t, o, (core) => new FS(core)),
    password: PASSWORD,
    domain: 'comes-back',
    heartbeatInterval: 0,
    backoffInitial: 60_000,
    backoffMax: 60_000,
    ...extra,
  });
  cleanups.push(() => s.close());
  return { s, down };
}

function switcher(): Switcher {
  const sw = new Switcher({ password: PASSWORD });
  cleanups.push(() => sw.close({ timeout: 200 }));
  return sw;
}

describe('session.reconnectNow()', () => {
  it('ends the back-off wait and attempts at once', async () => {
    const ac = new AbortController();
    const { s, down } = session(switcher(), { signal: ac.signal });
    await new Promise((r) => s.once('disconnect', r));
    expect(s.state).toBe('backoff');
    down.is = false;
    const ready = s.ready();
    expect(s.reconnectNow()).toBe(true);
    expect(s.state).toBe('connecting');
    await ready;
    expect(down.attempts).toBe(2);
    // The wait's listener on the opener's signal went with the wait.
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    // Connected: nothing to cut short.
    expect(s.reconnectNow()).toBe(false);
  });

  it('a failed attempt made now backs off again, and a second call cuts that wait too', async () => {
    const { s, down } = session(switcher());
    // A 'disconnect' listener runs before the wait: calling it each time would retry without one.
    const inListener = await new Promise((r) => s.once('disconnect', () => r(s.reconnectNow())));
    expect(inListener).toBe(false);
    expect(s.state).toBe('backoff');
    expect(down.attempts).toBe(1);
    const failed = new Promise((r) => s.once('disconnect', r));
    expect(s.reconnectNow()).toBe(true);
    await failed;
    expect(s.state).toBe('backoff');
    expect(down.attempts).toBe(2);
    down.is = false;
    const ready = s.ready();
    expect(s.reconnectNow()).toBe(true);
    await ready;
    expect(down.attempts).toBe(3);
  });

  it("ends the start's spread (startSpread) too, but not once closed", async () => {
    const { s, down } = session(switcher(), { startSpread: 60_000 });
    expect(s.state).toBe('connecting');
    const failed = new Promise((r) => s.once('disconnect', r));
    expect(s.reconnectNow()).toBe(true);
    expect(down.attempts).toBe(1);
    await failed;
    await s.close();
    expect(s.reconnectNow()).toBe(false);
    expect(down.attempts).toBe(1);
    expect(s.state).toBe('closed');
    const spreading = session(switcher(), { startSpread: 60_000 });
    await spreading.s.close();
    expect(spreading.s.reconnectNow()).toBe(false);
    expect(spreading.down.attempts).toBe(0);

    // Closed during the back-off: the call makes no attempt behind the close.
    const other = session(switcher());
    await new Promise((r) => other.s.once('disconnect', r));
    await other.s.close();
    expect(other.s.reconnectNow()).toBe(false);
    expect(other.down.attempts).toBe(1);
  });

  it('during an attempt: none made beside it, but the next comes at once if it fails', async () => {
    // A page woke (online) while an attempt still went through the old network (a WebSocket dial
    // that takes up to connectTimeout to fail): the call did nothing, and the failure then waited
    // out the whole back-off (a minute here, up to backoffMax) with the network back.
    const sw = switcher();
    const calls: { fail: (e: Error) => void }[] = [];
    let called: () => void = () => {};
    const s = new Session<FlexStream>({
      connector: () => {
        if (calls.length > 0) {
          const [a, b] = memoryPair();
          sw.handle(b);
          called();
          return Promise.resolve(a as Transport);
        }
        return new Promise<Transport>((_, reject) => {
          calls.push({ fail: reject });
          called();
        });
      },
      makeNode: (t, o) => new BaseNode(t, o, (core) => new FS(core)),
      password: PASSWORD,
      domain: 'woke-while-trying',
      heartbeatInterval: 0,
      backoffInitial: 60_000,
      backoffMax: 60_000,
    });
    cleanups.push(() => s.close());
    expect(s.state).toBe('connecting');
    expect(calls).toHaveLength(1);
    // Under way: no second attempt beside it.
    expect(s.reconnectNow()).toBe(false);
    expect(s.reconnectNow()).toBe(false);
    const again = new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no attempt within 3 s of the failure')), 3_000);
      called = () => {
        clearTimeout(t);
        resolve();
      };
    });
    // A 'disconnect' listener's own call is no wake: it adds nothing.
    let inListener: boolean | undefined;
    s.once('disconnect', () => {
      inListener = s.reconnectNow();
    });
    calls[0]!.fail(new Error('network unreachable'));
    await again;
    expect(inListener).toBe(false);
    await s.ready({ timeout: 3_000 });
    expect(s.connections).toBe(1);
  });

  it("a 'disconnect' listener's call after a failed attempt makes no attempt at once", async () => {
    const { s, down } = session(switcher());
    s.on('disconnect', () => s.reconnectNow());
    s.on('state', () => s.reconnectNow());
    await new Promise((r) => s.once('disconnect', r));
    // Past the turn in which a retry at once would have begun.
    await new Promise((r) => setImmediate(r));
    expect(s.state).toBe('backoff');
    expect(down.attempts).toBe(1);
  });
});

describe("the state 'disconnect' listeners find", () => {
  it("is 'backoff' after a failed attempt, as after a lost connection, with the 'state' event before", async () => {
    // Before: 'connecting' after a failed attempt (its 'backoff' came after the listeners), but
    // 'backoff' after a lost connection: a listener could not tell from the state whether the
    // session was waiting.
    const sw = switcher();
    const { s, down } = session(sw);
    const events: string[] = [];
    s.on('state', (st) => events.push(`state ${st}`));
    s.on('disconnect', () => events.push(`disconnect in ${s.state}`));
    const failed = new Promise((r) => s.once('disconnect', r));
    await failed;
    expect(events).toEqual(['state backoff', 'disconnect in backoff']);
    expect(down.attempts).toBe(1);

    // The same session's connection, lost (within backoffInitial of its admission: a back-off).
    down.is = false;
    const ready = s.ready();
    expect(s.reconnectNow()).toBe(true);
    await ready;
    events.length = 0;
    const lost = new Promise((r) => s.once('disconnect', r));
    sw.kick('comes-back', 'once');
    await lost;
    expect(events).toEqual(['state backoff', 'disconnect in backoff']);
  });

  it("is 'connecting' when the next attempt comes at once: a wake during the failed attempt", async () => {
    let fail!: (e: Error) => void;
    let attempts = 0;
    const s = new Session<FlexStream>({
      connector: () =>
        new Promise<Transport>((_, reject) => {
          attempts++;
          fail = reject;
        }),
      makeNode: (t, o) => new BaseNode(t, o, (core) => new FS(core)),
      password: PASSWORD,
      domain: 'woke-state',
      heartbeatInterval: 0,
      backoffInitial: 60_000,
      backoffMax: 60_000,
    });
    cleanups.push(() => s.close());
    const events: string[] = [];
    s.on('state', (st) => events.push(`state ${st}`));
    s.on('disconnect', () => events.push(`disconnect in ${s.state} after ${attempts}`));
    expect(s.reconnectNow()).toBe(false);
    fail(new Error('network unreachable'));
    await new Promise((r) => s.once('disconnect', r));
    // The next attempt began right behind the listeners, with no 'backoff' between.
    expect(attempts).toBe(2);
    expect(events).toEqual(['disconnect in connecting after 1']);
    expect(s.state).toBe('connecting');
  });
});
