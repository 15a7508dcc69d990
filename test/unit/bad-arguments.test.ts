import { describe, expect, it } from 'vitest';
import { cliMetrics } from '../../src/admin/index.js';
import { Node as BrowserNode, browserWsTransport, WebStream } from '../../src/browser.js';
import { demoHandler, listenDemo } from '../../src/demo/index.js';
import {
  admit,
  BaseNode,
  ConfigError,
  FlexStream,
  Node,
  Scheduler,
  Switcher,
  serveTcp,
  serveTls,
  serveWs,
  serveWss,
  tcpTransport,
  upgradeHandler,
  wsTransport,
} from '../../src/index.js';
import { rejectsWithConfigError } from '../helpers/rejects.js';

/**
 * A transport, socket, WebSocket, stream core or switcher given as none of those (null, left
 * out, a number, a plain object) failed with a TypeError from deep inside ("Cannot read
 * properties of null"), and some (upgradeHandler, new Scheduler) took it and failed only later,
 * at a connection or a flush. docs/errors.md: a bad argument is a ConfigError naming the call and
 * the argument, thrown by a call that returns its result, a rejection of one that returns a promise.
 */

const BAD: { shown: string; value: unknown }[] = [
  { shown: 'null', value: null },
  { shown: 'undefined', value: undefined },
  { shown: '42', value: 42 },
  { shown: '[object Object]', value: {} },
];

interface Case {
  /** How the ConfigError names the call and its argument. */
  label: string;
  /** What it says the argument must be, and the first method it looks for. */
  what: string;
  method: string;
  call: (bad: never) => unknown;
}

/** A switcher nobody connects to: handle() is its method, the switcher the right argument. */
const switcher = (): Switcher => new Switcher({ password: 'p' });

const throwing: Case[] = [
  { label: 'new Node() transport', what: 'a Transport', method: 'attach', call: (t) => new Node(t) },
  {
    label: 'new Node() transport',
    what: 'a Transport',
    method: 'attach',
    call: (t) => new BaseNode(t, {}, (core) => new FlexStream(core)),
  },
  { label: 'new Node() transport', what: 'a Transport', method: 'attach', call: (t) => new BrowserNode(t) },
  {
    label: 'handle() transport',
    what: 'a Transport',
    method: 'attach',
    call: (t) => {
      const sw = switcher();
      try {
        sw.handle(t);
      } finally {
        void sw.close();
      }
    },
  },
  { label: 'tcpTransport() socket', what: 'a net.Socket', method: 'on', call: (s) => tcpTransport(s) },
  {
    label: 'wsTransport() ws',
    what: "a ws package's WebSocket",
    method: 'on',
    call: (ws) => wsTransport(ws, '127.0.0.1:1'),
  },
  {
    label: 'browserWsTransport() ws',
    what: 'a WebSocket',
    method: 'addEventListener',
    call: (ws) => browserWsTransport(ws),
  },
  { label: 'new FlexStream() core', what: 'a StreamCore', method: 'attach', call: (c) => new FlexStream(c) },
  { label: 'new WebStream() core', what: 'a StreamCore', method: 'attach', call: (c) => new WebStream(c) },
  {
    label: 'new Scheduler() sink',
    what: 'a SchedulerSink',
    method: 'send',
    call: (s) => new Scheduler(s, { quantum: 1024, maxBatchBytes: 4096, maxControlQueue: 16 }),
  },
  {
    label: 'upgradeHandler() switcher',
    what: 'a Switcher',
    method: 'handle',
    call: (s) => upgradeHandler(s),
  },
  {
    label: 'cliMetrics() registry',
    what: 'a prom-client Registry',
    method: 'registerMetric',
    call: (r) => cliMetrics(r, { reloads: { ok: 0, failed: 0, lastSuccess: 0 } }),
  },
];

const rejecting: Case[] = [
  {
    label: 'admit() transport',
    what: 'a Transport',
    method: 'attach',
    call: (t) => admit(t, { password: 'p', domain: 'd' } as never),
  },
  ...(['serveTcp', 'serveTls', 'serveWs', 'serveWss'] as const).map(
    (name): Case => ({
      label: `${name}() switcher`,
      what: 'a Switcher',
      method: 'handle',
      call: (s) =>
        ({ serveTcp, serveTls, serveWs, serveWss })[name](s, { host: '127.0.0.1', port: 0 } as never),
    }),
  ),
  { label: 'demoHandler() switcher', what: 'a Switcher', method: 'handle', call: (s) => demoHandler(s) },
  {
    label: 'listenDemo() switcher',
    what: 'a Switcher',
    method: 'handle',
    call: (s) => listenDemo(s, { host: '127.0.0.1', port: 0 }),
  },
];

const each = (cases: Case[]) => cases.flatMap((c) => BAD.map((b) => ({ ...c, ...b })));

describe('an argument that is no transport, socket, WebSocket, core or switcher', () => {
  it.each(each(throwing))(
    '$label given $shown throws a ConfigError',
    ({ label, what, method, call, value, shown }) => {
      let err: unknown;
      try {
        call(value as never);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toBe(`${label} must be ${what} (no ${method}()), got ${shown}`);
    },
  );

  it.each(each(rejecting))(
    '$label given $shown rejects with a ConfigError',
    async ({ label, what, method, call, value, shown }) => {
      const err = await rejectsWithConfigError(() => call(value as never) as Promise<unknown>);
      expect(err.message).toBe(`${label} must be ${what} (no ${method}()), got ${shown}`);
    },
  );

  it('takes a function-valued property for a method only if it is a function', () => {
    // A plain object with the names but not the functions is as wrong as none.
    expect(() => new Node({ attach: 1, send: 1 } as never)).toThrow(
      'new Node() transport must be a Transport (no attach()), got [object Object]',
    );
  });
});
