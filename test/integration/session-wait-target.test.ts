import { getEventListeners } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AbortError,
  BaseNode,
  ConfigError,
  DialRefusedError,
  DialTimeoutError,
  type FlexStream,
  FlexStream as FS,
  PingError,
  Session,
  type SessionOptions,
  TimeoutError,
} from '../../src/index.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { type MemoryTransport, memoryPair } from '../../src/transport/memory.js';
import type { Transport } from '../../src/transport/types.js';
import type { Logger } from '../../src/util/logger.js';
import { once, readAll } from '../helpers/streams.js';

/**
 * `session.dial(target, { waitForTarget: true })` (and `session.ping`'s): after a switcher restart the nodes come back
 * one by one, and a dial made before its target's node is back waits for it (within its timeout)
 * instead of failing with 'resolve domain failed'.
 */

const PASSWORD = 'wait-target';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Switchers, of which sessions reach the newest: `restart()` closes it and makes the next. */
class Switchers {
  current = this.make();

  private make(): Switcher {
    const sw = new Switcher({ password: PASSWORD });
    cleanups.push(() => sw.close({ timeout: 1_000 }));
    return sw;
  }

  async restart(): Promise<void> {
    const old = this.current;
    this.current = this.make();
    await old.close({ timeout: 1_000 });
  }
}

/** A logger that lets a test wait for a line (an event, not a sleep). */
function recordingLogger(): Logger & { line(msg: string, where?: (o: object) => boolean): Promise<object> } {
  const waiters: { msg: string; where: (o: object) => boolean; resolve: (o: object) => void }[] = [];
  const log = (obj: object, msg?: string): void => {
    for (const w of waiters.slice()) {
      if (w.msg !== msg || !w.where(obj)) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(obj);
    }
  };
  return {
    debug: log,
    info: log,
    warn: log,
    error: log,
    line: (msg, where = () => true) => new Promise((resolve) => waiters.push({ msg, where, resolve })),
  };
}

interface TestSession extends Session<FlexStream> {
  /** The switcher's end of the current connection. */
  link: MemoryTransport | null;
}

/**
 * A session through `sws` over in-memory pairs. While `held` is pending, its attempts wait for
 * it: a node whose reconnection is late.
 */
function session(
  sws: Switchers,
  domain: string,
  extra: Partial<SessionOptions> & { held?: () => Promise<void> } = {},
): TestSession {
  const { held, ...options } = extra;
  const s = new Session<FlexStream>({
    connector: async () => {
      await held?.();
      const [a, b] = memoryPair();
      sws.current.handle(b);
      (s as TestSession).link = b;
      return a as Transport;
    },
    makeNode: (t, o) => new BaseNode(t, o, (core) => new FS(core)),
    password: PASSWORD,
    domain,
    backoffInitial: 20,
    backoffMax: 100,
    heartbeatInterval: 0,
    ...options,
  }) as TestSession;
  cleanups.push(() => s.close());
  return s;
}

function serveEcho(s: Session<FlexStream>, port: number): void {
  s.listen(port).on('stream', (st: FlexStream) => {
    pipeline(st, st).catch(() => {});
  });
}

async function echoes(st: FlexStream, text: string): Promise<string> {
  const got = readAll(st);
  st.end(text);
  return (await got).toString();
}

/** A gate: `wait()` resolves once `open()` was called. */
function gate(): { wait: () => Promise<void>; open: () => void } {
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait: () => opened, open };
}

/** Alice serving echo on port 7 and bob, both ready, through `sws`; alice's reconnection waits for `aliceBack`. */
async function pair(sws: Switchers, aliceBack: Promise<void>) {
  let first = true;
  const alice = session(sws, 'alice', {
    held: () => {
      if (first) {
        first = false;
        return Promise.resolve();
      }
      return aliceBack;
    },
  });
  serveEcho(alice, 7);
  const logger = recordingLogger();
  const bob = session(sws, 'bob', { logger });
  await Promise.all([alice.ready({ timeout: 5_000 }), bob.ready({ timeout: 5_000 })]);
  return { alice, bob, logger };
}

