import { describe, expect, it } from 'vitest';
import { connect as browserConnect, browserWsTransport, dialBrowserWs } from '../../src/browser.js';
import {
  ConfigError,
  listenTcp,
  listenTls,
  listenWs,
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
