import { getEventListeners } from 'node:events';
import * as net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connect as browserConnect } from '../../src/browser.js';
import { connect } from '../../src/connect.js';
import {
  AbortError,
  AdmissionError,
  admit,
  BaseNode,
  ConfigError,
  ConnectionClosedError,
  type FlexStream,
  FlexStream as FS,
  Node,
  type NodeOptions,
  NotConnectedError,
  Session,
  type SessionOptions,
  TimeoutError,
  tcpTransport,
} from '../../src/index.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { type MemoryTransport, memoryPair } from '../../src/transport/memory.js';
import type { Transport } from '../../src/transport/types.js';
import { sealResponse } from '../../src/wire/admission/index.js';
import { captureLogger } from '../helpers/faulty-log.js';
import { nextEvent } from '../helpers/faulty-streams.js';
import { refusingSession } from '../helpers/refusing.js';

/**
 * Session and heartbeat defects found by an audit of the session layer; each test failed before
 * its fix.
 */

const PASSWORD = 'session-faults';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Only the clock and the timers are fake: microtasks, I/O and Web Crypto stay real. */
function fakeTimers(): void {
  // performance too: heartbeats and pings time themselves with the monotonic clock (util/timers).
  vi.useFakeTimers({
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'],
  });
}

function switcher(): Switcher {
  const sw = new Switcher({ password: PASSWORD });
  cleanups.push(() => sw.close({ timeout: 200 }));
  return sw;
}

/** A session whose connections are in-memory pairs handed to `sw`; counts connection attempts. */
function memorySession(sw: Switcher, domain: string, extra: Record<string, unknown> = {}) {
  const calls = { n: 0 };
  const s = new Session<FlexStream>({
    connector: async () => {
      calls.n++;
      const [a, b] = memoryPair();
      sw.handle(b);
      return a as Transport;
    },
    makeNode: (t, o) => new BaseNode(t, o, (core) => new FS(core)),
    password: PASSWORD,
    domain,
    backoffInitial: 20,
    backoffMax: 100,
    heartbeatInterval: 0,
    ...extra,
  });
  cleanups.push(() => s.close());
  return { s, calls };
}

describe('a close right behind the admission response', () => {
  it('reaches the node built on the admitted transport', async () => {
    const [a, b] = memoryPair();
    b.attach({
      // The switcher's side: answer the request, then hang up at once (a kick, a shutdown).
      data: () => {
        void sealResponse(PASSWORD, { errCode: 0, ip: 5 }).then((frame) => {
          b.send([frame]);
          b.close();
        });
      },
      drain: () => {},
      close: () => {},
    });
    const admitted = await admit(a, { password: PASSWORD, domain: 'x', timeout: 2_000 });
    expect(admitted.ip).toBe(5);
    const node = new Node(admitted.transport, { ip: admitted.ip, heartbeatInterval: 0 });
    cleanups.push(() => node.destroy());
    await nextEvent(node, 'close', 2_000);
    expect(node.closed).toBe(true);
  });

  it('a session kicked as soon as it is admitted notices and comes back', async () => {
    const sw = switcher();
    let kicks = 0;
    sw.on('client', (c) => {
      if (kicks++ === 0) sw.kick(c.domain, 'at once');
    });
    const { s } = memorySession(sw, 'kicked');
    const lost = nextEvent<Error>(s, 'disconnect', 2_000);
    await nextEvent(s, 'ready', 2_000);
    expect(await lost).toBeInstanceOf(ConnectionClosedError);
    await nextEvent(s, 'ready', 2_000);
    expect(s.connections).toBe(2);
    // And it closes: before, close() waited forever for the lost close event.
    await s.close();
  });

  it('a dial and a ping that wait for the session wait on through a connection dropped at once', async () => {
    const sw = switcher();
    const { s: echo } = memorySession(sw, 'kick-echo');
    echo.listen(7).on('stream', (st: FlexStream) => st.destroy());
    await echo.ready({ timeout: 2_000 });
    let kicks = 0;
    sw.on('client', (c) => {
      if (c.domain === 'kick-waiter' && kicks++ < 2) sw.kick(c.domain, 'at once');
    });
    const { s } = memorySession(sw, 'kick-waiter');
    // Made while connecting: the first admission wakes them, and is gone by their turn. Before:
    // NotConnectedError ('session lost its connection'), though they were to wait within their
    // timeout for the next connection.
    const [stream, rtt] = await Promise.all([
      s.dial('kick-echo:7', { wait: true, timeout: 3_000 }),
      s.ping('', { wait: true, timeout: 3_000 }),
    ]);
    stream.destroy();
    expect(rtt).toBeGreaterThanOrEqual(0);
    expect(s.connections).toBe(3);
  });
});

describe('admit() and aborts', () => {
  it('admit() rejects an abort with AbortError, also a signal that fired before the call', async () => {
    const sw = switcher();
    for (const early of [true, false]) {
      const [a, b] = memoryPair();
      sw.handle(b);
      const ac = new AbortController();
      if (early) ac.abort();
      const p = admit(a, { password: PASSWORD, domain: `abort-${early}`, signal: ac.signal, timeout: 2_000 });
      if (!early) ac.abort();
      // Before: AbortError was a TimeoutError 'admission aborted', and an early abort went unseen.
      await expect(p).rejects.toBeInstanceOf(AbortError);
      expect(a.closed).toBe(true);
    }
  });
});

describe('admit() aborted while it seals the request', () => {
  it('sends nothing: the request of an abandoned attempt must not reach the switcher', async () => {
    const [a] = memoryPair();
    const sent = vi.spyOn(a, 'send');
    const ac = new AbortController();
    const p = admit(a, { password: PASSWORD, domain: 'sealing', signal: ac.signal, timeout: 2_000 });
    // Sealing awaits Web Crypto: the abort lands before the request is ready. Before, the request
    // went out anyway (a switcher could admit the abandoned connection), and only then did the
    // abort fail the admission.
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(AbortError);
    expect(sent).not.toHaveBeenCalled();
    expect(a.closed).toBe(true);
  });
});

