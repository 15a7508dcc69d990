import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AbortError,
  type BrowserConnectOptions,
  ConfigError,
  connect,
  type Session,
  TimeoutError,
  type WebStream,
} from '../../src/browser.js';
import type { WebSocketConstructor } from '../../src/transport/ws-browser.js';

/**
 * The browser connect() used to pass its own signal and timeout to every WebSocket dial, in place
 * of `options.ws.signal` / `options.ws.timeout`: the caller's abort did nothing. A WebSocket that
 * never opens (the test decides) shows each attempt's fate.
 */
class NeverOpens extends EventTarget {
  static made: NeverOpens[] = [];
  readyState = 0;
  binaryType = 'blob';
  bufferedAmount = 0;
  readonly closeCalls: number[] = [];
  constructor(readonly url: string) {
    super();
    NeverOpens.made.push(this);
  }
  close(code = 1005): void {
    this.closeCalls.push(code);
  }
  send(): void {}
  /** The connection attempt failing, as a browser reports it. */
  fail(): void {
    this.dispatchEvent(new Event('error'));
    this.dispatchEvent(Object.assign(new Event('close'), { code: 1006 }));
  }
}

/**
 * A WebSocket that opens, takes the admission request and never answers: a switcher that accepted
 * the connection and then went silent. The caller's signal and timeout used to cover the dial only.
 */
class NeverAdmits extends NeverOpens {
  static sent: Promise<void>;
  private static onSent: () => void;
  static reset(): void {
    NeverAdmits.sent = new Promise((r) => {
      NeverAdmits.onSent = r;
    });
  }
  constructor(url: string) {
    super(url);
    queueMicrotask(() => {
      this.readyState = 1;
      this.dispatchEvent(new Event('open'));
    });
  }
  override send(): void {
    NeverAdmits.onSent();
  }
  override close(code = 1005): void {
    super.close(code);
    this.readyState = 3;
  }
}

const sessions: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const s of sessions.splice(0)) await s.close();
  NeverOpens.made = [];
  vi.useRealTimers();
});

function open(
  ws: BrowserConnectOptions['ws'],
  Ctor: typeof NeverOpens = NeverOpens,
  top: Partial<BrowserConnectOptions> = {},
) {
  const session = connect('ws://127.0.0.1:9/flex/ws', {
    password: 'p',
    domain: 'page',
    backoffInitial: 60_000,
    ...top,
    ws: { WebSocket: Ctor as unknown as WebSocketConstructor, ...ws },
  });
  sessions.push(session);
  const disconnects: Error[] = [];
  session.on('disconnect', (e) => disconnects.push(e));
  return { session, disconnects };
}

/**
 * Fails the attempt in flight with `fail`, then checks what is left on the caller's `signal`: the
 * attempt's listener gone, only the back-off's (an abort ends the wait), and none once closed.
 */
async function failedAttemptKeepsOneListener(
  signal: AbortSignal,
  session: Session<WebStream>,
  disconnects: Error[],
  fail: () => void,
): Promise<void> {
  const failed = new Promise((r) => session.once('disconnect', r));
  fail();
  await failed;
  expect(disconnects).toHaveLength(1);
  expect(session.state).toBe('backoff');
  expect(getEventListeners(signal, 'abort')).toHaveLength(1);
  await session.close();
  expect(getEventListeners(signal, 'abort')).toHaveLength(0);
}