/** Restarts the switcher and resolves once bob is back (alice is not, until let back). */
async function restart(sws: Switchers, bob: Session<FlexStream>): Promise<void> {
  const back = once(bob, 'ready');
  await sws.restart();
  await back;
}

describe('session.dial with waitForTarget', () => {
  it('made while the target is away across a switcher restart, it gets its stream once the target is back', async () => {
    const sws = new Switchers();
    const aliceBack = gate();
    const { alice, bob, logger } = await pair(sws, aliceBack.wait());
    const lost = once(bob, 'disconnect');
    const refused = logger.line('dial waiting for its target');
    await sws.restart();
    await lost;
    // Made while bob itself is reconnecting: it waits for bob's session, then for alice.
    const dialing = bob.dial('alice:7', { wait: true, waitForTarget: true, timeout: 10_000 });
    expect(await refused).toMatchObject({
      target: 'alice:7',
      err: 'dial alice:7 refused: resolve domain failed',
      code: 'FLEX_ERR_DIAL_REFUSED',
    });
    const aliceReady = once(alice, 'ready');
    aliceBack.open();
    await aliceReady;
    // Before: the first refusal was the dial's result.
    expect(await echoes(await dialing, 'hello')).toBe('hello');
  });

  it('without it, a dial to a target still away fails at once with the refusal', async () => {
    const sws = new Switchers();
    const aliceBack = gate();
    const { bob } = await pair(sws, aliceBack.wait());
    await restart(sws, bob);
    for (const options of [{}, { waitForTarget: false }]) {
      const err = await bob.dial('alice:7', { ...options, timeout: 10_000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DialRefusedError);
      expect(err).toMatchObject({ reason: 'unknown-domain' });
    }
    aliceBack.open();
  });

  it('runs out at its timeout with a DialTimeoutError naming the last refusal, kept as its cause', async () => {
    const sws = new Switchers();
    const { bob } = await pair(sws, new Promise(() => {}));
    await restart(sws, bob);
    const ac = new AbortController();
    const started = performance.now();
    const err = await bob
      .dial('alice:7', { waitForTarget: true, timeout: 600, signal: ac.signal })
      .catch((e: unknown) => e);
    const took = performance.now() - started;
    // Every pause and dial let go of the signal.
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    expect(err).toBeInstanceOf(DialTimeoutError);
    expect((err as Error).message).toBe(
      'dial alice:7 timed out after 600 ms waiting for its target; last refusal: dial alice:7 refused: resolve domain failed',
    );
    const cause = (err as Error).cause;
    expect(cause).toBeInstanceOf(DialRefusedError);
    expect(cause).toMatchObject({ reason: 'unknown-domain', remoteText: 'resolve domain failed' });
    // Bounded by the timeout: not given up early, and not long after (a loaded machine's slack).
    expect(took).toBeGreaterThanOrEqual(590);
    expect(took).toBeLessThan(600 + 2_000);
  });

  it('ends at once with AbortError when its signal fires during a pause', async () => {
    const sws = new Switchers();
    const { bob, logger } = await pair(sws, new Promise(() => {}));
    await restart(sws, bob);
    const ac = new AbortController();
    // The longest pause (1 s): an abort heard only at the next dial would come that much later.
    const longPause = logger.line(
      'dial waiting for its target',
      (o) => (o as { retryIn: number }).retryIn >= 900,
    );
    const dialing = bob.dial('alice:7', { waitForTarget: true, timeout: 30_000, signal: ac.signal });
    const settled = dialing.catch((e: unknown) => e);
    await longPause;
    const reason = new Error('user gave up');
    const aborted = performance.now();
    ac.abort(reason);
    const err = await settled;
    expect(performance.now() - aborted).toBeLessThan(500);
    expect(err).toBeInstanceOf(AbortError);
    expect((err as Error).cause).toBe(reason);
  });

  it('ends at once with ConnectionClosedError when the session closes during a pause', async () => {
    const sws = new Switchers();
    const { bob, logger } = await pair(sws, new Promise(() => {}));
    await restart(sws, bob);
    const longPause = logger.line(
      'dial waiting for its target',
      (o) => (o as { retryIn: number }).retryIn >= 900,
    );
    const settled = bob.dial('alice:7', { waitForTarget: true, timeout: 30_000 }).catch((e: unknown) => e);
    await longPause;
    const closing = performance.now();
    await bob.close();
    const err = await settled;
    expect(performance.now() - closing).toBeLessThan(500);
    expect(err).toMatchObject({ code: 'FLEX_ERR_CONNECTION_CLOSED', message: 'session closed' });
  });

  it('lets a dozen dials and pings wait at once without a listener-leak warning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w.message);
    };
    process.on('warning', onWarning);
    cleanups.push(() => process.off('warning', onWarning));
    const sws = new Switchers();
    const { bob } = await pair(sws, new Promise(() => {}));
    await restart(sws, bob);
    // All refused at once, all in their first pause together, until they run out.
    const waits = Array.from({ length: 12 }, (_, i) =>
      (i % 2 === 0
        ? bob.dial('alice:7', { waitForTarget: true, timeout: 400 })
        : bob.ping('alice', { waitForTarget: true, timeout: 400 })
      ).catch((e: unknown) => e),
    );
    for (const err of await Promise.all(waits))
      expect((err as Error).message).toMatch(/waiting for its target/);
    // A warning is emitted on the tick after the listener that passed the limit.
    await new Promise((resolve) => setImmediate(resolve));
    // Before: 'Possible EventTarget memory leak detected. 11 abort listeners added to
    // [AbortSignal]', every pause listening to the session's one signal.
    expect(warnings).toEqual([]);
  });

  it("lets a dozen dials and pings share one caller's signal without a listener-leak warning", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w.message);
    };
    process.on('warning', onWarning);
    cleanups.push(() => process.off('warning', onWarning));
    const sws = new Switchers();
    const { bob, logger } = await pair(sws, new Promise(() => {}));
    await restart(sws, bob);
    // Six dials and six pings, each refused once and pausing: all in their first pause together.
    const count = { dial: 0, ping: 0 };
    const allPaused = Promise.all([
      logger.line('dial waiting for its target', () => ++count.dial === 6),
      logger.line('ping waiting for its target', () => ++count.ping === 6),
    ]);
    const caller = new AbortController();
    const options = { waitForTarget: true, timeout: 30_000, signal: caller.signal };
    const waits = Array.from({ length: 12 }, (_, i) =>
      (i % 2 === 0 ? bob.dial('alice:7', options) : bob.ping('alice', options)).catch((e: unknown) => e),
    );
    await allPaused;
    caller.abort();
    for (const err of await Promise.all(waits)) expect(err).toBeInstanceOf(AbortError);
    await new Promise((resolve) => setImmediate(resolve));
    // Before: 'Possible EventTarget memory leak detected. 11 abort listeners added to
    // [AbortSignal]', every pause listening to the caller's one signal.
    expect(warnings).toEqual([]);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
  });

  it('with wait, a dial cut off by the loss of the connection is made again on the next one', async () => {
    const sws = new Switchers();
    const { bob } = await pair(sws, Promise.resolve());
    const dialing = bob.dial('alice:7', { wait: true, waitForTarget: true, timeout: 10_000 });
    // In flight: its open went out, no answer can have come yet.
    bob.link?.destroy();
    // Before: it failed with the lost connection's ConnectionClosedError.
    expect(await echoes(await dialing, 'again')).toBe('again');
  });

  it('without wait, a lost connection ends the dial as it came', async () => {
    const sws = new Switchers();
    const { bob } = await pair(sws, Promise.resolve());
    const dialing = bob.dial('alice:7', { waitForTarget: true, timeout: 10_000 });
    bob.link?.destroy();
    await expect(dialing).rejects.toMatchObject({ code: 'FLEX_ERR_CONNECTION_CLOSED' });
  });

  it('refuses an option that is not a boolean, and a bad address, at once', async () => {
    const sws = new Switchers();
    const bob = session(sws, 'bob');
    await bob.ready({ timeout: 5_000 });
    await expect(bob.dial('alice:7', { waitForTarget: 'yes' as unknown as boolean })).rejects.toBeInstanceOf(
      ConfigError,
    );
    await expect(bob.dial('alice', { waitForTarget: true })).rejects.toBeInstanceOf(ConfigError);
    await expect(bob.dial('alice:7', { waitForTarget: true, timeout: -1 })).rejects.toBeInstanceOf(
      ConfigError,
    );
  });
});