describe('admit() aborted once the answer is in, while it is opened', () => {
  it('fails with AbortError: an aborted attempt must not become a connection', async () => {
    const [a, b] = memoryPair();
    cleanups.push(() => a.destroy());
    b.attach({
      data: () => {
        void sealResponse(PASSWORD, { errCode: 0, ip: 5 }).then((frame) => b.send([frame]));
      },
      drain: () => {},
      close: () => {},
    });
    const ac = new AbortController();
    // The abort lands right behind the answer, before admit() has opened it (Web Crypto).
    const attach = a.attach.bind(a);
    a.attach = (h) =>
      attach({
        data: (chunk) => {
          h.data(chunk);
          ac.abort();
        },
        drain: () => h.drain(),
        close: (err) => h.close(err),
      });
    const p = admit(a, { password: PASSWORD, domain: 'late', signal: ac.signal, timeout: 2_000 });
    // Before: the abort found the answer taken already and went unheard; admit() resolved, and a
    // session whose opener aborted then was connected anyway (its attempt "in flight" succeeded).
    await expect(p).rejects.toBeInstanceOf(AbortError);
    expect(a.closed).toBe(true);
  });
});

describe('connections dropped right after admission', () => {
  it('back off like failed attempts instead of reconnecting at once', async () => {
    const sw = switcher();
    // A switcher that drops the node every time, as soon as it is admitted.
    sw.on('client', (c) => sw.kick(c.domain, 'at once'));
    const { s } = memorySession(sw, 'dropped', { backoffInitial: 100, backoffMax: 400, backoffJitter: 0 });
    const states: string[] = [];
    s.on('disconnect', () => states.push(s.state));
    const t0 = performance.now();
    for (let i = 0; i < 4; i++) await nextEvent(s, 'disconnect', 3_000);
    // Before: four admissions and drops within a few ms (~200 a second over TCP with the
    // default 1 s back-off). Now: 100 + 200 + 400 ms of back-off between them.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(650);
    expect(states).toEqual(['backoff', 'backoff', 'backoff', 'backoff']);
    expect(s.connections).toBe(4);
  });
});

describe('back-off', () => {
  it('never waits longer than backoffMax, also when backoffInitial is longer', async () => {
    fakeTimers();
    const { session, attempts: at } = refusingSession({
      domain: 'capped',
      backoffInitial: 1_000,
      backoffMax: 100,
      backoffJitter: 0,
    });
    cleanups.push(() => session.close());
    await vi.advanceTimersByTimeAsync(350);
    // Before: the first wait was backoffInitial (1 s), ten times "the longest back-off delay".
    expect(at.map((t) => Math.round(t - at[0]!))).toEqual([0, 100, 200, 300]);
  });

  it('never retries at once, also with backoffJitter 1: a draw below a tenth of the delay is reflected above it', async () => {
    fakeTimers();
    // The lowest draw, the highest (a delay at the cap reflected below it, to 0), then the middle.
    const random = vi.spyOn(Math, 'random');
    random.mockReturnValueOnce(0).mockReturnValueOnce(0.999_999).mockReturnValue(0.5);
    cleanups.push(() => random.mockRestore());
    const { session, attempts: at } = refusingSession({
      domain: 'floored',
      backoffInitial: 100,
      backoffMax: 100,
      backoffJitter: 1,
    });
    cleanups.push(() => session.close());
    await vi.advanceTimersByTimeAsync(145);
    // Before: the first two retries came after 0 and 1 ms, at once.
    expect(at.map((t) => Math.round(t - at[0]!))).toEqual([0, 20, 40, 140]);
  });
});

describe('a session that closed itself', () => {
  it('rejects ready(), dial() and ping() with the failure that closed it as the cause', async () => {
    const refused = new ConfigError('no such scheme');
    const sw = switcher();
    const ac = new AbortController();
    const sessions = {
      config: new Session<FlexStream>({
        connector: async () => {
          throw refused;
        },
        makeNode: (t, o) => new BaseNode(t, o, (core) => new FS(core)),
        password: PASSWORD,
        domain: 'config',
      }),
      once: memorySession(sw, 'once', { password: 'wrong', reconnect: false }).s,
      aborted: memorySession(sw, 'aborted', { password: 'wrong', signal: ac.signal }).s,
    };
    cleanups.push(() => sessions.config.close());
    // Through refusals: the third's wrong password alone would end its wait, before the abort.
    const pending = Object.values(sessions).map((s) =>
      s.ready({ untilAdmitted: true }).catch((e: unknown) => e),
    );
    const disconnects = Object.values(sessions).map((s) => nextEvent<Error>(s, 'disconnect', 3_000));
    const closes = Object.values(sessions).map((s) => nextEvent(s, 'close', 3_000));
    // The third is refused once, then aborted while it backs off.
    await disconnects[2];
    ac.abort();
    const causes = await Promise.all(disconnects);
    expect(causes[0]).toBe(refused);
    expect(causes[1]).toBeInstanceOf(AdmissionError);
    await Promise.all(closes);
    for (const [i, s] of Object.values(sessions).entries()) {
      expect(s.state).toBe('closed');
      // docs/errors.md: the original failure is kept in err.cause. Before, every one of these
      // was a bare 'session closed', the reason only ever told to 'disconnect' listeners.
      for (const e of [
        await pending[i],
        await s.ready().catch((x: unknown) => x),
        await s.dial('x:1').catch((x: unknown) => x),
        await s.ping().catch((x: unknown) => x),
      ]) {
        expect(e).toBeInstanceOf(ConnectionClosedError);
        if (i < 2) expect((e as Error).cause).toBe(causes[i]);
        else expect((e as Error).cause).toBeInstanceOf(AbortError);
      }
    }
  });
});

