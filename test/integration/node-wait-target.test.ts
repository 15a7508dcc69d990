import { afterEach, describe, expect, it } from 'vitest';
import {
  AbortError,
  ConfigError,
  DialRefusedError,
  DialTimeoutError,
  NotConnectedError,
  PingError,
  TimeoutError,
} from '../../src/errors.js';
import { admit, Node } from '../../src/index.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { memoryPair } from '../../src/transport/memory.js';
import type { Transport } from '../../src/transport/types.js';
import type { Logger } from '../../src/util/logger.js';
import { links, nodePair } from '../helpers/links.js';
import { once } from '../helpers/streams.js';

/**
 * `node.dial(target, { waitForTarget: true })` on a direct link (no switcher: two processes
 * joined by TCP, say): the peer refuses a port it does not listen on yet (`no-listener`), and the
 * dial is made again, with the same loop as a session's, until the peer listens or the dial's
 * timeout runs out. Before, a node's dial had no such option: the first refusal was its result.
 * `node.ping(domain, { waitForTarget: true })` through a switcher, likewise, until the domain is
 * registered.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A logger whose debug lines with message `msg` call `seen` (an event to wait on). */
function loggerSeeing(msg: string, seen: (obj: object) => void): Logger {
  const noop = (): void => {};
  return { debug: (obj, m) => (m === msg ? seen(obj) : undefined), info: noop, warn: noop, error: noop };
}

/** Alice and bob on a memory link; alice's pauses call `refused`. */
async function pair(refused: (obj: object) => void = () => {}) {
  const nodes = await nodePair(
    links.memory!,
    { heartbeatInterval: 0, logger: loggerSeeing('dial waiting for its target', refused) },
    { heartbeatInterval: 0 },
  );
  cleanups.push(() => nodes.close());
  return nodes;
}

