import * as net from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, validateAdminOptions } from '../../src/admin/index.js';
import {
  Node as BrowserNode,
  connect as browserConnect,
  browserWsTransport,
  dialBrowserWs,
  WebStream,
} from '../../src/browser.js';
import { demoHandler, listenDemo } from '../../src/demo/index.js';
import {
  BaseNode,
  ConfigError,
  connect,
  connector,
  dialTcp,
  dialTls,
  dialWs,
  FlexStream,
  listenTcp,
  listenTls,
  listenWs,
  memoryPair,
  Node,
  Scheduler,
  Session,
  Switcher,
  serveTcp,
  serveTls,
  serveWs,
  serveWss,
  tcpTransport,
  upgradeHandler,
  validateNodeOptions,
  validateSwitcherOptions,
  wsTransport,
  wsUpgradeHandler,
} from '../../src/index.js';
import { freePort } from '../helpers/ports.js';
import { rejectsWithConfigError } from '../helpers/rejects.js';

/**
 * Options given as null (a JavaScript caller's "none") were read as they came: the call failed
 * with a TypeError from deep inside ("Cannot read properties of null (reading 'backlog')"), the
 * one error that was no FlexError. Every public call taking options refuses them as bad options,
 * a ConfigError naming the call, as dial() and ping() did first: thrown by a call that returns
 * its result, a rejection of one that returns a promise.
 */

const NULL = null as never;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Where the calls that take a switcher URL would connect, were they to: nothing listens there. */
let port = 0;
beforeAll(async () => {
  port = await freePort();
});

/** A node on a memory link nobody answers on; destroyed after the test. */
function idleNode(): Node {
  const [a] = memoryPair();
  const node = new Node(a, { heartbeatInterval: 0 });
  cleanups.push(() => node.destroy());
  return node;
}

/** A switcher nobody connects to; closed after the test. */
function idleSwitcher(): Switcher {
  const sw = new Switcher({ password: 'p' });
  cleanups.push(() => sw.close());
  return sw;
}

/** A session whose connector never connects; closed after the test. */
function waitingSession(): Session<FlexStream> {
  const session = new Session<FlexStream>({
    connector: () => new Promise(() => {}),
    makeNode: (t, o) => new BaseNode(t, o, (core) => new FlexStream(core)),
    password: 'p',
    domain: 'waiting',
  });
  cleanups.push(() => session.close());
  return session;
}

interface Case {
  /** The call as a caller writes it. */
  name: string;
  /** How the ConfigError names it. */
  call: string;
  make: () => unknown;
}