describe("a failure after the opener's signal aborted", () => {
  it('a connection that lasted and then drops closes the session without another attempt', async () => {
    fakeTimers();
    const sw = switcher();
    const ac = new AbortController();
    const { s, calls } = memorySession(sw, 'lasted-aborted', {
      backoffInitial: 100,
      backoffJitter: 0,
      signal: ac.signal,
    });
    await new Promise((resolve) => s.once('ready', resolve));
    ac.abort();
    await vi.advanceTimersByTimeAsync(150); // longer than backoffInitial: the connection worked
    const disconnects: Error[] = [];
    s.on('disconnect', (e) => disconnects.push(e));
    const closed = nextEvent(s, 'close', 3_000);
    sw.kick('lasted-aborted', 'once');
    await closed;
    // Before: it reconnected at once, calling the connector with the aborted signal (a connector
    // that does not heed it opened a connection for nothing), and reported a second 'disconnect'
    // (AbortError) for that attempt.
    expect(calls.n).toBe(1);
    expect(disconnects).toHaveLength(1);
    expect(disconnects[0]).toBeInstanceOf(ConnectionClosedError);
    await expect(s.ready()).rejects.toMatchObject({ cause: expect.any(AbortError) });
  });

  it('"disconnect" finds the session closed, its final state, and no retry is logged', async () => {
    const sw = switcher();
    const ac = new AbortController();
    const logger = captureLogger();
    const { s } = memorySession(sw, 'aborted-then-lost', { signal: ac.signal, logger });
    await nextEvent(s, 'ready', 3_000);
    ac.abort();
    const states: string[] = [];
    s.on('state', (st) => states.push(st));
    const seen = new Promise<string>((resolve) => s.once('disconnect', () => resolve(s.state)));
    const closed = nextEvent(s, 'close', 3_000);
    sw.kick('aborted-then-lost', 'once');
    // Before: 'backoff' (or 'connecting'), as if it would reconnect, then 'closed' behind it.
    expect(await seen).toBe('closed');
    await closed;
    expect(states).toEqual(['closed']);
    // Before: a `retryIn` for an attempt that never came.
    expect(logger.find('session disconnected')[0]?.fields).not.toHaveProperty('retryIn');
  });

  it('an attempt that fails otherwise after the abort (a connector that does not heed it) closes the session first too', async () => {
    const ac = new AbortController();
    const logger = captureLogger();
    let fail!: () => void;
    const s = new Session<FlexStream>({
      connector: () =>
        new Promise<Transport>((_, reject) => {
          fail = () => reject(new ConnectionClosedError('no switcher here'));
        }),
      makeNode: (t, o) => new BaseNode(t, o, (core) => new FS(core)),
      password: PASSWORD,
      domain: 'unheeding',
      heartbeatInterval: 0,
      signal: ac.signal,
      logger,
    });
    cleanups.push(() => s.close());
    const seen = new Promise<string>((resolve) => s.once('disconnect', () => resolve(s.state)));
    ac.abort();
    fail();
    // Before: 'connecting', a back-off logged, and the session closed only when that began.
    expect(await seen).toBe('closed');
    expect(logger.find('session attempt failed')[0]?.fields).not.toHaveProperty('retryIn');
    await expect(s.ready()).rejects.toMatchObject({ cause: expect.any(AbortError) });
  });
});

describe('reconnect: false', () => {
  it('"disconnect" after a lost connection finds the session closed, its final state', async () => {
    const sw = switcher();
    const { s, calls } = memorySession(sw, 'no-retry', { reconnect: false });
    await new Promise((resolve) => s.once('ready', resolve));
    const states: string[] = [];
    s.on('state', (st) => states.push(st));
    const events: string[] = [];
    s.on('disconnect', () => events.push('disconnect'));
    s.on('close', () => events.push('close'));
    const seen = new Promise<string>((resolve) => s.once('disconnect', () => resolve(s.state)));
    const closed = nextEvent(s, 'close', 3_000);
    sw.kick('no-retry', 'once');
    // Before: 'ready', the session closed only after its 'disconnect' listeners had run.
    expect(await seen).toBe('closed');
    await closed;
    expect(states).toEqual(['closed']);
    // 'close' is still the last word.
    expect(events).toEqual(['disconnect', 'close']);
    expect(calls.n).toBe(1);
  });

  it('"disconnect" after a failed attempt finds the session closed too', async () => {
    const sw = switcher();
    const { s, calls } = memorySession(sw, 'no-retry-failed', { password: 'wrong', reconnect: false });
    const events: string[] = [];
    s.on('disconnect', () => events.push('disconnect'));
    s.on('close', () => events.push('close'));
    const seen = new Promise<string>((resolve) => s.once('disconnect', () => resolve(s.state)));
    const closed = nextEvent(s, 'close', 3_000);
    // Before: 'connecting'.
    expect(await seen).toBe('closed');
    await closed;
    expect(events).toEqual(['disconnect', 'close']);
    expect(calls.n).toBe(1);
  });
});

describe('close() called from an event handler', () => {
  it('from "disconnect" after a failed attempt: no further attempt, state stays closed', async () => {
    fakeTimers();
    const sw = switcher();
    const { s, calls } = memorySession(sw, 'intruder', { password: 'wrong' });
    const states: string[] = [];
    s.on('state', (st) => states.push(st));
    const err = await new Promise<Error>((resolve) =>
      s.once('disconnect', (e) => {
        void s.close();
        resolve(e);
      }),
    );
    expect(err).toBeInstanceOf(AdmissionError);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(s.state).toBe('closed');
    expect(calls.n).toBe(1);
    // 'backoff' before the listeners, as after a lost connection; nothing after 'closed'.
    expect(states).toEqual(['backoff', 'closed']);
  });

  it('from "state" when it goes to backoff: no further attempt', async () => {
    fakeTimers();
    const sw = switcher();
    const { s, calls } = memorySession(sw, 'intruder2', { password: 'wrong' });
    const closed = new Promise<void>((resolve) =>
      s.on('state', (st) => {
        if (st === 'backoff') void s.close().then(resolve);
      }),
    );
    await closed;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(s.state).toBe('closed');
    expect(calls.n).toBe(1);
  });

  it('from "state" when the next attempt begins: the connector is not called', async () => {
    fakeTimers();
    const { session: s, attempts } = refusingSession({ domain: 'intruder3', backoffInitial: 20 });
    cleanups.push(() => s.close());
    let backedOff = false;
    const closed = new Promise<void>((resolve) =>
      s.on('state', (st) => {
        if (st === 'backoff') backedOff = true;
        if (st === 'connecting' && backedOff) void s.close().then(resolve);
      }),
    );
    await vi.advanceTimersByTimeAsync(1_000);
    await closed;
    expect(s.state).toBe('closed');
    // Before: 2, the second with a signal aborted already (a connector that does not heed it
    // connects for nothing).
    expect(attempts).toHaveLength(1);
  });
});

