import { afterEach, describe, expect, it } from 'vitest';
import {
  AbortError,
  BaseNode,
  ConfigError,
  type FlexStream,
  FlexStream as FS,
  Node,
  NotConnectedError,
  Session,
} from '../../src/index.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { memoryPair } from '../../src/transport/memory.js';
import type { Transport } from '../../src/transport/types.js';
import { rawLink } from '../helpers/raw.js';

/**
 * Node API lifecycle defects found by an audit of the public Node API against docs/manual.md and
 * docs/errors.md; each test failed before its fix.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A node whose peer never answers anything (a raw peer that only records frames). */
function silentNode() {
  const link = rawLink({ heartbeatInterval: 0 });
  cleanups.push(() => link.node.destroy());
  return link.node;
}

/** A session whose connection attempts never complete until the session closes. */
function stuckSession(): Session<FlexStream> {
  const s = new Session<FlexStream>({
    connector: (signal) =>
      new Promise<Transport>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    makeNode: (t, o) => new BaseNode(t, o, (core) => new FS(core)),
    password: 'p',
    domain: 'stuck',
    heartbeatInterval: 0,
  });
  cleanups.push(() => s.close());
  return s;
}

describe('node API lifecycle', () => {
  it("an AbortError carries the signal's reason as its cause, whenever the signal fires", async () => {
    // docs/errors.md: "`cause` holds the signal's reason" for dial, accept, ping and waits.
    const node = silentNode();
    const l = node.listen(5);
    const session = stuckSession();
    const reason = new Error('user gave up');
    const before = new AbortController();
    before.abort(reason);
    const during = new AbortController();
    const pending = [
      node.dial('bob:80', { signal: during.signal }),
      l.accept({ signal: during.signal }),
      node.ping('', { signal: during.signal }),
      session.ready({ signal: during.signal }),
      session.dial('bob:80', { wait: true, signal: during.signal }),
    ].map((p) =>
      p.then(
        () => 'resolved',
        (e: unknown) => e,
      ),
    );
    const early = [
      node.dial('bob:80', { signal: before.signal }),
      l.accept({ signal: before.signal }),
      node.ping('', { signal: before.signal }),
      session.ready({ signal: before.signal }),
    ].map((p) =>
      p.then(
        () => 'resolved',
        (e: unknown) => e,
      ),
    );
    during.abort(reason);
    for (const e of await Promise.all([...pending, ...early])) {
      expect(e).toBeInstanceOf(AbortError);
      expect((e as AbortError).cause).toBe(reason);
    }
  });
});

describe('per-call options', () => {
  // A timeout over 2^31-1 ms is run by Node after 1 ms (TimeoutOverflowWarning): a ping failed at
  // once, and a dial re-armed its timer every millisecond for weeks. NaN never fired at all.
  const badDelays = [-1, 0, Number.NaN, 3e9, Number.POSITIVE_INFINITY];

  it('a dial or ping timeout outside 1..2^31-1 ms is a ConfigError', { timeout: 2_000 }, async () => {
    const node = silentNode();
    for (const timeout of badDelays) {
      await expect(node.dial('bob:80', { timeout }), `dial ${timeout}`).rejects.toBeInstanceOf(ConfigError);
      await expect(node.ping('', { timeout }), `ping ${timeout}`).rejects.toBeInstanceOf(ConfigError);
    }
    // Nothing was sent or left pending for them.
    expect(node.stats.streamsOpened).toBe(0);
    expect(node.scheduler.framesWritten).toBe(0);
  });

  it("a session's wait timeout outside 1..2^31-1 ms is a ConfigError", { timeout: 2_000 }, async () => {
    const session = stuckSession();
    for (const timeout of badDelays) {
      await expect(session.ready({ timeout }), `ready ${timeout}`).rejects.toBeInstanceOf(ConfigError);
      await expect(session.dial('bob:80', { wait: true, timeout })).rejects.toBeInstanceOf(ConfigError);
      await expect(session.ping('', { wait: true, timeout })).rejects.toBeInstanceOf(ConfigError);
    }
  });

  it('a listen backlog that is not an integer in 0..2^20 is a ConfigError', () => {
    const node = silentNode();
    const session = stuckSession();
    for (const backlog of [-1, 1.5, Number.NaN, 2 ** 21]) {
      expect(() => node.listen(80, { backlog }), `node ${backlog}`).toThrow(ConfigError);
      expect(() => session.listen(80, { backlog }), `session ${backlog}`).toThrow(ConfigError);
    }
    // Nothing was registered by the refused calls: the port is still free.
    expect(node.listen(80, { backlog: 0 }).port).toBe(80);
    expect(session.listen(80, { backlog: 0 }).port).toBe(80);
  });
});

