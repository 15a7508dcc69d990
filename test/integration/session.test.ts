import { getEventListeners } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/connect.js';
import {
  AbortError,
  AdmissionError,
  BaseNode,
  type FlexStream,
  FlexStream as FS,
  Session,
  type SessionOptions,
  TimeoutError,
} from '../../src/index.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { listenTcp, listenWs } from '../../src/switcher-node.js';
import { memoryPair } from '../../src/transport/memory.js';
import type { Transport } from '../../src/transport/types.js';
import { dependants } from '../helpers/dependants.js';
import { memorySessionTo } from '../helpers/sessions.js';
import { once, pattern, readAll, sha256, writeAll } from '../helpers/streams.js';

const PASSWORD = 'session-test';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function switcher(): Switcher {
  const sw = new Switcher({ password: PASSWORD });
  cleanups.push(() => sw.close({ timeout: 1_000 }));
  return sw;
}

/** A session whose connections are in-memory pairs handed to `sw`. */
function memorySession(sw: Switcher, domain: string, extra: Partial<SessionOptions> = {}) {
  const s = memorySessionTo(sw, {
    password: PASSWORD,
    domain,
    backoffInitial: 20,
    heartbeatInterval: 0,
    ...extra,
  });
  cleanups.push(() => s.close());
  return s;
}

function serveEcho(s: Session<FlexStream>, port: number): void {
  s.listen(port).on('stream', (st: FlexStream) => {
    pipeline(st, st).catch(() => {});
  });
}

async function roundTrip(s: Session<FlexStream>, addr: string, size: number): Promise<void> {
  const st = await s.dial(addr);
  const data = pattern(size, size);
  const got = readAll(st);
  await writeAll(st, data);
  expect(sha256(await got)).toBe(sha256(data));
}

