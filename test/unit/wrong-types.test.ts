import { afterEach, describe, expect, it } from 'vitest';
import { connect as browserConnect, browserWsTransport, dialBrowserWs } from '../../src/browser.js';
import {
  AccessPolicy,
  admit,
  BaseNode,
  ConfigError,
  connect,
  dialTcp,
  dialTls,
  dialWs,
  domainFingerprint,
  IpPool,
  listenTcp,
  listenTls,
  listenWs,
  memoryPair,
  Node,
  normalizeDomain,
  Registry,
  Switcher,
  validateNodeOptions,
  wsTransport,
  wsUpgradeHandler,
} from '../../src/index.js';
import { rejectsWithConfigError } from '../helpers/rejects.js';

/**
 * An argument of the wrong type (a callback that is no function, a number for a string, null for
 * an object) was kept as given and failed later, from an event handler or a timer, with a
 * TypeError that named no call, or silently meant something else. docs/errors.md: a ConfigError
 * naming the call and the argument, thrown by a call that returns its result, a rejection of one
 * that returns a promise.
 */

const WRONG: { shown: string; value: unknown }[] = [
  { shown: 'null', value: null },
  { shown: '42', value: 42 },
  { shown: '"f" (a string)', value: 'f' },
  { shown: '[object Object]', value: {} },
];

/** What throwing `call` threw (nothing, if it did not throw). */
function thrown(call: () => unknown): unknown {
  try {
    call();
  } catch (err) {
    return err;
  }
  return undefined;
}

function expectConfigError(err: unknown, message: string): void {
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as Error).message).toBe(message);
}

/** Enough of a ws package's WebSocket for wsTransport's checks, open. */
const fakeWs = (): never => ({ readyState: 1, on() {}, send() {}, pause() {} }) as never;
/** Enough of a browser WebSocket for browserWsTransport's checks, open. */
const fakeBrowserWs = (): never =>
  ({ readyState: 1, url: 'ws://h/', addEventListener() {}, send() {} }) as never;

describe('a callback that is no function', () => {
  it.each(WRONG)('wsUpgradeHandler() onTransport $shown throws at the call', ({ value, shown }) => {
    expectConfigError(
      thrown(() => wsUpgradeHandler({}, value as never)),
      `wsUpgradeHandler() onTransport must be a function, got ${shown}`,
    );
  });

  it.each(WRONG)(
    'listenTcp(), listenTls(), listenWs() onTransport $shown reject',
    async ({ value, shown }) => {
      // Refused before anything is bound: nothing to close.
      for (const [name, listen] of [
        ['listenTcp', listenTcp],
        ['listenTls', listenTls],
        ['listenWs', listenWs],
      ] as const) {
        const err = await rejectsWithConfigError(() =>
          listen({ host: '127.0.0.1', port: 0 } as never, value as never),
        );
        expect(err.message).toBe(`${name}() onTransport must be a function, got ${shown}`);
      }
    },
  );
});

describe('a remote address that is no string', () => {
  const notStrings = WRONG.filter((w) => typeof w.value !== 'string');

  it.each(notStrings)('wsTransport() remoteAddress $shown throws', ({ value, shown }) => {
    expectConfigError(
      thrown(() => wsTransport(fakeWs(), value as never)),
      `wsTransport() remoteAddress must be a string, got ${shown}`,
    );
  });

  it.each(notStrings)('browserWsTransport() option remoteAddress $shown throws', ({ value, shown }) => {
    expectConfigError(
      thrown(() => browserWsTransport(fakeBrowserWs(), { remoteAddress: value as never })),
      `remoteAddress must be a string, got ${shown}`,
    );
  });

  it('is taken as given when it is a string, and left out for the default', () => {
    expect(wsTransport(fakeWs(), 'peer:1').remoteAddress).toBe('peer:1');
    expect(browserWsTransport(fakeBrowserWs()).remoteAddress).toBe('h');
  });
});

describe('a WebSocket class given as null or no function', () => {
  // Node.js 20 has no global WebSocket, so a stand-in makes "fell back to the global one" visible.
  const hadGlobal = 'WebSocket' in globalThis;
  const withGlobal = async (body: () => Promise<void> | void): Promise<void> => {
    const saved = (globalThis as { WebSocket?: unknown }).WebSocket;
    (globalThis as { WebSocket?: unknown }).WebSocket = class {
      constructor() {
        throw new Error('the global WebSocket was used');
      }
    };
    try {
      await body();
    } finally {
      if (hadGlobal) (globalThis as { WebSocket?: unknown }).WebSocket = saved;
      else delete (globalThis as { WebSocket?: unknown }).WebSocket;
    }
  };

  it.each(WRONG)('dialBrowserWs() option WebSocket $shown rejects', ({ value, shown }) =>
    withGlobal(async () => {
      const err = await rejectsWithConfigError(() =>
        dialBrowserWs('ws://127.0.0.1:1/', { WebSocket: value as never }),
      );
      expect(err.message).toBe(`option WebSocket must be a function, got ${shown}`);
    }),
  );

  it.each(WRONG)('browser connect() option ws.WebSocket $shown throws', ({ value, shown }) =>
    withGlobal(() => {
      expectConfigError(
        thrown(() =>
          browserConnect('ws://127.0.0.1:1/', {
            password: 'p',
            domain: 'd',
            ws: { WebSocket: value as never },
          }),
        ),
        `option ws.WebSocket must be a function, got ${shown}`,
      );
    }),
  );
});