describe('browser connect() and the caller’s ws.signal / ws.timeout', () => {
  it("the caller's abort ends the attempt in flight and the session", async () => {
    const ac = new AbortController();
    const { session, disconnects } = open({ signal: ac.signal });
    const closed = new Promise<void>((r) => session.once('close', r));
    expect(NeverOpens.made).toHaveLength(1);
    ac.abort(new Error('leaving the page'));
    expect(NeverOpens.made[0]!.closeCalls).toHaveLength(1); // the socket is torn down at once
    await closed;
    expect(session.state).toBe('closed');
    expect(disconnects).toHaveLength(1);
    expect(disconnects[0]).toBeInstanceOf(AbortError);
    expect((disconnects[0] as AbortError).cause).toEqual(new Error('leaving the page'));
    expect(NeverOpens.made).toHaveLength(1); // no retry with an aborted signal
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('an attempt that settles leaves no listener on the caller’s signal', async () => {
    const ac = new AbortController();
    const { session, disconnects } = open({ signal: ac.signal });
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1); // the attempt's
    await failedAttemptKeepsOneListener(ac.signal, session, disconnects, () => NeverOpens.made[0]!.fail());
  });

  it('ws.timeout bounds each attempt, the shorter of it and connectTimeout', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { disconnects } = open({ timeout: 50 });
    await vi.advanceTimersByTimeAsync(60);
    expect(disconnects).toHaveLength(1);
    expect(disconnects[0]).toBeInstanceOf(TimeoutError);
    expect(NeverOpens.made[0]!.closeCalls).toHaveLength(1);
  });

  it("the caller's abort during admission ends the attempt and the session", async () => {
    NeverAdmits.reset();
    const ac = new AbortController();
    const { session, disconnects } = open({ signal: ac.signal }, NeverAdmits);
    await NeverAdmits.sent; // the WebSocket is open and the admission request went out
    const closed = new Promise<void>((r) => session.once('close', r));
    ac.abort(new Error('leaving the page'));
    await closed;
    expect(disconnects).toHaveLength(1);
    expect(disconnects[0]).toBeInstanceOf(AbortError);
    expect((disconnects[0] as AbortError).cause).toEqual(new Error('leaving the page'));
    expect(NeverOpens.made).toHaveLength(1);
    expect(NeverOpens.made[0]!.closeCalls).toEqual([4000]); // the socket is torn down
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('an admission that fails leaves no listener on the caller’s signal', async () => {
    NeverAdmits.reset();
    const ac = new AbortController();
    const { session, disconnects } = open({ signal: ac.signal }, NeverAdmits);
    await NeverAdmits.sent;
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1); // the attempt's
    await failedAttemptKeepsOneListener(ac.signal, session, disconnects, () =>
      NeverOpens.made[0]!.dispatchEvent(Object.assign(new Event('close'), { code: 1006 })),
    );
  });

  it('ws.timeout bounds the admission too, not only the dial', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    NeverAdmits.reset();
    const { disconnects } = open({ timeout: 50 }, NeverAdmits);
    await NeverAdmits.sent;
    await vi.advanceTimersByTimeAsync(60);
    expect(disconnects).toHaveLength(1);
    expect(disconnects[0]).toBeInstanceOf(TimeoutError);
    expect(NeverOpens.made[0]!.closeCalls).toEqual([4000]);
  });

  it('a ws.timeout no timer can hold is refused under its own name', () => {
    // The session checks the attempt bound too, but as 'option timeout', an option the caller
    // never passed.
    const o = { password: 'p', domain: 'page', connectTimeout: 5_000 };
    const attempt = () => connect('ws://127.0.0.1:9/flex/ws', { ...o, ws: { timeout: 2 ** 31 } });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/option ws\.timeout /);
  });

  // Node.js 20 has none. The first attempt found out, closing the session (a ConfigError is not
  // retried): connect() returned a session whose ready() rejected. A ws.WebSocket that is no
  // class did the same, saying "Ctor is not a constructor".
  it('without a WebSocket class, connect() throws a ConfigError naming the option it takes', () => {
    const o = { password: 'p', domain: 'page' };
    vi.stubGlobal('WebSocket', undefined);
    try {
      const attempt = () => sessions.push(connect('ws://127.0.0.1:9/flex/ws', o));
      expect(attempt).toThrow(ConfigError);
      expect(attempt).toThrow(/no global WebSocket: Node\.js before 22\)/);
      expect(attempt).toThrow(/\(connect\(\): ws\.WebSocket\)$/);
    } finally {
      vi.unstubAllGlobals();
    }
    // One given that is no class (null too: it chose the global one) is refused as such.
    for (const WebSocket of [42, 'ws', {}, null]) {
      const ws = { WebSocket: WebSocket as unknown as WebSocketConstructor };
      const attempt = () => sessions.push(connect('ws://127.0.0.1:9/flex/ws', { ...o, ws }));
      expect(attempt, String(WebSocket)).toThrow(ConfigError);
      expect(attempt, String(WebSocket)).toThrow(/^option ws\.WebSocket must be a function, got /);
    }
    expect(sessions).toHaveLength(0);
  });

  // Found by the browser hunt: a URL no WebSocket takes (a tcp:// one from Node.js code, a host
  // without a scheme) and a bad WebSocket option were refused only by the first attempt: connect()
  // returned a session that closed itself, where the Node.js connect() throws at once.
  it('refuses at once a URL no WebSocket takes, and a bad ws option, opening nothing', () => {
    const o = {
      password: 'p',
      domain: 'page',
      ws: { WebSocket: NeverOpens as unknown as WebSocketConstructor },
    };
    for (const url of ['tcp://127.0.0.1:7000', 'relay.example.com:7090/flex/ws', 'ws://a b/', '']) {
      expect(() => connect(url, o), url).toThrow(/^invalid WebSocket URL .*: expected ws:\/\/ or wss:\/\//);
    }
    const bad = [{ highWaterMark: -1 }, { lowWaterMark: 10, highWaterMark: 5 }, { pollInterval: -1 }];
    for (const ws of [...bad, { closeTimeout: 2 ** 31 }, { maxHeldBytes: 0 }]) {
      const attempt = () => connect('ws://127.0.0.1:9/flex/ws', { ...o, ws: { ...o.ws, ...ws } });
      expect(attempt, JSON.stringify(ws)).toThrow(ConfigError);
      expect(attempt, JSON.stringify(ws)).toThrow(/^option ws\./);
    }
    expect(NeverOpens.made).toHaveLength(0);
    // What a WebSocket takes besides ws:// and wss://: http(s):// and, in a page, a path relative
    // to it. The WebSocket gets the absolute ws(s) URL, which browsers before 2024 need.
    for (const url of ['wss://relay.example.com/flex/ws', 'https://relay.example.com/flex/ws']) {
      sessions.push(connect(url, o));
    }
    vi.stubGlobal('location', { href: 'https://relay.example.com/app/' });
    try {
      sessions.push(connect('/flex/ws', o));
    } finally {
      vi.unstubAllGlobals();
    }
    // Deno started without --location throws on reading it: an absolute URL needs none.
    Object.defineProperty(globalThis, 'location', {
      configurable: true,
      get: () => {
        throw new ReferenceError('Access to "location", run again with --location <href>');
      },
    });
    try {
      sessions.push(connect('ws://127.0.0.1:9/flex/ws', o));
    } finally {
      Reflect.deleteProperty(globalThis, 'location');
    }
    expect(NeverOpens.made.map((w) => w.url)).toEqual([
      'wss://relay.example.com/flex/ws',
      'wss://relay.example.com/flex/ws',
      'wss://relay.example.com/flex/ws',
      'ws://127.0.0.1:9/flex/ws',
    ]);
  });

  it('a connectTimeout no timer can hold is refused (it would fire at once)', () => {
    const attempt = () =>
      connect('ws://127.0.0.1:9/flex/ws', { password: 'p', domain: 'page', connectTimeout: 2 ** 31 });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/option connectTimeout /);
  });
});