describe('close() from a "state" handler as the session becomes ready', () => {
  it('no "ready" event follows the close, and the connection is closed', async () => {
    const sw = switcher();
    const { s } = memorySession(sw, 'stopper');
    const events: string[] = [];
    s.on('state', (st) => {
      events.push(st);
      if (st === 'ready') void s.close();
    });
    s.on('ready', () => events.push('ready event'));
    const waiting = s.ready().then(
      () => 'resolved',
      (e: { code?: string }) => e.code,
    );
    await nextEvent(s, 'close', 3_000);
    // Before: 'ready' was emitted on the closed session, after its 'closed' state.
    expect(events).toEqual(['ready', 'closed']);
    expect(await waiting).toBe('FLEX_ERR_CONNECTION_CLOSED');
    expect(s.node).toBeNull();
  });
});

describe('the connection dropped from a handler as the session becomes ready', () => {
  it('from a "state" handler: no "ready" event follows its "disconnect", and ready() waits for the next connection', async () => {
    const sw = switcher();
    const { s } = memorySession(sw, 'dropper');
    const events: string[] = [];
    s.on('state', (st) => {
      events.push(st);
      if (st === 'ready' && s.connections === 1) s.node?.destroy();
    });
    s.on('ready', () => events.push(`ready event (${s.state})`));
    s.on('disconnect', () => events.push('disconnect'));
    let resolvedIn = '';
    const waiting = s.ready({ timeout: 3_000 }).then(() => {
      resolvedIn = `${s.state}, connection ${s.connections}`;
    });
    await waiting;
    // Before: 'ready' came after the 'disconnect' of the dropped connection, the session backing
    // off, and ready() resolved then, with no connection to use.
    expect(events).toEqual(['ready', 'backoff', 'disconnect', 'connecting', 'ready', 'ready event (ready)']);
    expect(resolvedIn).toBe('ready, connection 2');
  });

  it('from a "ready" handler, ready() waits for the next connection too', async () => {
    const sw = switcher();
    const { s } = memorySession(sw, 'ready-dropper');
    s.on('ready', () => {
      if (s.connections === 1) s.node?.destroy();
    });
    let resolvedIn = '';
    await s.ready({ timeout: 3_000 }).then(() => {
      resolvedIn = `${s.state}, connection ${s.connections}`;
    });
    // Before: resolved right behind the 'ready' of the connection the handler dropped, the
    // session backing off.
    expect(resolvedIn).toBe('ready, connection 2');
  });
});

describe('close() and listen()', () => {
  it('a second close() resolves only once the session is closed', async () => {
    const sw = switcher();
    const { s } = memorySession(sw, 'twice');
    await s.ready({ timeout: 1_000 });
    let closed = false;
    s.on('close', () => {
      closed = true;
    });
    const first = s.close();
    await s.close();
    // Before: the second call returned at once, with the connection still closing.
    expect(closed).toBe(true);
    await first;
  });

  it('listen() checks its port like a node does', () => {
    const sw = switcher();
    const { s } = memorySession(sw, 'ports');
    for (const port of [-1, 65_536, 1.5, Number.NaN]) expect(() => s.listen(port)).toThrow(ConfigError);
    s.listen(65_535).close();
  });
});

describe('options', () => {
  it('a node factory that throws drops the admitted connection', async () => {
    const sw = switcher();
    const s = new Session<FlexStream>({
      connector: async () => {
        const [a, b] = memoryPair();
        sw.handle(b);
        return a as Transport;
      },
      makeNode: () => {
        throw new ConfigError('no node today');
      },
      password: PASSWORD,
      domain: 'factory',
      heartbeatInterval: 0,
    });
    cleanups.push(() => s.close());
    const left = nextEvent(sw, 'clientLeft', 2_000);
    expect(await nextEvent(s, 'disconnect', 2_000)).toBeInstanceOf(ConfigError);
    await left;
    expect(s.state).toBe('closed');
    expect(sw.stats().clients).toBe(0);
  });

  // Session took four positional arguments (connector, options, makeNode, bounds); it takes one
  // object now. A JavaScript caller still passing the old form hears so at once, as a ConfigError.
  it('refuses a connector or makeNode that is not a function, and the old positional form', () => {
    const connector = () => Promise.reject(new Error('not reached'));
    const makeNode = (t: Transport, o: NodeOptions) => new BaseNode(t, o, (core) => new FS(core));
    const base = { password: PASSWORD, domain: 'init', connector, makeNode };
    for (const [init, message] of [
      [{ ...base, connector: undefined }, /option connector must be a function/],
      [{ ...base, makeNode: 'node' }, /option makeNode must be a function/],
      [{ ...base, timeout: 0 }, /option timeout /],
      [{ ...base, signal: {} }, /option signal must be an AbortSignal/],
    ] as const) {
      expect(() => new Session(init as never)).toThrow(ConfigError);
      expect(() => new Session(init as never)).toThrow(message);
    }
    // No object at all: a ConfigError too, worded as every other call's (checkOptions), not a
    // TypeError from destructuring it.
    const untyped = Session as unknown as new (...args: unknown[]) => unknown;
    for (const [init, shown] of [
      [undefined, 'undefined'],
      [null, 'null'],
      ['init', '"init" (a string)'],
    ]) {
      expect(() => new untyped(init)).toThrow(ConfigError);
      expect(() => new untyped(init)).toThrow(`session options must be an object, got ${shown}`);
    }
    const positional = untyped;
    expect(() => new positional(connector, { password: PASSWORD, domain: 'init' }, makeNode)).toThrow(
      /option connector must be a function/,
    );
  });

  it('hands makeNode the session’s options, without connector, makeNode, signal and timeout', async () => {
    const sw = switcher();
    let seen: Record<string, unknown> | undefined;
    const s = new Session<FlexStream>({
      connector: async () => {
        const [a, b] = memoryPair();
        sw.handle(b);
        return a as Transport;
      },
      makeNode: (t, o) => {
        seen = { ...o };
        return new BaseNode(t, o, (core) => new FS(core));
      },
      password: PASSWORD,
      domain: 'handed',
      heartbeatInterval: 0,
      signal: new AbortController().signal,
      timeout: 5_000,
    });
    cleanups.push(() => s.close());
    await s.ready({ timeout: 5_000 });
    expect(seen).toMatchObject({ domain: 'handed', heartbeatInterval: 0 });
    expect(seen?.ip).toBe(s.ip);
    for (const k of ['connector', 'makeNode', 'signal', 'timeout', 'password'])
      expect(seen).not.toHaveProperty(k);
  });

  it('a bad node option throws at construction, before any connection is made', () => {
    const sw = switcher();
    let calls = 0;
    const make = (extra: Partial<SessionOptions>) =>
      new Session<FlexStream>({
        connector: async () => {
          calls++;
          const [a, b] = memoryPair();
          sw.handle(b);
          return a as Transport;
        },
        makeNode: (t, o) => new BaseNode(t, o, (core) => new FS(core)),
        password: PASSWORD,
        domain: 'bad',
        ...extra,
      });
    expect(() => make({ window: -1 })).toThrow(ConfigError);
    expect(() => make({ heartbeatTimeout: 0 })).toThrow(ConfigError);
    expect(() => make({ backoffInitial: 0 })).toThrow(ConfigError);
    expect(() => make({ backoffJitter: 2 })).toThrow(ConfigError);
    expect(() => make({ admissionTimeout: -1 })).toThrow(ConfigError);
    expect(() => connect('tcp://127.0.0.1:1', { password: PASSWORD, domain: 'bad', maxStreams: 0 })).toThrow(
      ConfigError,
    );
    // 0 ms would fail every attempt at once, and the session would retry it for ever.
    expect(() =>
      connect('tcp://127.0.0.1:1', { password: PASSWORD, domain: 'bad', connectTimeout: 0 }),
    ).toThrow(ConfigError);
    expect(() =>
      browserConnect('ws://127.0.0.1:1/flex/ws', { password: PASSWORD, domain: 'bad', connectTimeout: 0 }),
    ).toThrow(ConfigError);
    expect(calls).toBe(0);
  });
});

