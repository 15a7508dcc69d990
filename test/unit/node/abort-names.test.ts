import { afterEach, describe, expect, it } from 'vitest';
import {
  AbortError,
  BaseNode,
  ConfigError,
  FlexError,
  FlexStream,
  Node,
  Session,
} from '../../../src/index.js';
import { memoryPair } from '../../../src/transport/memory.js';
import { HostilePeer } from '../../helpers/faulty-peer.js';

/**
 * An AbortError said "operation aborted" (a ping, an accept, a ready()) or "dial aborted": a
 * program with several signals in play, or a log line, could not tell which wait was given up.
 * Each now names its operation and target, as their timeouts and refusals do.
 */

const nodes: Node[] = [];
afterEach(() => {
  for (const n of nodes.splice(0)) n.destroy();
});

/** A session whose connector never connects: its waits wait until they are given up. */
function waitingSession(): Session<FlexStream> {
  return new Session<FlexStream>({
    connector: () => new Promise(() => {}),
    makeNode: (t, o) => new BaseNode(t, o, (core) => new FlexStream(core)),
    password: 'p',
    domain: 'waiting',
  });
}

/** A node whose peer reads frames and never answers. */
function silentPeer(): Node {
  const [a, b] = memoryPair();
  const node = new Node(a, { ip: 1, domain: 'alice', heartbeatInterval: 0 });
  nodes.push(node);
  new HostilePeer(b); // reads what the node sends, answers nothing
  return node;
}

async function abortedWith(op: (signal: AbortSignal) => Promise<unknown>): Promise<string[]> {
  const early = await op(AbortSignal.abort()).catch((e: unknown) => e);
  const ac = new AbortController();
  const pending = op(ac.signal).catch((e: unknown) => e);
  await new Promise((r) => setImmediate(r));
  ac.abort();
  const late = await pending;
  for (const e of [early, late]) expect(e).toBeInstanceOf(AbortError);
  return [early, late].map((e) => (e as Error).message);
}

describe('an AbortError names what it ended', () => {
  it('a dial names its target', async () => {
    const node = silentPeer();
    expect(await abortedWith((signal) => node.dial('bob:80', { signal }))).toEqual([
      'dial bob:80 aborted',
      'dial bob:80 aborted',
    ]);
  });

  it('a ping names what it pinged', async () => {
    const node = silentPeer();
    expect(await abortedWith((signal) => node.ping('bob', { signal }))).toEqual([
      'ping bob aborted',
      'ping bob aborted',
    ]);
  });

  it("an accept names its listener's port", async () => {
    const node = silentPeer();
    const l = node.listen(7);
    expect(await abortedWith((signal) => l.accept({ signal }))).toEqual([
      'accept on port 7 aborted',
      'accept on port 7 aborted',
    ]);
  });

  it('a ready() says it was the wait for the session', async () => {
    // A connector that never connects: ready() waits until its signal fires.
    const session = waitingSession();
    try {
      expect(await abortedWith((signal) => session.ready({ signal }))).toEqual([
        'wait for the session to be ready aborted',
        'wait for the session to be ready aborted',
      ]);
    } finally {
      await session.close();
    }
  });

  it("a session's dial and ping that wait for the session name their target, not that wait", async () => {
    const session = waitingSession();
    try {
      // Before: 'wait for the session to be ready aborted' for both, whose target a shutdown that
      // ended a dozen forwarded connections' dials did not say.
      expect(await abortedWith((signal) => session.dial('bob:80', { signal, wait: true }))).toEqual([
        'dial bob:80 aborted',
        'dial bob:80 aborted',
      ]);
      expect(await abortedWith((signal) => session.ping('bob', { signal, wait: true }))).toEqual([
        'ping bob aborted',
        'ping bob aborted',
      ]);
      expect(
        await abortedWith((signal) => session.dial('bob:80', { signal, wait: true, waitForTarget: true })),
      ).toEqual(['dial bob:80 aborted', 'dial bob:80 aborted']);
    } finally {
      await session.close();
    }
  });
});

// A JavaScript caller's `signal` that is no AbortSignal failed with a TypeError from inside
// ("signal.addEventListener is not a function"), the one error that was no FlexError.
describe('a signal that is not an AbortSignal', () => {
  it('is a ConfigError naming the option, for a dial, ping, accept and ready()', async () => {
    const node = silentPeer();
    const session = waitingSession();
    const signal = 5 as unknown as AbortSignal;
    try {
      for (const op of [
        () => node.dial('bob:80', { signal }),
        () => node.ping('bob', { signal }),
        () => node.listen(7).accept({ signal }),
        () => session.ready({ signal }),
        () => session.dial('bob:80', { signal, wait: true }),
        () => session.ping('bob', { signal, wait: true }),
      ]) {
        const err = await op().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as Error).message).toBe('option signal must be an AbortSignal, got 5');
      }
    } finally {
      await session.close();
    }
  });
});

// checkSignal takes null for no signal, as connect() does (`controller?.signal ?? null`), but a
// dial went on to call null.addEventListener: a TypeError, with the dial's port never given back,
// and a waitForTarget dial or ping, or a session's, failed the same way.
describe('a null signal', () => {
  it('counts as none for a dial, ping, accept and ready(), with or without waitForTarget', async () => {
    const node = silentPeer();
    const session = waitingSession();
    const signal = null as unknown as AbortSignal;
    const timeout = 20;
    try {
      for (const op of [
        () => node.dial('bob:80', { signal, timeout }),
        () => node.dial('bob:80', { signal, timeout, waitForTarget: true }),
        () => node.ping('bob', { signal, timeout }),
        () => node.ping('bob', { signal, timeout, waitForTarget: true }),
        () => session.ready({ signal, timeout }),
        () => session.dial('bob:80', { signal, timeout, wait: true }),
        () => session.dial('bob:80', { signal, timeout, wait: true, waitForTarget: true }),
        () => session.ping('bob', { signal, timeout, wait: true }),
        () => session.ping('bob', { signal, timeout, wait: true, waitForTarget: true }),
      ]) {
        const err = await op().catch((e: unknown) => e);
        // Each runs out its timeout (DialTimeoutError, TimeoutError): no TypeError from inside.
        expect(err).toBeInstanceOf(FlexError);
        expect((err as FlexError).code).toMatch(/TIMEOUT$/);
      }
      const l = node.listen(7);
      const accepted = l.accept({ signal });
      l.close();
      await expect(accepted).rejects.toMatchObject({ code: 'FLEX_ERR_CONNECTION_CLOSED' });
    } finally {
      await session.close();
    }
  });
});

// Options given as null read null.signal before anything was checked: node.dial and node.ping
// threw a TypeError synchronously (a caller's .catch() never saw it), and a session's rejected
// with it. They are refused as bad options, as a rejected ConfigError.
describe('null options', () => {
  it('are a ConfigError rejection for a dial and ping, of a node and of a session', async () => {
    const node = silentPeer();
    const session = waitingSession();
    const options = null as never;
    try {
      for (const [call, op] of [
        ['dial()', () => node.dial('bob:80', options)],
        ['ping()', () => node.ping('bob', options)],
        ['dial()', () => session.dial('bob:80', options)],
        ['ping()', () => session.ping('bob', options)],
      ] as const) {
        let made: Promise<unknown> | undefined;
        expect(() => {
          made = op();
        }).not.toThrow();
        const err = await made?.catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as Error).message).toBe(`${call} options must be an object, got null`);
      }
    } finally {
      await session.close();
    }
  });
});