describe('sessions through a switcher', () => {
  for (const [name, urls, extra] of [
    ['tcp', ['tcp', 'tcp'], {}],
    ['ws', ['ws', 'ws'], {}],
    ['mixed', ['tcp', 'ws'], {}],
    // The switcher's WebSocket listener takes frames whose masking key is all zeros.
    ['ws with all-zero masking keys (wsZeroMask)', ['ws', 'ws'], { wsZeroMask: true }],
  ] as const) {
    it(`node -> switcher -> node over ${name}, by domain and by IP`, async () => {
      const sw = switcher();
      const tcp = await listenTcp(sw, { host: '127.0.0.1', port: 0 });
      const ws = await listenWs(sw, { host: '127.0.0.1', port: 0 });
      const url = (k: 'tcp' | 'ws'): string =>
        k === 'tcp' ? `tcp://127.0.0.1:${tcp.address.port}` : `ws://127.0.0.1:${ws.address.port}/flex/ws`;
      const echo = connect(url(urls[0]), { password: PASSWORD, domain: 'echo', ...extra });
      const client = connect(url(urls[1]), { password: PASSWORD, domain: 'client', ...extra });
      cleanups.push(
        () => echo.close(),
        () => client.close(),
      );
      serveEcho(echo, 7);
      await Promise.all([echo.ready({ timeout: 5_000 }), client.ready({ timeout: 5_000 })]);
      await roundTrip(client, 'echo:7', 1024 * 1024);
      expect(sw.stats().dropped).toBe(0);
      await roundTrip(client, `${echo.ip}:7`, 100_000);
      const st = await client.dial('echo:7');
      expect(st.remoteDomain).toBe('echo');
      st.destroy();
      expect(await client.ping('echo')).toBeGreaterThanOrEqual(0);
      expect(await client.ping()).toBeGreaterThanOrEqual(0);
      await expect(client.dial('nobody:7')).rejects.toMatchObject({ reason: 'unknown-domain' });
    });
  }

  it('fails dials while disconnected, or waits when asked', async () => {
    const sw = switcher();
    const s = memorySession(sw, 'early');
    await expect(s.dial('x:1')).rejects.toMatchObject({ code: 'FLEX_ERR_NOT_CONNECTED' });
    const echo = memorySession(sw, 'echo2');
    serveEcho(echo, 7);
    await echo.ready({ timeout: 5_000 });
    const st = await s.dial('echo2:7', { wait: true, timeout: 5_000 });
    st.destroy();
  });

  it('reports a wrong password as AdmissionError and keeps retrying', async () => {
    const sw = switcher();
    const s = memorySession(sw, 'intruder', { password: 'wrong' });
    const err = await once<Error>(s, 'disconnect');
    expect(err).toBeInstanceOf(AdmissionError);
    await once(s, 'disconnect');
    expect(s.state).not.toBe('ready');
  });

  it('reconnects after the switcher restarts, with its listeners back', async () => {
    let sw = switcher();
    const l = await listenTcp(sw, { host: '127.0.0.1', port: 0 });
    const port = l.address.port;
    const url = `tcp://127.0.0.1:${port}`;
    const echo = connect(url, { password: PASSWORD, domain: 'echo', backoffInitial: 20, backoffMax: 200 });
    const client = connect(url, {
      password: PASSWORD,
      domain: 'client',
      backoffInitial: 20,
      backoffMax: 200,
    });
    cleanups.push(
      () => echo.close(),
      () => client.close(),
    );
    serveEcho(echo, 7);
    await Promise.all([echo.ready({ timeout: 5_000 }), client.ready({ timeout: 5_000 })]);
    await roundTrip(client, 'echo:7', 1000);
    const lost = Promise.all([once(echo, 'disconnect'), once(client, 'disconnect')]);
    await sw.close({ timeout: 1_000 });
    await lost;
    sw = switcher();
    await listenTcp(sw, { host: '127.0.0.1', port });
    await Promise.all([once(echo, 'ready', 10_000), once(client, 'ready', 10_000)]);
    await roundTrip(client, 'echo:7', 1000);
    expect(echo.connections).toBe(2);
  });

  it('carries 100 nodes x 10 streams through one switcher', async () => {
    const sw = switcher();
    const sessions = Array.from({ length: 100 }, (_, i) => memorySession(sw, `n${i}`));
    for (const s of sessions) serveEcho(s, 7);
    await Promise.all(sessions.map((s) => s.ready({ timeout: 10_000 })));
    await Promise.all(
      sessions.map((s, i) =>
        Promise.all(Array.from({ length: 10 }, (_, k) => roundTrip(s, `n${(i + k + 1) % 100}:7`, 4096 + k))),
      ),
    );
    expect(sw.stats().clients).toBe(100);
  });
});