describe('the domain', () => {
  it('one that no switcher admits (PROTOCOL.md 2.8) throws at construction instead of being refused for ever', () => {
    const sw = switcher();
    let calls = 0;
    const make = (domain: string) =>
      new Session<FlexStream>({
        connector: async () => {
          calls++;
          const [a, b] = memoryPair();
          sw.handle(b);
          return a as Transport;
        },
        makeNode: (t, o) => new BaseNode(t, o, (core) => new FS(core)),
        password: PASSWORD,
        domain,
        heartbeatInterval: 0,
      });
    // Before, each was sent, refused (ErrCode -1, reason unknown to the node) and retried with
    // back-off for as long as the session lived.
    for (const bad of ['', '   ', 'a.b', 'local', 'LocalHost', '-x', 'x_', 'x'.repeat(64), 'ü']) {
      expect(() => make(bad), JSON.stringify(bad)).toThrow(ConfigError);
      expect(() => connect('tcp://127.0.0.1:1', { password: PASSWORD, domain: bad }), bad).toThrow(
        ConfigError,
      );
    }
    expect(calls).toBe(0);
    // What the switcher normalises into a valid name is fine.
    for (const good of [' Alice ', 'UPPER_ok', 'x'.repeat(63), '0']) {
      const s = make(good);
      cleanups.push(() => s.close());
    }
    expect(calls).toBe(4);
  });
});

