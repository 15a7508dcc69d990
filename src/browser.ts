/**
 * flexmux for browsers (and any runtime with WebSocket and Web Streams): the same core as the
 * Node.js entry, with streams as ReadableStream/WritableStream pairs (WebStream) and the browser
 * WebSocket transport. Nothing reachable from here imports a node:* module.
 */
import type { NodeOptions } from './config.js';
import { ConfigError } from './errors.js';
import { BaseNode } from './node/node.js';
import { Session, type SessionOptions } from './node/session.js';
import { WebStream } from './stream/web.js';
import { transportDefaults } from './transport/defaults.js';
import type { Transport } from './transport/types.js';
import {
  type BrowserWsDialOptions,
  checkBrowserWsOptions,
  checkWsUrl,
  dialBrowserWs,
  webSocketClass,
} from './transport/ws-browser.js';
import { checkBool, checkDelay, checkObject, checkOptions, checkSignal } from './util/check.js';
import { reconnectOnWake } from './wake.js';

export type { NodeOptions, ResolvedNodeOptions } from './config.js';
export { defaults, sessionDefaults, validateNodeOptions } from './config.js';
export * from './errors.js';
export type { DialTarget } from './node/address.js';
export { type Destroyable, Listener, type ListenerEvents } from './node/listener.js';
export type { DialOptions, NodeEvents, PingOptions, StreamFactory } from './node/node.js';
export { BaseNode } from './node/node.js';
// All of it is public: Session, its init and options, its events and states.
export * from './node/session.js';
export type { Scheduler } from './scheduler.js';
export { type StreamAddress, StreamCore, type StreamFace, type StreamState } from './stream/core.js';
export { WebStream } from './stream/web.js';
export type { WaterMarkOptions } from './transport/defaults.js';
/** The transports' own dial options, under a name the node's `DialOptions` does not hide. */
export type { DialOptions as TransportDialOptions } from './transport/dial.js';
export { type MemoryPairOptions, type MemoryTransport, memoryPair } from './transport/memory.js';
export type { Transport, TransportHandlers } from './transport/types.js';
export {
  type BrowserWsDialOptions,
  type BrowserWsOptions,
  browserWsTransport,
  dialBrowserWs,
  type WebSocketConstructor,
} from './transport/ws-browser.js';
export type { Logger } from './util/logger.js';
export { Caps, Cmd, PROTOCOL_VERSION, SWITCHER_IP } from './wire/constants.js';
export { normalizeDomain } from './wire/domain.js';

/** A node whose streams are Web Streams pairs. */
export class Node extends BaseNode<WebStream> {
  constructor(transport: Transport, options: NodeOptions = {}) {
    super(transport, options, (core) => new WebStream(core));
  }
}

/** Options of `connect(url, options)` in browsers: the session's, and those of its WebSocket. */
export interface BrowserConnectOptions extends SessionOptions {
  /**
   * As the Node.js connect()'s: aborting fails the connection attempt in flight (dial or
   * admission) with AbortError and closes the session, also while it waits to reconnect. Once
   * connected, an abort leaves the connection up (`session.close()` disconnects); if it drops
   * later, the session closes instead of reconnecting. `null` counts as none. The same as
   * `ws.signal`: give one of them, not two different signals.
   */
  signal?: AbortSignal | null;
  /**
   * Options of the WebSocket transport (high-water mark, poll interval, a WebSocket class). Its
   * `signal` is the top-level `signal` under another name; its `timeout` bounds each attempt.
   * Both cover the whole attempt: the WebSocket dial and the admission after it. The dial alone
   * is also bounded by `connectTimeout`, the admission by `admissionTimeout`; the shorter limit
   * wins.
   */
  ws?: BrowserWsDialOptions;
  /**
   * Timeout of an attempt's WebSocket dial, ms, the admission not included (default 10 s, or
   * `ws.timeout` when only that is set).
   */
  connectTimeout?: number;
  /**
   * While the session waits to reconnect, attempt at once (`session.reconnectNow()`) when the
   * page comes back online (`online`) or is shown again (`visibilitychange` to visible); default
   * true. Both mean the reason to wait may have passed, and a hidden page's timers run late.
   * While it is ready, check the connection instead (`session.checkNow()`: one ping, answered
   * within heartbeatTimeout or the connection is dropped and the session reconnects), which may
   * have died unseen while the page slept. A closed session is left as it is; a connecting one
   * tries again at once if the attempt under way fails. The listeners go when the session
   * closes. false: none, for a page that calls reconnectNow() and checkNow() on its own terms.
   */
  reconnectOnWake?: boolean;
}

/** A reconnecting session over the browser WebSocket: `connect('wss://host/flex/ws', {...})`. */
export function connect(url: string, options: BrowserConnectOptions): Session<WebStream> {
  // Read here before the session checks them: refused under this call's name.
  checkOptions('connect()', options);
  // null is no way to say none here either (leave it out for that); `ws.signal: null` is.
  checkObject('option ws', options.ws);
  const own = options.ws?.timeout;
  // A timer delay, as the session checks it again (AttemptBounds), but under the caller's name.
  if (own !== undefined) checkDelay('option ws.timeout', own);
  // A timer delay too: 2^31 ms or more would make the dial's timer fire at once.
  const timeout = checkDelay(
    'option connectTimeout',
    options.connectTimeout ?? own ?? transportDefaults.connectTimeout,
  );
  const limit = own === undefined ? timeout : Math.min(timeout, own);
  // The Node.js connect() takes its signal at the top level, and code written for it passes it
  // there: ignored, its abort did nothing. Two different ones are refused rather than linked,
  // which would leave a listener on each for as long as they live (eitherSignal's are per attempt).
  const signal = checkSignal('option signal', options.signal);
  const wsSignal = checkSignal('option ws.signal', options.ws?.signal);
  if (signal !== undefined && wsSignal !== undefined && signal !== wsSignal) {
    throw new ConfigError(
      'options signal and ws.signal are two different signals: they mean the same (the signal of every connection attempt), so give one',
    );
  }
  // The URL and the transport's own options too: each attempt would refuse them again, and the
  // first one would close the session, where a bad argument is the call's to refuse.
  checkWsUrl(url);
  // No WebSocket class (Node.js 20 without ws.WebSocket) failed the first attempt instead.
  webSocketClass(options.ws ?? {}, 'ws.WebSocket');
  try {
    checkBrowserWsOptions(options.ws ?? {});
  } catch (err) {
    // Under the name the caller wrote: the messages start with the option's own name.
    if (err instanceof ConfigError) throw new ConfigError(`option ws.${err.message}`, { cause: err });
    throw err;
  }
  const wake = checkBool('option reconnectOnWake', options.reconnectOnWake ?? true);
  const session = new Session<WebStream>({
    ...options,
    // The signal is the session's and the caller's together (the session links them for the
    // whole attempt, admission included).
    connector: (signal) => dialBrowserWs(url, { ...options.ws, signal, timeout: limit }),
    makeNode: (t, nodeOptions) => new BaseNode(t, nodeOptions, (core) => new WebStream(core)),
    signal: signal ?? wsSignal,
    timeout: own,
  });
  if (wake) reconnectOnWake(session);
  return session;
}