/** Calls that return their result: a null options argument is thrown at once. */
const throwing: Case[] = [
  { name: 'new Node(transport, null)', call: 'node', make: () => new Node(memoryPair()[0], NULL) },
  {
    name: 'new BaseNode(transport, null, factory)',
    call: 'node',
    make: () => new BaseNode(memoryPair()[0], NULL, (core) => new FlexStream(core)),
  },
  {
    name: 'new browser Node(transport, null)',
    call: 'node',
    make: () => new BrowserNode(memoryPair()[0], NULL),
  },
  { name: 'validateNodeOptions(null)', call: 'node', make: () => validateNodeOptions(NULL) },
  { name: 'new Session(null)', call: 'session', make: () => new Session(NULL) },
  { name: 'new Switcher(null)', call: 'switcher', make: () => new Switcher(NULL) },
  { name: 'validateSwitcherOptions(null)', call: 'switcher', make: () => validateSwitcherOptions(NULL) },
  { name: 'validateAdminOptions(null)', call: 'admin', make: () => validateAdminOptions(NULL) },
  {
    name: 'new Scheduler(sink, null)',
    call: 'Scheduler',
    make: () => new Scheduler({ framing: 'stream', send: () => true }, NULL),
  },
  {
    name: 'new FlexStream(core, null)',
    call: 'FlexStream',
    // Refused before the core is touched: none is needed.
    make: () => new FlexStream(NULL, NULL),
  },
  {
    name: 'new WebStream(core, null)',
    call: 'WebStream',
    // Refused before the core is touched, as FlexStream's are.
    make: () => new WebStream(NULL, NULL),
  },
  { name: 'connect(url, null)', call: 'connect()', make: () => connect(`tcp://127.0.0.1:${port}`, NULL) },
  {
    name: 'connector(url, null)',
    call: 'connector()',
    make: () => connector(`tcp://127.0.0.1:${port}`, NULL),
  },
  {
    name: 'browser connect(url, null)',
    call: 'connect()',
    make: () => browserConnect(`ws://127.0.0.1:${port}/flex/ws`, NULL),
  },
  {
    name: 'tcpTransport(socket, null)',
    call: 'tcpTransport()',
    make: () => tcpTransport(new net.Socket(), NULL),
  },
  { name: 'wsTransport(ws, remote, null)', call: 'wsTransport()', make: () => wsTransport(NULL, 'x', NULL) },
  {
    name: 'browserWsTransport(ws, null)',
    call: 'browserWsTransport()',
    make: () => browserWsTransport(NULL, NULL),
  },
  {
    name: 'wsUpgradeHandler(null, fn)',
    call: 'wsUpgradeHandler()',
    make: () => wsUpgradeHandler(NULL, () => {}),
  },
  { name: 'memoryPair(null)', call: 'memoryPair()', make: () => memoryPair(NULL) },
  {
    name: 'upgradeHandler(switcher, null)',
    call: 'upgradeHandler()',
    make: () => upgradeHandler(idleSwitcher(), NULL),
  },
  { name: 'node.listen(port, null)', call: 'listen()', make: () => idleNode().listen(80, NULL) },
  { name: 'session.listen(port, null)', call: 'listen()', make: () => waitingSession().listen(80, NULL) },
  {
    name: 'switcher.streams(undefined, null)',
    call: 'streams()',
    make: () => idleSwitcher().streams(undefined, NULL),
  },
  {
    name: 'switcher.streams(domain, null)',
    call: 'streams()',
    make: () => idleSwitcher().streams('alice', NULL),
  },
  {
    name: 'session.reconnectNow(null)',
    call: 'reconnectNow()',
    make: () => waitingSession().reconnectNow(NULL),
  },
];

/** Calls that return a promise: a null options argument rejects it, the call never throws. */
const rejecting: Case[] = [
  { name: 'listener.accept(null)', call: 'accept()', make: () => idleNode().listen(80).accept(NULL) },
  {
    name: 'session listener.accept(null)',
    call: 'accept()',
    make: () => waitingSession().listen(80).accept(NULL),
  },
  { name: 'session.ready(null)', call: 'ready()', make: () => waitingSession().ready(NULL) },
  { name: 'dialTcp(host, port, null)', call: 'dialTcp()', make: () => dialTcp('127.0.0.1', port, NULL) },
  { name: 'dialTls(host, port, null)', call: 'dialTls()', make: () => dialTls('127.0.0.1', port, NULL) },
  { name: 'dialWs(url, null)', call: 'dialWs()', make: () => dialWs(`ws://127.0.0.1:${port}/flex/ws`, NULL) },
  {
    name: 'dialBrowserWs(url, null)',
    call: 'dialBrowserWs()',
    make: () => dialBrowserWs(`ws://127.0.0.1:${port}/flex/ws`, NULL),
  },
  { name: 'listenTcp(null, fn)', call: 'listenTcp()', make: () => listenTcp(NULL, () => {}) },
  { name: 'listenTls(null, fn)', call: 'listenTls()', make: () => listenTls(NULL, () => {}) },
  { name: 'listenWs(null, fn)', call: 'listenWs()', make: () => listenWs(NULL, () => {}) },
  { name: 'switcher.close(null)', call: 'close()', make: () => idleSwitcher().close(NULL) },
  { name: 'startAdmin(null)', call: 'startAdmin()', make: () => startAdmin(NULL) },
  {
    name: 'demoHandler(switcher, null)',
    call: 'demoHandler()',
    make: () => demoHandler(idleSwitcher(), NULL),
  },
  { name: 'listenDemo(switcher, null)', call: 'listenDemo()', make: () => listenDemo(idleSwitcher(), NULL) },
  { name: 'serveTcp(switcher, null)', call: 'serveTcp()', make: () => serveTcp(idleSwitcher(), NULL) },
  { name: 'serveTls(switcher, null)', call: 'serveTls()', make: () => serveTls(idleSwitcher(), NULL) },
  { name: 'serveWs(switcher, null)', call: 'serveWs()', make: () => serveWs(idleSwitcher(), NULL) },
  { name: 'serveWss(switcher, null)', call: 'serveWss()', make: () => serveWss(idleSwitcher(), NULL) },
];