describe('waiting for the session', () => {
  it('a dial or ping waiting for a session that cannot connect fails within its timeout', async () => {
    fakeTimers();
    const sw = switcher();
    const { s } = memorySession(sw, 'never', {
      password: 'wrong',
      waitForReady: true,
      dialTimeout: 300,
      pingTimeout: 200,
    });
    const outcome = (p: Promise<unknown>) =>
      p.then(
        () => 'resolved',
        (e: { code?: string }) => e.code,
      );
    const dial = outcome(s.dial('x:1'));
    const ping = outcome(s.ping());
    const explicit = outcome(s.dial('x:1', { timeout: 100 }));
    let settled = 0;
    for (const p of [dial, ping, explicit]) void p.then(() => settled++);
    await vi.advanceTimersByTimeAsync(150);
    expect(settled).toBe(1);
    await vi.advanceTimersByTimeAsync(200);
    // Before: the dial and the ping waited for as long as admission kept failing.
    expect(settled).toBe(3);
    expect(await Promise.all([dial, ping, explicit])).toEqual([
      'FLEX_ERR_TIMEOUT',
      'FLEX_ERR_TIMEOUT',
      'FLEX_ERR_TIMEOUT',
    ]);
  });

  it('a dial or ping with a bad address or option fails with ConfigError at once, not after the wait', {
    timeout: 5_000,
  }, async () => {
    const sw = switcher();
    // Never admitted: before, a waiting dial to a bad address waited its whole timeout and failed
    // with TimeoutError (or, once connected, only then with ConfigError); one that did not wait
    // failed with NotConnectedError, as if the address had been fine.
    const { s } = memorySession(sw, 'bad-args', { password: 'wrong' });
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'resolved',
        (e: { code?: string }) => e.code,
      );
    expect(
      await Promise.all([
        code(s.dial('no-port', { wait: true, timeout: 500 })),
        code(s.dial({ domain: 'x', port: 70_000 }, { wait: true, timeout: 500 })),
        code(s.dial('x:1', { wait: true, timeout: 500, window: -1 })),
        code(s.dial('no-port')),
        code(s.dial('x:1', { timeout: 0 })),
        code(s.ping('', { timeout: 0 })),
        // Before: read for its truth, 'false' waited out the whole timeout (TimeoutError).
        code(s.dial('x:1', { wait: 'false' as unknown as boolean, timeout: 500 })),
        code(s.ping('', { wait: 1 as unknown as boolean, timeout: 500 })),
      ]),
    ).toEqual(Array(8).fill('FLEX_ERR_CONFIG'));
  });

  it('a ping of a domain too long to send fails with ConfigError at once, not after the wait', {
    timeout: 5_000,
  }, async () => {
    const sw = switcher();
    const { s } = memorySession(sw, 'long-ping', { password: 'wrong' });
    const long = 'x'.repeat(70_000);
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'resolved',
        (e: { code?: string }) => e.code,
      );
    // Before: a waiting one waited its whole timeout (TimeoutError), and one that did not wait
    // failed with NotConnectedError, as if the domain had been fine; the node refuses it at once.
    expect(
      await Promise.all([
        code(s.ping(long, { wait: true, timeout: 2_000 })),
        code(s.ping(long, { wait: true, waitForTarget: true, timeout: 2_000 })),
        code(s.ping(long)),
      ]),
    ).toEqual(Array(3).fill('FLEX_ERR_CONFIG'));
  });

  it('an already aborted signal rejects a waiting dial, ping or ready at once', {
    timeout: 5_000,
  }, async () => {
    const sw = switcher();
    const { s } = memorySession(sw, 'waiter', { password: 'wrong' });
    const ac = new AbortController();
    ac.abort();
    await expect(s.ready({ signal: ac.signal })).rejects.toBeInstanceOf(AbortError);
    await expect(s.dial('x:1', { wait: true, signal: ac.signal })).rejects.toBeInstanceOf(AbortError);
    await expect(s.ping('', { wait: true, signal: ac.signal })).rejects.toBeInstanceOf(AbortError);
  });

  it("a dozen dials, pings and ready()s waiting with one caller's signal share one listener on it", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w);
    };
    process.on('warning', onWarning);
    cleanups.push(() => process.off('warning', onWarning));
    const sw = switcher();
    const { s } = memorySession(sw, 'shared-waits', { password: 'wrong' });
    const caller = new AbortController();
    const signal = caller.signal;
    // Made while the session cannot get in: all wait for it at once (e.g. a dozen forwarded
    // connections that arrive while it reconnects, under one shutdown signal).
    const waits = Array.from({ length: 12 }, (_, i) =>
      (i % 3 === 0
        ? s.dial('x:1', { wait: true, signal })
        : i % 3 === 1
          ? s.ping('', { wait: true, signal })
          : s.ready({ signal })
      ).catch((e: unknown) => e),
    );
    // Before: a listener per wait, and Node.js warned of a leak past ten.
    expect(getEventListeners(signal, 'abort')).toHaveLength(1);
    caller.abort();
    for (const err of await Promise.all(waits)) expect(err).toBeInstanceOf(AbortError);
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });
});

describe('the connection closed gracefully by its owner (session.node.close())', () => {
  it('a dial and a ping that wait for the session, made while it closes, wait for the next connection', async () => {
    const sw = switcher();
    const server = memorySession(sw, 'g-server');
    // Its streams are never ended: the client's graceful close waits for them (closeAckTimeout).
    server.s.listen(7);
    await server.s.ready({ timeout: 2_000 });
    const client = memorySession(sw, 'g-client', { closeAckTimeout: 300 });
    await client.s.ready({ timeout: 2_000 });
    const held = await client.s.dial('g-server:7', { timeout: 2_000 });
    const first = client.s.node;
    const closed = first?.close();
    // The session stays 'ready' until that close is done.
    expect(client.s.state).toBe('ready');
    // Before: NotConnectedError ('node is closed') from the closing node, although they were to
    // wait within their timeout for the next connection, as through a connection dropped at once.
    const [stream, rtt] = await Promise.all([
      client.s.dial('g-server:7', { wait: true, timeout: 3_000 }),
      client.s.ping('', { wait: true, timeout: 3_000 }),
      client.s.ready({ timeout: 3_000 }),
    ]);
    await closed;
    stream.destroy();
    held.destroy();
    expect(client.s.node).not.toBe(first);
    expect(rtt).toBeGreaterThanOrEqual(0);
    expect(client.s.connections).toBe(2);
  });
});

describe('event order on a lost connection', () => {
  it('"disconnect" finds the session connecting, and a waiting dial made there waits for the next connection', async () => {
    const sw = switcher();
    const server = memorySession(sw, 'server');
    server.s.listen(7).on('stream', (st: FlexStream) => st.end());
    await server.s.ready({ timeout: 1_000 });
    let current: Transport | null = null;
    const client = new Session<FlexStream>({
      connector: async () => {
        const [a, b] = memoryPair();
        sw.handle(b);
        current = a;
        return a as Transport;
      },
      makeNode: (t, o) => new BaseNode(t, o, (core) => new FS(core)),
      password: PASSWORD,
      domain: 'client',
      backoffInitial: 20,
      heartbeatInterval: 0,
      waitForReady: true,
    });
    cleanups.push(() => client.close());
    await client.ready({ timeout: 2_000 });
    const seen = new Promise<{ state: string; dial: Promise<FlexStream> }>((resolve) =>
      client.once('disconnect', () =>
        resolve({ state: client.state, dial: client.dial('server:7', { timeout: 2_000 }) }),
      ),
    );
    (current as unknown as Transport).destroy();
    const { state, dial } = await seen;
    expect(state).not.toBe('ready');
    const st = await dial;
    st.destroy();
    expect(client.connections).toBe(2);
  });
});