/**
 * The Node.js connect() takes its signal at the top level; the browser one read only `ws.signal`
 * and ignored a top-level one, so code written for Node.js aborted nothing.
 */
describe('browser connect() and a top-level signal', () => {
  it("the caller's abort ends the attempt in flight and the session, as ws.signal does", async () => {
    const ac = new AbortController();
    const { session, disconnects } = open({}, NeverOpens, { signal: ac.signal });
    const closed = new Promise<void>((r) => session.once('close', r));
    expect(NeverOpens.made).toHaveLength(1);
    ac.abort(new Error('leaving the page'));
    expect(NeverOpens.made[0]!.closeCalls).toHaveLength(1);
    await closed;
    expect(disconnects).toHaveLength(1);
    expect(disconnects[0]).toBeInstanceOf(AbortError);
    expect((disconnects[0] as AbortError).cause).toEqual(new Error('leaving the page'));
    expect(NeverOpens.made).toHaveLength(1);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it("the caller's abort during admission ends the attempt and the session", async () => {
    NeverAdmits.reset();
    const ac = new AbortController();
    const { session, disconnects } = open({}, NeverAdmits, { signal: ac.signal });
    await NeverAdmits.sent;
    const closed = new Promise<void>((r) => session.once('close', r));
    ac.abort();
    await closed;
    expect(disconnects[0]).toBeInstanceOf(AbortError);
    expect(NeverOpens.made[0]!.closeCalls).toEqual([4000]);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('an aborted one fails the first attempt at once', async () => {
    const { session, disconnects } = open({}, NeverOpens, { signal: AbortSignal.abort() });
    await new Promise<void>((r) => (session.state === 'closed' ? r() : session.once('close', r)));
    expect(disconnects[0]).toBeInstanceOf(AbortError);
  });

  it('refuses two different signals, and one that is not a signal, under the option’s name', async () => {
    const a = new AbortController();
    const b = new AbortController();
    const at = (o: Partial<BrowserConnectOptions>) => () =>
      connect('ws://127.0.0.1:9/flex/ws', {
        password: 'p',
        domain: 'page',
        ...o,
        ws: { WebSocket: NeverOpens as unknown as WebSocketConstructor, ...o.ws },
      });
    expect(at({ signal: a.signal, ws: { signal: b.signal } })).toThrow(ConfigError);
    expect(at({ signal: a.signal, ws: { signal: b.signal } })).toThrow(/^options signal and ws\.signal /);
    expect(at({ signal: {} as AbortSignal })).toThrow(/^option signal must be an AbortSignal/);
    expect(at({ ws: { signal: {} as AbortSignal } })).toThrow(/^option ws\.signal must be an AbortSignal/);
    expect(NeverOpens.made).toHaveLength(0);
    // The same signal in both places is one signal; null in either counts as none.
    const made = [
      at({ signal: a.signal, ws: { signal: a.signal } })(),
      at({ signal: null, ws: { signal: b.signal } })(),
      at({ signal: a.signal, ws: { signal: null as unknown as AbortSignal } })(),
    ];
    sessions.push(...made);
    expect(NeverOpens.made).toHaveLength(3);
    const closed = made.map((s) => new Promise<void>((r) => s.once('close', r)));
    a.abort();
    await Promise.all([closed[0], closed[2]]);
    expect(made.map((s) => s.state)).toEqual(['closed', 'connecting', 'closed']);
  });
});

/**
 * A page back online, or shown again, waited out the session's back-off (up to 30 s): nothing
 * told the session that the reason to wait had passed. A window and a document of the test's
 * stand in for the page's.
 */
describe('browser connect() and a page that wakes', () => {
  function page(): { win: EventTarget; doc: EventTarget & { visibilityState: string } } {
    const win = new EventTarget();
    const doc = Object.assign(new EventTarget(), { visibilityState: 'hidden' });
    vi.stubGlobal('addEventListener', win.addEventListener.bind(win));
    vi.stubGlobal('removeEventListener', win.removeEventListener.bind(win));
    vi.stubGlobal('document', doc);
    return { win, doc };
  }

  async function backingOff(session: Session<WebStream>, socket: number): Promise<void> {
    const failed = new Promise((r) => session.once('disconnect', r));
    NeverOpens.made[socket]!.fail();
    await failed;
    expect(session.state).toBe('backoff');
  }

  it('attempts at once on `online` and on being shown, and lets go of the page once closed', async () => {
    try {
      const { win, doc } = page();
      const { session } = open({});
      expect(getEventListeners(win, 'online')).toHaveLength(1);
      expect(getEventListeners(doc, 'visibilitychange')).toHaveLength(1);
      // Connecting: no attempt beside the one under way ...
      win.dispatchEvent(new Event('online'));
      expect(NeverOpens.made).toHaveLength(1);
      // ... but once it fails, the next comes at once (it may have begun on the old network).
      const failed = new Promise((r) => session.once('disconnect', r));
      NeverOpens.made[0]!.fail();
      await failed;
      expect(session.state).toBe('connecting');
      expect(NeverOpens.made).toHaveLength(2);
      await backingOff(session, 1);
      win.dispatchEvent(new Event('online'));
      expect(session.state).toBe('connecting');
      expect(NeverOpens.made).toHaveLength(3);
      await backingOff(session, 2);
      // Hidden: the page's timers may be late, but nobody is looking yet.
      doc.dispatchEvent(new Event('visibilitychange'));
      expect(NeverOpens.made).toHaveLength(3);
      doc.visibilityState = 'visible';
      doc.dispatchEvent(new Event('visibilitychange'));
      expect(NeverOpens.made).toHaveLength(4);
      await backingOff(session, 3);
      await session.close();
      expect(getEventListeners(win, 'online')).toHaveLength(0);
      expect(getEventListeners(doc, 'visibilitychange')).toHaveLength(0);
      win.dispatchEvent(new Event('online'));
      expect(NeverOpens.made).toHaveLength(4);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('reconnectOnWake: false listens to nothing; a value that is not a boolean is refused', async () => {
    try {
      const { win, doc } = page();
      const { session } = open({}, NeverOpens, { reconnectOnWake: false });
      expect(getEventListeners(win, 'online')).toHaveLength(0);
      expect(getEventListeners(doc, 'visibilitychange')).toHaveLength(0);
      await backingOff(session, 0);
      win.dispatchEvent(new Event('online'));
      expect(session.state).toBe('backoff');
      expect(NeverOpens.made).toHaveLength(1);
      expect(() => open({}, NeverOpens, { reconnectOnWake: 'false' as unknown as boolean })).toThrow(
        /^option reconnectOnWake must be a boolean/,
      );
    } finally {
      vi.unstubAllGlobals();
    }
  });
});
