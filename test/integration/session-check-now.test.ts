import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  BaseNode,
  ConnectionClosedError,
  type FlexStream,
  FlexStream as FS,
  Session,
} from '../../src/index.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { type MemoryTransport, memoryPair } from '../../src/transport/memory.js';
import type { Transport } from '../../src/transport/types.js';
import { reconnectOnWake } from '../../src/wake.js';
import { nextEvent } from '../helpers/faulty-streams.js';

/**
 * A page woken while its session still showed 'ready' on a connection that died during the sleep
 * (a laptop's lid closed, a network changed, a NAT mapping expired) did nothing until the
 * heartbeat noticed: heartbeatInterval + heartbeatTimeout (17 s by default), longer while timers
 * were held back. session.checkNow() pings at once; the wake calls it. The heartbeat interval here
 * is a minute: a test that waited for it would run out of time first.
 */

const PASSWORD = 'check-now';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A session over in-memory pairs to `sw`; `ends` are each connection's two ends. */
function session(extra: { heartbeatInterval?: number; heartbeatTimeout?: number } = {}) {
  // The switcher pings a dark holder of the domain for 200 ms before it hands the domain on.
  const sw = new Switcher({ password: PASSWORD, livenessTimeout: 200 });
  cleanups.push(() => sw.close({ timeout: 200 }));
  const ends: [MemoryTransport, MemoryTransport][] = [];
  const s = new Session<FlexStream>({
    connector: async () => {
      const [a, b] = memoryPair();
      ends.push([a, b]);
      sw.handle(b);
      return a as Transport;
    },
    makeNode: (t, o) => new BaseNode(t, o, (core) => new FS(core)),
    password: PASSWORD,
    domain: 'sleeper',
    heartbeatInterval: 60_000,
    heartbeatTimeout: 300,
    backoffInitial: 50,
    backoffMax: 100,
    reconnectSpread: 0,
    ...extra,
  });
  cleanups.push(() => s.close());
  return { s, ends, sw };
}

/** A page's global scope and document, the document shown. */
function page(): EventTarget & { document: EventTarget & { visibilityState: string } } {
  const doc = Object.assign(new EventTarget(), { visibilityState: 'visible' });
  return Object.assign(new EventTarget(), { document: doc });
}

/** Counts the pings the node sends from now on. */
function countPings(node: BaseNode<FlexStream>) {
  return vi.spyOn((node as unknown as { pinger: { start: () => unknown } }).pinger, 'start');
}

/**
 * The connection goes dark (no FIN, no RST): neither end hears of it. The switcher still holds
 * the domain for it, until the new connection's claim finds it silent too.
 */
function goDark(ends: [MemoryTransport, MemoryTransport]): void {
  ends[0].blackhole();
}

describe('a page that wakes while its session is ready', () => {
  it('finds a connection that died in its sleep and reconnects, with one ping for both events', async () => {
    const { s, ends } = session();
    await s.ready();
    const scope = page();
    reconnectOnWake(s, scope);
    const first = s.node!;
    const pings = countPings(first);
    goDark(ends[0]!);
    const lost = nextEvent<Error>(s, 'disconnect', 3_000);
    // Both at once, as a laptop's lid opening on another network makes them.
    scope.document.dispatchEvent(new Event('visibilitychange'));
    scope.dispatchEvent(new Event('online'));
    const err = await lost;
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect(err.message).toBe('liveness check: no answer within 300 ms');
    expect(pings).toHaveBeenCalledTimes(1);
    await nextEvent(s, 'ready', 3_000);
    expect(s.node).not.toBe(first);
    expect(s.connections).toBe(2);
  });

  it('leaves a live connection as it is, and pings it once for the events of one wake', async () => {
    const { s } = session({ heartbeatTimeout: 5_000 });
    await s.ready();
    const scope = page();
    reconnectOnWake(s, scope);
    const node = s.node!;
    const pings = countPings(node);
    const lost = vi.fn();
    s.on('disconnect', lost);
    scope.document.dispatchEvent(new Event('visibilitychange'));
    // The call shares the ping the wake sent.
    expect(await s.checkNow()).toBe(true);
    // Answered: a second event of the same wake finds that answer fresh, and sends nothing.
    scope.dispatchEvent(new Event('online'));
    expect(await s.checkNow()).toBe(true);
    expect(pings).toHaveBeenCalledTimes(1);
    expect(s.state).toBe('ready');
    expect(s.node).toBe(node);
    expect(lost).not.toHaveBeenCalled();
    // Nothing left running: no ping out, no verdict waiting.
    const inside = node as unknown as { pinger: { size: number }; heartbeat: { judgeTimer?: unknown } };
    expect(inside.pinger.size).toBe(0);
    expect(inside.heartbeat.judgeTimer).toBeUndefined();
  });
});

describe('a page that wakes with an upload in flight', () => {
  it('finds a connection that died in its sleep within heartbeatTimeout, its output backed up', async () => {
    // The upload filled the output before the connection went dark: the wake's ping, queued
    // behind it, was excused for 2 × heartbeatInterval + heartbeatTimeout (32 s by default, two
    // minutes here) after the last byte heard, and the page waited that long to reconnect.
    const { s, ends, sw } = session();
    await s.ready();
    const peer = new Session<FlexStream>({
      connector: async () => {
        const [a, b] = memoryPair();
        sw.handle(b);
        return a as Transport;
      },
      makeNode: (t, o) => new BaseNode(t, o, (core) => new FS(core)),
      password: PASSWORD,
      domain: 'receiver',
      heartbeatInterval: 60_000,
    });
    cleanups.push(() => peer.close());
    await peer.ready();
    peer.listen(7).on('stream', (x: FlexStream) => x.resume());
    const up = await s.dial('receiver:7');
    const scope = page();
    reconnectOnWake(s, scope);
    goDark(ends[0]!);
    const node = s.node!;
    up.write(new Uint8Array(1024 * 1024));
    for (let i = 0; i < 100 && !node.scheduler.isBlocked; i++) await new Promise((r) => setImmediate(r));
    expect(node.scheduler.isBlocked).toBe(true);
    const lost = nextEvent<Error>(s, 'disconnect', 3_000);
    scope.dispatchEvent(new Event('online'));
    expect((await lost).message).toBe('liveness check: no answer within 300 ms');
    await nextEvent(s, 'ready', 3_000);
  });
});

describe('session.checkNow()', () => {
  it('with the heartbeat off too, drops a dead connection at once and reconnects', async () => {
    const { s, ends } = session({ heartbeatInterval: 0 });
    await s.ready();
    goDark(ends[0]!);
    const lost = nextEvent<Error>(s, 'disconnect', 3_000);
    expect(await s.checkNow()).toBe(false);
    expect((await lost).message).toMatch(/^liveness check: no answer within 300 ms/);
    await nextEvent(s, 'ready', 3_000);
    expect(await s.checkNow()).toBe(true);
  });

  it('does nothing unless the session is ready', async () => {
    const { s } = session();
    expect(s.state).toBe('connecting');
    expect(await s.checkNow()).toBe(false);
    await s.close();
    expect(await s.checkNow()).toBe(false);
  });
});