describe('heartbeat', () => {
  it('finds a dark link although the application keeps writing to it', async () => {
    fakeTimers();
    const [ta, tb] = memoryPair();
    const hb = { heartbeatInterval: 200, heartbeatTimeout: 200 };
    const a = new Node(ta, { ip: 1, domain: 'a', ...hb });
    const b = new Node(tb, { ip: 2, domain: 'b', heartbeatInterval: 0 });
    a.on('error', () => {});
    b.on('error', () => {});
    cleanups.push(
      () => a.destroy(),
      () => b.destroy(),
    );
    await a.ping('', { timeout: 100 });
    // The application's own health check: a ping every 100 ms, each written to the dark path.
    const poll = setInterval(() => a.ping('', { timeout: 100 }).catch(() => {}), 100);
    cleanups.push(() => clearInterval(poll));
    (ta as MemoryTransport).blackhole();
    // interval + timeout + the quarter-interval check granularity.
    await vi.advanceTimersByTimeAsync(200 + 200 + 50 + 10);
    expect(a.closed).toBe(true);
  });

  it('an event loop stalled while the ping is out does not kill a live connection', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    const sa = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    await new Promise((resolve) => sa.once('connect', resolve));
    const sb = await accepted;
    const a = new Node(tcpTransport(sa), {
      ip: 1,
      domain: 'a',
      heartbeatInterval: 200,
      heartbeatTimeout: 200,
    });
    const b = new Node(tcpTransport(sb), { ip: 2, domain: 'b', heartbeatInterval: 0 });
    a.on('error', () => {});
    b.on('error', () => {});
    cleanups.push(
      () => a.destroy(),
      () => b.destroy(),
    );
    const closes: string[] = [];
    a.on('close', (e) => closes.push(e?.message ?? 'clean'));
    // Right after b answered the heartbeat ping (its answer is on its way to a), a's event loop
    // stalls longer than heartbeatTimeout, as a long synchronous job would make it.
    const bb = b as unknown as { onPing(f: unknown): void };
    const answer = bb.onPing.bind(b);
    await new Promise<void>((resolve) => {
      bb.onPing = (f) => {
        answer(f);
        bb.onPing = answer;
        setImmediate(() => {
          const t = Date.now();
          while (Date.now() - t < 500) {
            // stalled
          }
          resolve();
        });
      };
    });
    // Give the timers that expired during the stall their turn, then check the link still works.
    expect(await a.ping('', { timeout: 1_000 })).toBeGreaterThanOrEqual(0);
    expect(closes).toEqual([]);
    expect(a.closed).toBe(false);
  });
});

describe('a wall-clock step back', () => {
  // An NTP step or a VM resumed from a snapshot sets Date.now() back; the monotonic clock
  // (performance, util/timers now()) runs on. Spans measured with the wall clock went negative.

  it('does not lengthen the time left to a dial that waited for the session', async () => {
    fakeTimers();
    // A switcher that admits when told to, then answers nothing: the dial can only time out.
    const response = await sealResponse(PASSWORD, { errCode: 0, ip: 5 });
    let admitNow: (() => void) | null = null;
    let requested: () => void = () => {};
    const asked = new Promise<void>((resolve) => {
      requested = resolve;
    });
    const s = new Session<FlexStream>({
      connector: async () => {
        const [a, b] = memoryPair();
        b.attach({
          data: () => {
            if (admitNow) return;
            admitNow = () => b.send([response]);
            requested();
          },
          drain: () => {},
          close: () => {},
        });
        return a as Transport;
      },
      makeNode: (t, o) => new BaseNode(t, o, (core) => new FS(core)),
      password: PASSWORD,
      domain: 'stepped',
      heartbeatInterval: 0,
      reconnect: false,
    });
    cleanups.push(() => s.close());
    let code: string | undefined;
    const dial = s.dial('x:1', { wait: true, timeout: 300 }).then(
      (st) => st.destroy(),
      (e: { code?: string }) => {
        code = e.code;
      },
    );
    await asked;
    await vi.advanceTimersByTimeAsync(100);
    vi.setSystemTime(Date.now() - 3_600_000);
    const ready = new Promise((resolve) => s.once('ready', resolve));
    (admitNow as unknown as () => void)();
    await ready;
    // 350 ms after the dial. Before: by the wall clock it had waited -1 h, so it got another hour.
    await vi.advanceTimersByTimeAsync(250);
    expect(code).toBe('FLEX_ERR_DIAL_TIMEOUT');
    await dial;
  });

  it('does not make a connection that lasted look like one that failed at once', async () => {
    fakeTimers();
    const sw = switcher();
    // Reconnecting at once after a connection that lasted (the spread before it has its own tests).
    const { s } = memorySession(sw, 'lasted', { backoffInitial: 100, backoffJitter: 0, reconnectSpread: 0 });
    await new Promise((resolve) => s.once('ready', resolve));
    await vi.advanceTimersByTimeAsync(150); // longer than backoffInitial
    vi.setSystemTime(Date.now() - 3_600_000);
    const state = new Promise<string>((resolve) => s.once('disconnect', () => resolve(s.state)));
    sw.kick('lasted', 'once');
    // Before: 150 ms less an hour was less than backoffInitial, so it backed off.
    expect(await state).toBe('connecting');
  });
});

describe('what a session that cannot get in tells its caller', () => {
  it('a ready() that times out names the last attempt failure, as message and cause', async () => {
    const sw = switcher();
    const { s } = memorySession(sw, 'wrongpw', {
      password: 'wrong',
      backoffInitial: 10_000,
      backoffMax: 10_000,
    });
    const failed = nextEvent<Error>(s, 'disconnect', 3_000);
    // Through refusals: without untilAdmitted, the wrong password ends the wait at once.
    const err = (await s.ready({ timeout: 1_000, untilAdmitted: true }).catch((e: unknown) => e)) as Error;
    const cause = await failed;
    expect(cause).toBeInstanceOf(AdmissionError);
    // Before: a bare 'session not ready in time', the wrong password only told to 'disconnect';
    // then without how long it waited.
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err.message).toBe(`session not ready after 1000 ms; last attempt: ${cause.message}`);
    expect(err.cause).toBe(cause);
  });

  it('a session that closed itself says why in the message, not only in the cause', async () => {
    const sw = switcher();
    const { s } = memorySession(sw, 'wrongonce', { password: 'wrong', reconnect: false });
    const err = (await s.ready().catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect(err.cause).toBeInstanceOf(AdmissionError);
    // Before: 'session closed', and console.error(err.message) hid the wrong password.
    expect(err.message).toBe(`session closed: ${(err.cause as Error).message}`);
  });
});