describe('a closing node', () => {
  it('refuses listen() as it refuses dial(): the listener could never take a stream', async () => {
    const [a, b] = memoryPair();
    const node = new Node(a, { ip: 1, domain: 'x', heartbeatInterval: 0 });
    const peer = new Node(b, { ip: 2, domain: 'y', heartbeatInterval: 0 });
    cleanups.push(
      () => node.destroy(),
      () => peer.destroy(),
    );
    const closing = node.close();
    expect(node.closed).toBe(false);
    const dial = node.dial('y:80');
    expect(() => node.listen(90)).toThrow(NotConnectedError);
    await expect(dial).rejects.toBeInstanceOf(NotConnectedError);
    await closing;
    expect(node.listenerPorts()).toEqual([]);
  });

  it('refuses ping() as it refuses dial(): at once, before the close is done', async () => {
    const [a, b] = memoryPair();
    const node = new Node(a, { ip: 1, domain: 'x', heartbeatInterval: 0 });
    const peer = new Node(b, { ip: 2, domain: 'y', heartbeatInterval: 0 });
    cleanups.push(
      () => node.destroy(),
      () => peer.destroy(),
    );
    const order: string[] = [];
    const closing = node.close().then(() => order.push('closed'));
    expect(node.closed).toBe(false);
    const outcome = (what: string) => (r: unknown) => {
      order.push(what);
      return r;
    };
    const ping = node.ping().then(outcome('ping'), outcome('ping'));
    const dial = node.dial('y:80').then(outcome('dial'), outcome('dial'));
    await closing;
    // Before: the ping went out and failed only with the connection, ConnectionClosedError.
    expect(await ping).toBeInstanceOf(NotConnectedError);
    expect(await dial).toBeInstanceOf(NotConnectedError);
    expect(order).toEqual(['ping', 'dial', 'closed']);
  });
});

/** A session admitted as `domain` by a switcher of its own on a memory link; both closed after. */
async function readySession(domain: string): Promise<Session<FlexStream>> {
  const sw = new Switcher({ password: 'p' });
  cleanups.push(() => sw.close({ timeout: 200 }));
  const session = new Session<FlexStream>({
    connector: async () => {
      const [a, b] = memoryPair();
      sw.handle(b);
      return a;
    },
    makeNode: (t, o) => new BaseNode(t, o, (core) => new FS(core)),
    password: 'p',
    domain,
    heartbeatInterval: 0,
  });
  cleanups.push(() => session.close());
  await session.ready();
  return session;
}

describe('session listeners', () => {
  it('a session.listen() that throws leaves nothing registered', async () => {
    const session = await readySession('lsn');
    // The connection's node already serves port 81 (a listener of its own): the session's listen
    // fails, and must not keep the port for a listener the caller never got.
    const own = session.node?.listen(81);
    expect(() => session.listen(81)).toThrow(ConfigError);
    own?.close();
    const l = session.listen(81);
    expect(session.node?.listenerPorts()).toEqual([81]);
    l.close();
  });

  // "listen port 81 is used" said neither which listener held the port nor what to do: with a
  // session, the holder may be the other API's (the session's node, or the session on its node).
  it('a listen() on a port that has a listener says which one holds it and what to do', async () => {
    const session = await readySession('held');
    const node = session.node!;
    const what = 'close that listener first, or listen on another port';
    const own = node.listen(81);
    expect(() => node.listen(81)).toThrow(
      new ConfigError(`listen port 81 is used by a listener of this node: ${what}`),
    );
    expect(() => session.listen(81)).toThrow(
      new ConfigError(
        `listen port 81 is used by a listener of the session's node (session.node.listen()): ${what}`,
      ),
    );
    own.close();
    const l = session.listen(81);
    expect(() => session.listen(81)).toThrow(
      new ConfigError(`listen port 81 is used by a listener of this session: ${what}`),
    );
    expect(() => node.listen(81)).toThrow(
      new ConfigError(`listen port 81 is used by a listener of the session (session.listen()): ${what}`),
    );
    l.close();
    node.listen(81).close();
  });
});

describe("a listener's backlog and a late 'stream' handler", () => {
  it('hands the streams that waited in the backlog to the first handler, in order, then new ones', async () => {
    const [x, y] = memoryPair();
    const a = new Node(x, { domain: 'alice', ip: 1, heartbeatInterval: 0 });
    const b = new Node(y, { domain: 'bob', ip: 2, heartbeatInterval: 0 });
    cleanups.push(
      () => a.destroy(),
      () => b.destroy(),
    );
    const l = b.listen(7);
    // Accepted while nobody listens: they wait in the backlog.
    const early = [await a.dial('bob:7'), await a.dial('bob:7')];
    expect(l.pending).toBe(2);
    const got: number[] = [];
    const all = new Promise<void>((resolve) => {
      l.on('stream', (s) => {
        got.push(s.remotePort);
        if (got.length === 3) resolve();
      });
    });
    const late = await a.dial('bob:7');
    await all;
    expect(got).toEqual([...early, late].map((s) => s.localPort));
    expect(l.pending).toBe(0);
  });
});