describe('a session’s attempt bounds (the browser connect()’s ws.signal)', () => {
  it('an admitted attempt leaves no listener on the opener’s signal, and a later abort changes nothing', async () => {
    const sw = switcher();
    const ac = new AbortController();
    let during = -1;
    const s = new Session<FlexStream>({
      connector: async (signal) => {
        during = getEventListeners(ac.signal, 'abort').length;
        expect(signal).not.toBe(ac.signal);
        const [a, b] = memoryPair();
        sw.handle(b);
        return a as Transport;
      },
      makeNode: (t, o) => new BaseNode(t, o, (core) => new FS(core)),
      password: PASSWORD,
      domain: 'bounded',
      heartbeatInterval: 0,
      signal: ac.signal,
      timeout: 5_000,
    });
    cleanups.push(() => s.close());
    await s.ready({ timeout: 5_000 });
    expect(during).toBe(1); // the attempt listened while it ran
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    expect(dependants(ac.signal)).toBe(0);
    ac.abort();
    expect(s.state).toBe('ready');
  });

  // Each attempt linked the opener's long-lived signal with AbortSignal.any, which Node 20 keeps
  // for as long as its source lives: a session that retried for days collected one per attempt.
  it('many failed attempts leave the opener’s signal as they found it, and its abort still reaches the one in flight', async () => {
    const ac = new AbortController();
    const start = getEventListeners(ac.signal, 'abort').length;
    const counts: number[] = [];
    let inFlight: AbortSignal | undefined;
    const reason = new Error('opener gone');
    const s = new Session<FlexStream>({
      connector: (signal) => {
        counts.push(getEventListeners(ac.signal, 'abort').length);
        if (counts.length < 50) return Promise.reject(new Error('no switcher here'));
        inFlight = signal;
        return new Promise<Transport>((_, reject) =>
          signal.addEventListener(
            'abort',
            () => reject(new AbortError(undefined, { cause: signal.reason })),
            {
              once: true,
            },
          ),
        );
      },
      makeNode: (t, o) => new BaseNode(t, o, (core) => new FS(core)),
      password: PASSWORD,
      domain: 'retrying',
      heartbeatInterval: 0,
      backoffInitial: 1,
      backoffMax: 1,
      signal: ac.signal,
    });
    cleanups.push(() => s.close());
    await expect.poll(() => inFlight, { timeout: 10_000 }).toBeDefined();
    // One listener per attempt in flight, the 50th as the first: none left behind by the others.
    expect(new Set(counts)).toEqual(new Set([start + 1]));
    expect(dependants(ac.signal)).toBe(0);
    const closed = new Promise<void>((r) => s.once('close', () => r()));
    ac.abort(reason);
    expect(inFlight?.aborted).toBe(true);
    expect(inFlight?.reason).toBe(reason);
    await closed;
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(start);
  });

  it('an attempt whose time ran out in the dial fails with TimeoutError and sends no admission request', async () => {
    const sw = switcher();
    let sent = 0;
    let destroyed = 0;
    const s = new Session<FlexStream>({
      connector: async () => {
        // A dial that took longer than the attempt may (a connector that does not bound it).
        await new Promise((r) => setTimeout(r, 60));
        const [a, b] = memoryPair();
        sw.handle(b);
        const t = a as Transport;
        const send = t.send.bind(t);
        const destroy = t.destroy.bind(t);
        t.send = (parts) => {
          sent++;
          return send(parts);
        };
        t.destroy = (err) => {
          destroyed++;
          destroy(err);
        };
        return t;
      },
      makeNode: (t, o) => new BaseNode(t, o, (core) => new FS(core)),
      password: PASSWORD,
      domain: 'late',
      heartbeatInterval: 0,
      backoffInitial: 60_000,
      timeout: 20,
    });
    cleanups.push(() => s.close());
    const err = await new Promise<Error>((r) => s.once('disconnect', r));
    expect(err).toBeInstanceOf(TimeoutError);
    // Not a 1 ms admission: the password-sealed request never went out, and the connection is gone.
    expect(sent).toBe(0);
    expect(destroyed).toBe(1);
    expect(s.state).toBe('backoff');
  });

  it('an opener’s signal that is not one is refused at once; null counts as none', async () => {
    const make = (signal: unknown, connector: () => Promise<Transport>) =>
      new Session<FlexStream>({
        connector,
        makeNode: (t, o) => new BaseNode(t, o, (core) => new FS(core)),
        password: PASSWORD,
        domain: 'bad-signal',
        heartbeatInterval: 0,
        backoffInitial: 60_000,
        signal: signal as AbortSignal,
      });
    expect(() => make({}, () => Promise.reject(new Error('not reached')))).toThrow(
      /option signal must be an AbortSignal/,
    );
    // What a JavaScript caller may pass as ws.signal (`controller?.signal ?? null`): no signal.
    let dials = 0;
    const s = make(null, async () => {
      dials++;
      throw new Error('no switcher here');
    });
    cleanups.push(() => s.close());
    const err = await new Promise<Error>((r) => s.once('disconnect', r));
    expect(err.message).toBe('no switcher here');
    expect(dials).toBe(1);
    expect(s.state).toBe('backoff');
  });

  // The session takes a signal that looks like one (another realm's, a polyfill's), but Node's
  // AbortSignal.any links only its own kind: the abort of a look-alike never reached the attempt
  // in flight, which went on (here for ever) as if nothing had happened.
  it('an abort of a look-alike opener’s signal fails the attempt in flight too', async () => {
    class LookAlike extends EventTarget {
      aborted = false;
      reason: unknown = undefined;
      abort(): void {
        this.aborted = true;
        this.reason = new Error('stop');
        this.dispatchEvent(new Event('abort'));
      }
    }
    const opener = new LookAlike();
    let attempt: AbortSignal | undefined;
    const s = new Session<FlexStream>({
      connector: (signal) => {
        attempt = signal;
        return new Promise<Transport>((_, reject) =>
          signal.addEventListener('abort', () => reject(new AbortError('dial aborted')), { once: true }),
        );
      },
      makeNode: (t, o) => new BaseNode(t, o, (core) => new FS(core)),
      password: PASSWORD,
      domain: 'lookalike',
      heartbeatInterval: 0,
      signal: opener as unknown as AbortSignal,
    });
    cleanups.push(() => s.close());
    expect(attempt).toBeDefined();
    const closed = new Promise<void>((r) => s.once('close', () => r()));
    opener.abort();
    expect(attempt?.aborted).toBe(true);
    await closed;
    expect(s.state).toBe('closed');
  });

  it('an abort while the session backs off closes it at once and leaves no listener', async () => {
    const ac = new AbortController();
    const s = new Session<FlexStream>({
      connector: async () => {
        throw new Error('no switcher here');
      },
      makeNode: (t, o) => new BaseNode(t, o, (core) => new FS(core)),
      password: PASSWORD,
      domain: 'backing-off',
      heartbeatInterval: 0,
      backoffInitial: 60_000,
      signal: ac.signal,
    });
    cleanups.push(() => s.close());
    await new Promise((r) => s.once('disconnect', r));
    expect(s.state).toBe('backoff');
    const closed = new Promise<void>((r) => s.once('close', () => r()));
    ac.abort();
    // Not after the 60 s back-off: the test's own timeout would fail first.
    await closed;
    expect(s.state).toBe('closed');
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('a dozen sessions opened with one signal share one listener on it, connecting and backing off', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w);
    };
    process.on('warning', onWarning);
    cleanups.push(() => process.off('warning', onWarning));
    const ac = new AbortController();
    const inAttempt: number[] = [];
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    const sessions = Array.from({ length: 12 }, (_, i) => {
      const s = new Session<FlexStream>({
        connector: async () => {
          await released;
          inAttempt.push(getEventListeners(ac.signal, 'abort').length);
          throw new Error('no switcher here');
        },
        makeNode: (t, o) => new BaseNode(t, o, (core) => new FS(core)),
        password: PASSWORD,
        domain: `shared-${i}`,
        heartbeatInterval: 0,
        backoffInitial: 60_000,
        signal: ac.signal,
      });
      cleanups.push(() => s.close());
      return s;
    });
    const backingOff = sessions.map((s) => new Promise((r) => s.once('disconnect', r)));
    // All twelve in their first attempt at once. Before: twelve listeners on the signal (one per
    // attempt), and Node.js warned of a leak past ten.
    release();
    await Promise.all(backingOff);
    expect(inAttempt).toEqual(Array(12).fill(1));
    // All twelve waiting to try again: one listener still.
    expect(sessions.map((s) => s.state)).toEqual(Array(12).fill('backoff'));
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    const closed = sessions.map((s) => new Promise<void>((r) => s.once('close', () => r())));
    ac.abort();
    await Promise.all(closed);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    await new Promise((r) => setImmediate(r));
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });
});