describe('the log line of a failed attempt', () => {
  it('says when the next attempt comes, and none when no retry follows', async () => {
    const sw = switcher();
    const logger = captureLogger();
    const { s } = memorySession(sw, 'retrylog', {
      password: 'wrong',
      backoffInitial: 10_000,
      backoffMax: 40_000,
      backoffJitter: 0,
      logger,
    });
    await nextEvent(s, 'disconnect', 3_000);
    // Before: 'session attempt failed' alone, an operator left to guess whether and when it retries.
    expect(logger.find('session attempt failed')[0]?.fields).toMatchObject({
      code: 'FLEX_ERR_ADMISSION_REJECTED',
      retryIn: 10_000,
    });
    const once = memorySession(sw, 'retrylog-once', { password: 'wrong', reconnect: false, logger }).s;
    await nextEvent(once, 'close', 3_000);
    const last = logger.find('session attempt failed').at(-1);
    expect(last?.fields).not.toHaveProperty('retryIn');
  });
});

describe('the log line of a lost connection', () => {
  it('says when the next attempt comes: at once after one that lasted, the back-off after one that did not', async () => {
    fakeTimers();
    const sw = switcher();
    const logger = captureLogger();
    const { s } = memorySession(sw, 'lostlog', {
      backoffInitial: 1_000,
      backoffMax: 30_000,
      backoffJitter: 0,
      // At once after a connection that lasted (the spread before it: reconnect-spread.test.ts).
      reconnectSpread: 0,
      logger,
    });
    await nextEvent(s, 'ready', 3_000);
    await vi.advanceTimersByTimeAsync(1_500); // longer than backoffInitial: it worked
    const lost = (): Promise<unknown> => nextEvent(s, 'disconnect', 3_000);
    let disconnected = lost();
    sw.kick('lostlog', 'restart 1');
    await disconnected;
    const lines = (): Record<string, unknown>[] => logger.find('session disconnected').map((l) => l.fields);
    expect(lines()[0]).toMatchObject({ retryIn: 0, lasted: 1_500 });
    // Readmitted at once; dropped again within backoffInitial of that, as by a second restart
    // right after the first: the back-off, said in the line.
    await nextEvent(s, 'ready', 3_000);
    disconnected = lost();
    sw.kick('lostlog', 'restart 2');
    await disconnected;
    expect(s.state).toBe('backoff');
    // Before: 'session disconnected' with no word of the wait, then silence for the back-off.
    expect(lines()[1]).toMatchObject({ retryIn: 1_000, lasted: 0 });
    await vi.advanceTimersByTimeAsync(1_000);
    await nextEvent(s, 'ready', 3_000);
    disconnected = lost();
    sw.kick('lostlog', 'restart 3');
    await disconnected;
    expect(lines()[2]).toMatchObject({ retryIn: 2_000, lasted: 0 });
  });
});

describe('the back-off after a connection dropped right after its admission', () => {
  it('starts from backoffInitial, not from the failures before that admission', async () => {
    fakeTimers();
    const sw = switcher();
    const logger = captureLogger();
    let down = true;
    const s = new Session<FlexStream>({
      connector: async () => {
        // The switcher is down, then up: connection refused until it is.
        if (down) throw new ConnectionClosedError('connect ECONNREFUSED');
        const [a, b] = memoryPair();
        sw.handle(b);
        return a as Transport;
      },
      makeNode: (t, o) => new BaseNode(t, o, (core) => new FS(core)),
      password: PASSWORD,
      domain: 'outage',
      backoffInitial: 1_000,
      backoffMax: 8_000,
      backoffJitter: 0,
      reconnectSpread: 0,
      heartbeatInterval: 0,
      logger,
    });
    cleanups.push(() => s.close());
    s.on('disconnect', () => {});
    // A long outage: attempts 1, 2, 4, 8 and 8 s apart, the back-off at backoffMax.
    await vi.advanceTimersByTimeAsync(1_000 + 2_000 + 4_000 + 8_000);
    expect(logger.find('session attempt failed').map((l) => l.fields.retryIn)).toEqual([
      1_000, 2_000, 4_000, 8_000, 8_000,
    ]);
    down = false;
    const ready = nextEvent(s, 'ready', 60_000);
    await vi.advanceTimersByTimeAsync(8_000);
    await ready;
    const retryIns = (): unknown[] => logger.find('session disconnected').map((l) => l.fields.retryIn);
    /** The switcher drops the node (restarts, say); resolves once the session heard of it. */
    const restart = async (): Promise<void> => {
      const lost = nextEvent(s, 'disconnect', 60_000);
      sw.kick('outage', 'restart');
      await lost;
    };
    /** Lets the back-off run out and the session get back in. */
    const backIn = async (wait: number): Promise<void> => {
      const back = nextEvent(s, 'ready', 60_000);
      await vi.advanceTimersByTimeAsync(wait);
      await back;
    };
    // The switcher restarts again right after the node got back in.
    await restart();
    // Before: 8,000, the back-off of the outage, though the switcher was up again at once.
    expect(retryIns()).toEqual([1_000]);
    // Dropped at once again and again: the back-off still grows, no storm.
    await backIn(1_000);
    await restart();
    await backIn(2_000);
    await restart();
    expect(retryIns()).toEqual([1_000, 2_000, 4_000]);
    // One that lasts starts it over.
    await backIn(4_000);
    await vi.advanceTimersByTimeAsync(1_500);
    await restart();
    expect(retryIns()[3]).toBe(0);
    await nextEvent(s, 'ready', 60_000);
    await restart();
    expect(retryIns()[4]).toBe(1_000);
  });
});

describe('a dial or ping before the session is ready', () => {
  it('fails with a message that says what to do', async () => {
    const sw = switcher();
    const { s } = memorySession(sw, 'early-dialer');
    // Dialled at once after connect(), as a new user does. Before: 'session is connecting'.
    const err = (await s.dial('x:1').catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(NotConnectedError);
    expect(err.message).toBe(
      'not connected: the session is connecting (await session.ready() first, or pass { wait: true })',
    );
    const ping = (await s.ping().catch((e: unknown) => e)) as Error;
    expect(ping.message).toBe(err.message);
    await s.ready();
  });
});