describe('node.dial with waitForTarget on a direct link', () => {
  it('waits for a peer that listens only later, and gets the stream', async () => {
    let refused: (obj: object) => void = () => {};
    const firstRefusal = new Promise<object>((resolve) => {
      refused = resolve;
    });
    const { a, b } = await pair((o) => refused(o));
    const dialing = a.dial('bob:7', { waitForTarget: true, timeout: 10_000 });
    // Refused at least once before bob listens (an event, not a sleep).
    expect(await firstRefusal).toMatchObject({
      target: 'bob:7',
      err: 'dial bob:7 refused: listener not found',
    });
    const accepted = b.listen(7).accept();
    const s = await dialing;
    const peer = await accepted;
    s.end('hello');
    expect(String(await once<Buffer>(peer, 'data'))).toBe('hello');
  });

  it('runs out with DialTimeoutError whose cause is the last refusal', async () => {
    const { a } = await pair();
    const err = await a.dial('bob:7', { waitForTarget: true, timeout: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DialTimeoutError);
    expect((err as Error).message).toBe(
      'dial bob:7 timed out after 300 ms waiting for its target; last refusal: dial bob:7 refused: listener not found',
    );
    expect((err as Error).cause).toBeInstanceOf(DialRefusedError);
    expect(((err as Error).cause as DialRefusedError).reason).toBe('no-listener');
  });

  it('without it (or false), the first refusal is the result', async () => {
    const { a } = await pair();
    for (const options of [{}, { waitForTarget: false }]) {
      await expect(a.dial('bob:7', { ...options, timeout: 10_000 })).rejects.toMatchObject({
        reason: 'no-listener',
      });
    }
  });

  it('ends a pause at once when its signal aborts, or when the node closes', async () => {
    let refused: () => void = () => {};
    let pauses = new Promise<void>((resolve) => {
      refused = resolve;
    });
    const { a } = await pair(() => refused());
    const ac = new AbortController();
    const aborted = a
      .dial('bob:7', { waitForTarget: true, timeout: 30_000, signal: ac.signal })
      .catch((e) => e);
    await pauses;
    ac.abort();
    expect(await aborted).toBeInstanceOf(AbortError);
    pauses = new Promise<void>((resolve) => {
      refused = resolve;
    });
    const closed = a.dial('bob:7', { waitForTarget: true, timeout: 30_000 }).catch((e) => e);
    await pauses;
    await a.close();
    // Its pause cut short, the next attempt fails as a closed node's dial does.
    expect(await closed).toBeInstanceOf(NotConnectedError);
  });

  it('lets many dials wait at once without a listener-leak warning', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w);
    };
    process.on('warning', onWarning);
    cleanups.push(() => process.off('warning', onWarning));
    let pauses = 0;
    let allPaused: () => void = () => {};
    const paused = new Promise<void>((resolve) => {
      allPaused = resolve;
    });
    const n = 12;
    const { a } = await pair(() => {
      if (++pauses === n) allPaused();
    });
    const dials = Array.from({ length: n }, () =>
      a.dial('bob:7', { waitForTarget: true, timeout: 30_000 }).catch((e: unknown) => e),
    );
    await paused;
    await a.close();
    for (const err of await Promise.all(dials)) expect(err).toBeInstanceOf(NotConnectedError);
    // Emitted on the next tick after the listener that passed the limit.
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings.map((w) => w.message)).toEqual([]);
  });

  it("lets a dozen dials share one caller's signal without a listener-leak warning", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w.message);
    };
    process.on('warning', onWarning);
    cleanups.push(() => process.off('warning', onWarning));
    let pauses = 0;
    let allPaused: () => void = () => {};
    const paused = new Promise<void>((resolve) => {
      allPaused = resolve;
    });
    const n = 12;
    const { a } = await pair(() => {
      if (++pauses === n) allPaused();
    });
    const caller = new AbortController();
    const dials = Array.from({ length: n }, () =>
      a
        .dial('bob:7', { waitForTarget: true, timeout: 30_000, signal: caller.signal })
        .catch((e: unknown) => e),
    );
    // All in their first pause together, each listening (before) to the caller's signal.
    await paused;
    caller.abort();
    for (const err of await Promise.all(dials)) expect(err).toBeInstanceOf(AbortError);
    // Emitted on the next tick after the listener that passed the limit.
    await new Promise((resolve) => setImmediate(resolve));
    // Before: 'Possible EventTarget memory leak detected. 11 abort listeners added to [AbortSignal]'.
    expect(warnings).toEqual([]);
  });

  it('refuses a bad option or address at once', async () => {
    const { a } = await pair();
    await expect(a.dial('bob:7', { waitForTarget: 'yes' as unknown as boolean })).rejects.toBeInstanceOf(
      ConfigError,
    );
    await expect(a.dial('bob', { waitForTarget: true })).rejects.toBeInstanceOf(ConfigError);
    await expect(a.dial('bob:7', { waitForTarget: true, timeout: -1 })).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('node.ping with waitForTarget through a switcher', () => {
  const PASSWORD = 'node-wait-ping';

  function switcher(): Switcher {
    const sw = new Switcher({ password: PASSWORD });
    cleanups.push(() => sw.close({ timeout: 1_000 }));
    return sw;
  }

  /** A node admitted to `sw` as `domain` over a memory link (no session: the node's own ping). */
  async function join(sw: Switcher, domain: string, logger?: Logger): Promise<Node> {
    const [mine, theirs] = memoryPair();
    sw.handle(theirs);
    const { ip, transport } = await admit(mine as Transport, { password: PASSWORD, domain });
    const node = new Node(transport, { domain, ip, heartbeatInterval: 0, logger });
    cleanups.push(() => node.destroy());
    return node;
  }

  it('waits for a domain registered only later, and gets its answer', async () => {
    const sw = switcher();
    let away: (obj: object) => void = () => {};
    const firstAnswer = new Promise<object>((resolve) => {
      away = resolve;
    });
    const a = await join(
      sw,
      'alice',
      loggerSeeing('ping waiting for its target', (o) => away(o)),
    );
    const pinging = a.ping('bob', { waitForTarget: true, timeout: 10_000 });
    // Answered 'domain not found' at least once before bob joins (an event, not a sleep).
    expect(await firstAnswer).toMatchObject({ target: 'bob', err: 'ping bob failed: domain not found' });
    await join(sw, 'bob');
    // Before: the option was ignored, and the first 'domain not found' was the ping's result.
    expect(await pinging).toBeGreaterThanOrEqual(0);
  });

  it('without it, the first answer is the result; with it, running out names that answer', async () => {
    const sw = switcher();
    const a = await join(sw, 'alice');
    for (const options of [{}, { waitForTarget: false }]) {
      const err = await a.ping('bob', { ...options, timeout: 10_000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PingError);
    }
    const err = await a.ping('bob', { waitForTarget: true, timeout: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toBe(
      // Before: `last answer: ping bob failed: ...`, the target named twice.
      'ping bob timed out after 300 ms waiting for its target; last answer: domain not found',
    );
    expect((err as Error).cause).toBeInstanceOf(PingError);
  });

  it('ends a pause at once when its signal aborts, or when the node closes', async () => {
    const sw = switcher();
    let answered: () => void = () => {};
    let pauses = new Promise<void>((resolve) => {
      answered = resolve;
    });
    const a = await join(
      sw,
      'alice',
      loggerSeeing('ping waiting for its target', () => answered()),
    );
    const ac = new AbortController();
    const aborted = a
      .ping('bob', { waitForTarget: true, timeout: 30_000, signal: ac.signal })
      .catch((e) => e);
    await pauses;
    ac.abort();
    expect(await aborted).toBeInstanceOf(AbortError);
    pauses = new Promise<void>((resolve) => {
      answered = resolve;
    });
    const closed = a.ping('bob', { waitForTarget: true, timeout: 30_000 }).catch((e) => e);
    await pauses;
    await a.close();
    // Its pause cut short, the next ping fails as a closed node's ping does, and as a waiting
    // dial does (before: sent, it failed with ConnectionClosedError once the connection closed).
    expect(await closed).toBeInstanceOf(NotConnectedError);
  });

  it('refuses a bad option at once', async () => {
    const a = await join(switcher(), 'alice');
    await expect(a.ping('bob', { waitForTarget: 'yes' as unknown as boolean })).rejects.toBeInstanceOf(
      ConfigError,
    );
    await expect(a.ping('bob', { waitForTarget: true, timeout: -1 })).rejects.toBeInstanceOf(ConfigError);
  });
});