describe('found by going through every exported call', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  /** A node on a memory link nobody answers on; destroyed after the test. */
  const idleNode = (): Node => {
    const node = new Node(memoryPair()[0], { heartbeatInterval: 0 });
    cleanups.push(() => node.destroy());
    return node;
  };

  it.each(WRONG)(
    'new BaseNode() makeStream $shown throws (it failed at the first stream)',
    ({ value, shown }) => {
      expectConfigError(
        thrown(() => new BaseNode(memoryPair()[0], {}, value as never)),
        `new Node() makeStream must be a function, got ${shown}`,
      );
    },
  );

  it.each(WRONG)(
    'on() and once() listener $shown throw (it failed when the event came)',
    ({ value, shown }) => {
      const node = idleNode();
      expectConfigError(
        thrown(() => node.on('close', value as never)),
        `on() listener must be a function, got ${shown}`,
      );
      expectConfigError(
        thrown(() => node.once('close', value as never)),
        `once() listener must be a function, got ${shown}`,
      );
      expect(node.listenerCount('close')).toBe(0);
    },
  );

  it.each(WRONG)(
    'a logger $shown is refused by every call that takes one (its lines were lost)',
    async ({ value, shown }) => {
      const message = `option logger must be a Logger (no debug()), got ${shown}`;
      const logger = value as never;
      expectConfigError(
        thrown(() => validateNodeOptions({ logger })),
        message,
      );
      expectConfigError(
        thrown(() => new Node(memoryPair()[0], { logger })),
        message,
      );
      expectConfigError(
        thrown(() => new Switcher({ password: 'p', logger })),
        message,
      );
      expectConfigError(
        thrown(() => connect('tcp://127.0.0.1:9', { password: 'p', domain: 'd', logger })),
        message,
      );
      for (const listen of [listenTcp, listenTls, listenWs]) {
        const err = await rejectsWithConfigError(() =>
          listen({ host: '127.0.0.1', port: 0, logger } as never, () => {}),
        );
        expect(err.message).toBe(message);
      }
      expectConfigError(
        thrown(() => browserWsTransport(fakeBrowserWs(), { logger })),
        `logger must be a Logger (no debug()), got ${shown}`,
      );
    },
  );

  it('a logger with its four levels passes, child or not', () => {
    const logger = { debug() {}, info() {}, warn() {}, error() {} };
    expect(validateNodeOptions({ logger }).logger).toBe(logger);
  });

  it.each(WRONG)(
    'a clock $shown is refused by a session and admit() (each attempt failed)',
    async ({ value, shown }) => {
      const clock = value as never;
      expectConfigError(
        thrown(() => connect('tcp://127.0.0.1:9', { password: 'p', domain: 'd', clock })),
        `option clock must be a function, got ${shown}`,
      );
      const [a] = memoryPair();
      const err = await rejectsWithConfigError(() => admit(a, { password: 'p', domain: 'd', clock }));
      expect(err.message).toBe(`option clock must be a function, got ${shown}`);
    },
  );

  it.each(WRONG)('memoryPair() option rng $shown throws (it failed in a delivery)', ({ value, shown }) => {
    expectConfigError(
      thrown(() => memoryPair({ maxChunk: 4, rng: value as never })),
      `option rng must be a function, got ${shown}`,
    );
  });

  it.each([42, null, ['a'], [1, 2], 'ab'])('memoryPair() option remoteAddresses %j throws', (value) => {
    const err = thrown(() => memoryPair({ remoteAddresses: value as never }));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/^option remoteAddresses must be two strings, got /);
  });

  it.each([42, null, {}])(
    'dialTcp() and dialTls() host %j reject (a TypeError from inside)',
    async (host) => {
      for (const [name, dial] of [
        ['dialTcp', dialTcp],
        ['dialTls', dialTls],
      ] as const) {
        const err = await rejectsWithConfigError(() => dial(host as never, 9));
        expect(err.message).toMatch(new RegExp(`^${name}\\(\\) host must be a string, got `));
      }
    },
  );

  it.each(['finishRequest', 'generateMask', 'checkServerIdentity', 'createConnection'])(
    'dialWs() option %s that is no function rejects before connecting',
    async (name) => {
      // finishRequest: 42 left ws's request without an error listener, and the refused
      // connection ended the process (an uncaught ECONNREFUSED).
      const err = await rejectsWithConfigError(() => dialWs('ws://127.0.0.1:9/', { [name]: 42 } as never));
      expect(err.message).toBe(`option ${name} must be a function, got 42`);
    },
  );

  it.each([null, 42, true])('dial() target %j rejects with a ConfigError', async (target) => {
    const err = await rejectsWithConfigError(() => idleNode().dial(target as never));
    expect(err.message).toBe(
      `address must be "host:port" or { domain, port } or { ip, port }, got ${String(target)}`,
    );
  });

  it('dial() to a domain that is no string rejects with a ConfigError', async () => {
    const err = await rejectsWithConfigError(() => idleNode().dial({ domain: 42, port: 1 } as never));
    expect(err.message).toBe('address needs a domain (a string) or an ip, got domain 42');
  });

  it.each([42, null, {}])('normalizeDomain() %j is null, no domain (a RangeError for a number)', (input) => {
    expect(normalizeDomain(input as never)).toBeNull();
  });
});

