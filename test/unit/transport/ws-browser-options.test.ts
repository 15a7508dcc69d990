import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { type BrowserConnectOptions, connect } from '../../../src/browser.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { transportDefaults } from '../../../src/transport/defaults.js';
import type { Transport } from '../../../src/transport/types.js';
import { listenWs } from '../../../src/transport/ws.js';
import {
  type BrowserWsDialOptions,
  dialBrowserWs,
  type WebSocketConstructor,
} from '../../../src/transport/ws-browser.js';
import { Acceptor, attachProbe } from './probe.js';

/**
 * The browser build's dial and connect() with options as an app passes them: spread from
 * settings some of which are unset (explicit undefined), each meaning its default, as dialWs's
 * do (ws-dial-options.test.ts). The records list every option, so that one added later is
 * covered or fails to compile.
 */

const HOST = '127.0.0.1';
const BrowserLike = WebSocket as unknown as WebSocketConstructor;

const unsetDial: Record<keyof BrowserWsDialOptions, undefined> = {
  signal: undefined,
  timeout: undefined,
  protocols: undefined,
  WebSocket: undefined,
  remoteAddress: undefined,
  pollInterval: undefined,
  closeTimeout: undefined,
  maxHeldBytes: undefined,
  logger: undefined,
  highWaterMark: undefined,
  lowWaterMark: undefined,
};

const unsetConnect: Record<Exclude<keyof BrowserConnectOptions, 'password' | 'ws'>, undefined> = {
  signal: undefined,
  connectTimeout: undefined,
  reconnectOnWake: undefined,
  mac: undefined,
  reconnect: undefined,
  backoffInitial: undefined,
  backoffMax: undefined,
  backoffJitter: undefined,
  reconnectSpread: undefined,
  startSpread: undefined,
  waitForReady: undefined,
  admissionTimeout: undefined,
  clock: undefined,
  domain: undefined,
  window: undefined,
  chunkSize: undefined,
  extendedChunkSize: undefined,
  caps: undefined,
  dialTimeout: undefined,
  maxStreams: undefined,
  maxPendingDials: undefined,
  backlog: undefined,
  maxReceiveBuffer: undefined,
  streamHighWaterMark: undefined,
  reuseWrittenBuffers: undefined,
  writeBuffer: undefined,
  heartbeatInterval: undefined,
  heartbeatTimeout: undefined,
  closeAckTimeout: undefined,
  endTimeout: undefined,
  retention: undefined,
  pingTimeout: undefined,
  sharedInflight: undefined,
  quantum: undefined,
  maxBatchBytes: undefined,
  maxControlQueue: undefined,
  earlyData: undefined,
  logger: undefined,
};

describe('the browser build with options given as undefined', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    vi.unstubAllGlobals();
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('dialBrowserWs takes each as its default', async () => {
    const acceptor = new Acceptor<Transport>();
    const listener = await listenWs({ host: HOST, port: 0 }, acceptor.accept);
    cleanup.push(() => listener.close());
    cleanup.push(() => {
      for (const t of acceptor.drainUnclaimed()) t.destroy();
    });
    // WebSocket: undefined is the global one (Node 20 has none: the ws client stands in).
    vi.stubGlobal('WebSocket', BrowserLike);
    const a = await dialBrowserWs(`ws://${HOST}:${listener.address.port}/flex/ws`, unsetDial);
    const pa = attachProbe(a);
    cleanup.push(async () => {
      a.destroy();
      await pa.closed();
    });
    expect(a.remoteAddress).toBe(`${HOST}:${listener.address.port}`);
    const own = a as unknown as Record<string, unknown>;
    expect({
      high: own.high,
      low: own.low,
      pollInterval: own.pollInterval,
      closeTimeout: own.closeTimeout,
      maxHeld: own.maxHeld,
    }).toEqual({
      high: transportDefaults.wsHighWaterMark,
      low: transportDefaults.wsHighWaterMark / 2,
      pollInterval: transportDefaults.browserPollInterval,
      closeTimeout: transportDefaults.closeTimeout,
      maxHeld: transportDefaults.browserMaxHeldBytes,
    });
    const b = await acceptor.next();
    const pb = attachProbe(b);
    cleanup.push(async () => {
      b.destroy();
      await pb.closed();
    });
    const got: number[] = [];
    pb.onData = (chunk) => got.push(...chunk);
    a.send([new Uint8Array([1, 2, 3])]);
    await pb.until(() => got.length === 3, 'the bytes sent');
  });

  it('connect() takes each as its default, those of its ws option too', async () => {
    const sw = new Switcher({ password: 'browser-undefined' });
    cleanup.push(() => sw.close({ timeout: 500 }));
    const listener = await listenWs({ host: HOST, port: 0 }, (t) => sw.handle(t));
    cleanup.push(() => listener.close());
    const session = connect(`ws://${HOST}:${listener.address.port}/flex/ws`, {
      ...unsetConnect,
      password: 'browser-undefined',
      domain: 'spread',
      ws: { ...unsetDial, WebSocket: BrowserLike },
    });
    cleanup.push(() => session.close());
    await session.ready({ timeout: 5_000 });
    expect(sw.client('spread')?.mac).toBe('');
    expect(await session.ping('')).toBeGreaterThanOrEqual(0);
  });
});