describe('session.ping with waitForTarget', () => {
  it('made while the target is away across a switcher restart, it gets its answer once the target is back', async () => {
    const sws = new Switchers();
    const aliceBack = gate();
    const { alice, bob, logger } = await pair(sws, aliceBack.wait());
    const lost = once(bob, 'disconnect');
    const away = logger.line('ping waiting for its target');
    await sws.restart();
    await lost;
    // Made while bob itself is reconnecting: it waits for bob's session, then for alice.
    const pinging = bob.ping('alice', { wait: true, waitForTarget: true, timeout: 10_000 });
    expect(await away).toMatchObject({ target: 'alice', err: 'ping alice failed: domain not found' });
    const aliceReady = once(alice, 'ready');
    aliceBack.open();
    await aliceReady;
    // Before: the first 'domain not found' was the ping's result.
    expect(await pinging).toBeGreaterThanOrEqual(0);
  });

  it('without it, a ping of a target still away fails at once with the answer', async () => {
    const sws = new Switchers();
    const aliceBack = gate();
    const { bob } = await pair(sws, aliceBack.wait());
    await restart(sws, bob);
    for (const options of [{}, { waitForTarget: false }]) {
      const err = await bob.ping('alice', { ...options, timeout: 10_000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PingError);
      expect(err).toMatchObject({ remoteText: 'domain not found' });
    }
    aliceBack.open();
  });

  it('runs out at its timeout with a TimeoutError naming the last answer, kept as its cause', async () => {
    const sws = new Switchers();
    const { bob } = await pair(sws, new Promise(() => {}));
    await restart(sws, bob);
    const ac = new AbortController();
    const started = performance.now();
    const err = await bob
      .ping('alice', { waitForTarget: true, timeout: 600, signal: ac.signal })
      .catch((e: unknown) => e);
    const took = performance.now() - started;
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toBe(
      // Before: `last answer: ping alice failed: ...`, the target named twice.
      'ping alice timed out after 600 ms waiting for its target; last answer: domain not found',
    );
    const cause = (err as Error).cause;
    expect(cause).toBeInstanceOf(PingError);
    expect(cause).toMatchObject({ remoteText: 'domain not found' });
    expect(took).toBeGreaterThanOrEqual(590);
    expect(took).toBeLessThan(600 + 2_000);
  });

  it('ends at once with AbortError when its signal fires during a pause, and at close()', async () => {
    const sws = new Switchers();
    const { bob, logger } = await pair(sws, new Promise(() => {}));
    await restart(sws, bob);
    const ac = new AbortController();
    const longPause = (): Promise<object> =>
      logger.line('ping waiting for its target', (o) => (o as { retryIn: number }).retryIn >= 900);
    let paused = longPause();
    const aborted = bob
      .ping('alice', { waitForTarget: true, timeout: 30_000, signal: ac.signal })
      .catch((e) => e);
    await paused;
    const reason = new Error('user gave up');
    let from = performance.now();
    ac.abort(reason);
    const err = await aborted;
    expect(performance.now() - from).toBeLessThan(500);
    expect(err).toBeInstanceOf(AbortError);
    expect(err).toMatchObject({ message: 'ping alice aborted', cause: reason });

    paused = longPause();
    const closed = bob.ping('alice', { waitForTarget: true, timeout: 30_000 }).catch((e: unknown) => e);
    await paused;
    from = performance.now();
    await bob.close();
    expect(await closed).toMatchObject({ code: 'FLEX_ERR_CONNECTION_CLOSED', message: 'session closed' });
    expect(performance.now() - from).toBeLessThan(500);
  });

  it('refuses an option that is not a boolean, and a bad timeout, at once', async () => {
    const sws = new Switchers();
    const bob = session(sws, 'bob');
    await bob.ready({ timeout: 5_000 });
    await expect(bob.ping('alice', { waitForTarget: 1 as unknown as boolean })).rejects.toBeInstanceOf(
      ConfigError,
    );
    await expect(bob.ping('alice', { waitForTarget: true, timeout: -1 })).rejects.toBeInstanceOf(ConfigError);
  });
});