describe("the switcher's parts, for a relay of one's own", () => {
  it.each(WRONG.filter((w) => typeof w.value !== 'string'))(
    'new AccessPolicy() password $shown throws, as setPassword() does (every admission failed)',
    ({ value, shown }) => {
      expectConfigError(
        thrown(() => new AccessPolicy(value as never)),
        `new AccessPolicy() password must be a string, got ${shown}`,
      );
    },
  );

  it.each(WRONG)('new Registry() hooks $shown throws (it failed at a second claim)', ({ value, shown }) => {
    expectConfigError(
      thrown(() => new Registry(value as never)),
      `new Registry() hooks must be RegistryHooks (no probe()), got ${shown}`,
    );
  });

  it('new Registry() maxEntries and pool of the wrong type throw', () => {
    const hooks = { probe: async () => true, evict() {} };
    expectConfigError(
      thrown(() => new Registry(hooks, '10' as never)),
      'new Registry() maxEntries must be an integer in 0..65534, got "10" (a string)',
    );
    expectConfigError(
      thrown(() => new Registry(hooks, 10, null as never)),
      'new Registry() pool must be an IpPool (no take()), got null',
    );
  });

  it('new IpPool() bounds and mode of the wrong type throw (it handed out nothing, or in order)', () => {
    expectConfigError(
      thrown(() => new IpPool('1' as never)),
      'new IpPool() min must be an integer in 1..65534, got "1" (a string)',
    );
    expectConfigError(
      thrown(() => new IpPool(10, 5)),
      'new IpPool() max must be an integer in 10..65534, got 5',
    );
    expectConfigError(
      thrown(() => new IpPool(1, 10, 'by-name' as never)),
      'new IpPool() mode must be one of by-domain, sequential, got "by-name" (a string)',
    );
    expect(new IpPool(1, 10, 'by-domain').take('a')).toBeGreaterThan(0);
  });

  it('domainFingerprint() of a number throws (every one was 1)', () => {
    expectConfigError(
      thrown(() => domainFingerprint(42 as never)),
      'domainFingerprint() domain must be a string, got 42',
    );
  });
});

describe('per-call arguments found on a second pass', () => {
  it.each([42, null, {}])('ping() domain %j rejects (a number was pinged as its digits)', async (domain) => {
    const node = new Node(memoryPair()[0], { heartbeatInterval: 0 });
    try {
      // Bounded: without the check the ping went out and waited for an answer.
      const err = await rejectsWithConfigError(() => node.ping(domain as never, { timeout: 200 }));
      expect(err.message).toBe(`ping domain must be a string, got ${String(domain)}`);
    } finally {
      node.destroy();
    }
  });

  it.each([42, null, ['a', 42]])(
    'WebSocket protocols %j are refused by the call, not by each attempt',
    async (protocols) => {
      // A WebSocket class that never opens: only the checks before it (or the timeout) end a dial.
      class Never {
        addEventListener(): void {}
        removeEventListener(): void {}
        close(): void {}
      }
      const WebSocket = Never as never;
      const err = await rejectsWithConfigError(() =>
        dialBrowserWs('ws://127.0.0.1:9/', { protocols: protocols as never, WebSocket, timeout: 200 }),
      );
      expect(err.message).toMatch(/^protocols must be a string, got (42|null)$/);
      let session: { close(): Promise<void> } | undefined;
      const byConnect = thrown(() => {
        session = browserConnect('ws://127.0.0.1:9/', {
          password: 'p',
          domain: 'd',
          reconnectOnWake: false,
          ws: { protocols: protocols as never, WebSocket },
        });
      });
      // Made without the check: closed, so that its attempts end with the test.
      await session?.close();
      expectConfigError(byConnect, `option ws.${err.message}`);
    },
  );
});