describe('null options', () => {
  it.each(throwing)('$name throws a ConfigError naming $call', ({ call, make }) => {
    let err: unknown;
    try {
      // Made after all (the defect): whatever it is, it must not outlive the test.
      const made = make() as { close?: () => unknown } | undefined;
      if (typeof made?.close === 'function') cleanups.push(() => made.close?.());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(`${call} options must be an object, got null`);
  });

  it.each(rejecting)('$name rejects with a ConfigError naming $call', async ({ call, make }) => {
    const err = await rejectsWithConfigError(make as () => Promise<unknown>);
    expect(err.message).toBe(`${call} options must be an object, got null`);
  });
});

/**
 * Options nested in options were spread as they came: `tls: null` and `headers: null` given to
 * connect(), `ws: null` to the browser connect(), read as none (a string, as its characters),
 * while null options around them were refused. They are refused the same way, a ConfigError
 * naming the option. A `signal` of null still counts as none, as documented.
 */
describe('nested options given as null', () => {
  const base = { password: 'p', domain: 'd' };
  const nested: { name: string; message: string; make: () => unknown }[] = [
    {
      name: 'connect(tls://, { tls: null })',
      message: 'option tls must be an object, got null',
      make: () => connect(`tls://127.0.0.1:${port}`, { ...base, tls: NULL }),
    },
    {
      name: 'connector(wss://, { tls: "yes" })',
      message: 'option tls must be an object, got "yes" (a string)',
      make: () => connector(`wss://127.0.0.1:${port}/flex/ws`, { ...base, tls: 'yes' as never }),
    },
    {
      name: 'connect(ws://, { headers: null })',
      message: 'option headers must be an object, got null',
      make: () => connect(`ws://127.0.0.1:${port}/flex/ws`, { ...base, headers: NULL }),
    },
    {
      name: 'connect(tcp://, { tls: null }), not the scheme check',
      message: 'option tls must be an object, got null',
      make: () => connect(`tcp://127.0.0.1:${port}`, { ...base, tls: NULL }),
    },
    {
      name: 'browser connect(url, { ws: null })',
      message: 'option ws must be an object, got null',
      make: () => browserConnect(`ws://127.0.0.1:${port}/flex/ws`, { ...base, ws: NULL }),
    },
  ];

  it.each(nested)('$name throws a ConfigError naming the option', ({ message, make }) => {
    let err: unknown;
    try {
      const made = make() as { close?: () => unknown } | undefined;
      if (typeof made?.close === 'function') cleanups.push(() => made.close?.());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(message);
  });

  it('still takes a null signal as none', () => {
    const session = connect(`tcp://127.0.0.1:${port}`, { ...base, signal: null });
    cleanups.push(() => session.close());
    expect(session.state).not.toBe('closed');
  });
});

/**
 * reconnectNow() read its option as it came: a keepStartSpread of 'yes' (truthy, but not true)
 * was taken for false, and ended the start's spread it was meant to keep, an attempt made at
 * once. A value that is no boolean is a ConfigError, as every boolean option's is, and nothing
 * is attempted.
 */
describe("reconnectNow()'s keepStartSpread", () => {
  it('refuses a value that is no boolean, and makes no attempt', () => {
    let attempts = 0;
    const session = new Session<FlexStream>({
      connector: () => {
        attempts++;
        return new Promise(() => {});
      },
      makeNode: (t, o) => new BaseNode(t, o, (core) => new FlexStream(core)),
      password: 'p',
      domain: 'spread',
      startSpread: 60_000,
    });
    cleanups.push(() => session.close());
    expect(session.state).toBe('connecting');
    expect(() => session.reconnectNow({ keepStartSpread: 'yes' as never })).toThrow(
      new ConfigError('option keepStartSpread must be a boolean, got "yes" (a string)'),
    );
    expect(attempts).toBe(0);
    // The spread is kept as asked, and ended when not.
    expect(session.reconnectNow({ keepStartSpread: true })).toBe(false);
    expect(attempts).toBe(0);
    expect(session.reconnectNow({ keepStartSpread: false })).toBe(true);
    expect(attempts).toBe(1);
  });
});
