import { ConfigError, ConnectionClosedError, LimitError, ProtocolError } from '../errors.js';
import { concatBytes, isArrayBuffer } from '../util/bytes.js';
import { checkLogger, checkMethods, checkOptions, checkType } from '../util/check.js';
import { containedLogger, type Logger, silentLogger } from '../util/logger.js';
import { withoutPassword } from '../util/url.js';
import {
  abnormalClosure,
  checkDelayOption,
  checkNumber,
  closeTimedOut,
  transportDefaults,
  type WaterMarkOptions,
  waterMarks,
} from './defaults.js';
import { type DialOptions, guardDial } from './dial.js';
import { HandlerSlot, Inbox } from './inbox.js';
import type { Transport, TransportHandlers } from './types.js';

/**
 * flex over the browser's WebSocket (PROTOCOL.md 1.6). Runtime-neutral: it touches only the
 * standard WebSocket API, so any compatible implementation can be passed in.
 *
 * Browsers cannot pause a WebSocket, so `pauseReading` only holds messages here, up to
 * `maxHeldBytes`: a peer that goes on sending past that is cut off (code 4008, LimitError), so a
 * server that uses this transport (Deno, Bun) and pauses a client cannot be made to buffer without
 * bound. Browsers also cannot drop unsent data, so `destroy` closes (code 4000) and reports at
 * once instead of waiting.
 */
export interface BrowserWsOptions extends WaterMarkOptions {
  /** What the transport reports as `remoteAddress`; default the host of `ws.url`. */
  remoteAddress?: string;
  /** ms between `bufferedAmount` polls while above the high-water mark. Default 10. */
  pollInterval?: number;
  /**
   * ms the closing handshake may take before the transport reports closed regardless: with an
   * error (ConnectionClosedError) when bytes `send` accepted were still unsent. Default 5000.
   */
  closeTimeout?: number;
  /**
   * Bytes of incoming messages held (reading paused, or no handlers attached yet) before the
   * connection is closed with a LimitError; default `browserMaxHeldBytes` (64 MiB).
   */
  maxHeldBytes?: number;
  /** Where the transport says why it gave up (the limit above); silent by default. */
  logger?: Logger;
}

/** A WebSocket class, as `globalThis.WebSocket` is one. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocket;

export interface BrowserWsDialOptions extends DialOptions, BrowserWsOptions {
  /** WebSocket subprotocols to ask for, as `new WebSocket(url, protocols)` takes them. */
  protocols?: string | string[];
  /** The WebSocket class to use; default `globalThis.WebSocket`. */
  WebSocket?: WebSocketConstructor;
}

/** Close codes: browsers only allow 1000 and 3000-4999, so our two reasons use the private range. */
const CLOSE_DESTROYED = 4000;
const CLOSE_PROTOCOL_ERROR = 4003;
const CLOSE_LIMIT = 4008;
const OPEN = 1;
const CLOSED = 3;

/** Wraps an open browser WebSocket as a transport (binary messages, one flex frame each). */
export function browserWsTransport(ws: WebSocket, options: BrowserWsOptions = {}): Transport {
  checkOptions('browserWsTransport()', options);
  checkTransportOptions(options);
  checkMethods('browserWsTransport() ws', 'a WebSocket', ws, ['addEventListener', 'send']);
  if (ws.readyState !== OPEN) throw new ConfigError('browserWsTransport needs an open WebSocket');
  return new BrowserWsTransport(ws, options);
}

class BrowserWsTransport implements Transport {
  readonly framing = 'message';
  readonly remoteAddress: string;
  readonly #slot = new HandlerSlot();
  private readonly inbox: Inbox;
  private readonly high: number;
  private readonly low: number;
  private readonly pollInterval: number;
  private readonly closeTimeout: number;
  private readonly maxHeld: number;
  private readonly logger: Logger;
  #needDrain = false;
  private closing = false;
  #destroyedHere = false;
  private failure: Error | undefined;
  /** The failure an 'error' event recorded, which says nothing; the close event's code says more. */
  #vagueFailure: Error | undefined;
  #pollTimer: ReturnType<typeof setTimeout> | undefined;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly ws: WebSocket,
    options: BrowserWsOptions,
  ) {
    ({ high: this.high, low: this.low } = waterMarks(options, transportDefaults.wsHighWaterMark));
    this.pollInterval = options.pollInterval ?? transportDefaults.browserPollInterval;
    this.closeTimeout = options.closeTimeout ?? transportDefaults.closeTimeout;
    this.maxHeld = options.maxHeldBytes ?? transportDefaults.browserMaxHeldBytes;
    // Contained: its one line comes before the close of a peer that sent past maxHeldBytes, and a
    // logger that throws (a closed pipe) skipped that close, the dropped message lost unsaid.
    this.logger = containedLogger(options.logger ?? silentLogger);
    this.remoteAddress = options.remoteAddress ?? hostOf(ws.url);
    this.inbox = new Inbox(this.#slot, {
      ended: () => this.#report(this.failure),
      maxHeld: this.maxHeld,
      overflow: (held) => this.overflow(held),
    });
    ws.binaryType = 'arraybuffer';
    ws.addEventListener('message', this.#onMessage);
    ws.addEventListener('error', this.#onError);
    ws.addEventListener('close', this.#onClose);
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  get closed(): boolean {
    return this.closing || this.#slot.closed || this.ws.readyState !== OPEN;
  }

  attach(handlers: TransportHandlers): void {
    this.#slot.attach(handlers);
    this.inbox.kick();
  }

  /** A browser WebSocket's send() copies the data into its own buffer before it returns. */
  readonly copies = true;

  send(parts: readonly Uint8Array[]): boolean {
    if (this.closed) return false;
    // The browser API has no fragmenting send: one message means one buffer.
    const data = parts.length === 1 ? parts[0] : concatBytes(parts);
    this.ws.send(data as Uint8Array<ArrayBuffer>);
    if (!this.#needDrain && this.ws.bufferedAmount > this.high) {
      this.#needDrain = true;
      this.#schedulePoll();
    }
    return !this.#needDrain;
  }

  pauseReading(): void {
    this.inbox.pause();
  }

  resumeReading(): void {
    this.inbox.resume();
  }

  close(): void {
    // Once the end was reported there is nothing to close, and a grace timer would outlive it.
    if (this.closing || this.#slot.closed) return;
    this.closing = true;
    // Per the WebSocket spec the close frame queues behind data already sent.
    this.ws.close(1000);
    this.#graceTimer = setTimeout(() => this.#giveUp(), this.closeTimeout);
  }

  /**
   * The graceful close ran out of time: an 'error' event that came meanwhile is the end's cause;
   * else bytes `send` accepted and never sent are dropped, so say so.
   */
  #giveUp(): void {
    this.#graceTimer = undefined;
    const unsent = this.ws.bufferedAmount;
    this.destroy(this.failure ?? closeTimedOut(this.remoteAddress, this.closeTimeout, unsent));
  }

  destroy(err?: Error): void {
    if (this.#slot.closed || this.#destroyedHere) return;
    this.#destroyedHere = true;
    this.closing = true;
    this.inbox.clear();
    if (this.ws.readyState !== CLOSED) this.ws.close(CLOSE_DESTROYED, 'destroyed');
    queueMicrotask(() => this.#report(err));
  }

  readonly #onMessage = (ev: MessageEvent): void => {
    const data: unknown = ev.data;
    // By tag too (isArrayBuffer): the WebSocket class of an iframe or jsdom hands out buffers of
    // another realm, and every binary message would be a protocol error.
    if (isArrayBuffer(data)) {
      this.inbox.push(new Uint8Array(data));
      if (this.#needDrain) this.#checkDrain();
      return;
    }
    // Not skipped after our own close(): the peer may send until it answers, and what it sends
    // is still judged (a clean end would hide the violation).
    if (this.failure !== undefined || this.#destroyedHere) return;
    // A text message is fatal to a Go peer too (PROTOCOL.md 1.6): tell the peer, then report. A
    // Blob means binaryType was changed from 'arraybuffer' after we set it: its bytes can only be
    // read asynchronously, out of order with later messages, so it is refused, not read.
    const err = isBlob(data)
      ? new ProtocolError(
          "Blob WebSocket message: binaryType must stay 'arraybuffer' (it was changed after the transport set it)",
        )
      : new ProtocolError('non-binary WebSocket message: flex carries binary messages only');
    this.fail(err, CLOSE_PROTOCOL_ERROR, 'binary messages only');
  };

  /** The peer sent past maxHeldBytes while reading was paused (the inbox dropped the message). */
  private overflow(held: number): void {
    // Also after our own close(): the message was dropped, so the end must not look clean.
    if (this.failure !== undefined || this.#destroyedHere) return;
    this.logger.warn(
      { remote: this.remoteAddress, held, maxHeldBytes: this.maxHeld },
      'WebSocket peer sent past maxHeldBytes while reading was paused: closing',
    );
    const err = new LimitError(
      `more than ${this.maxHeld} bytes of incoming WebSocket messages held while reading is paused`,
    );
    this.fail(err, CLOSE_LIMIT, 'too much data held');
  }

  /** Tells the peer why (close `code`), drops what is held, and reports `err` once closed. */
  private fail(err: Error, code: number, reason: string): void {
    this.failure = err;
    this.closing = true;
    this.inbox.clear();
    // Once close() ran this sends nothing (the WebSocket is closing), but the failure stands.
    this.ws.close(code, reason);
    // close()'s timer would destroy() and report no error: this one reports the failure.
    if (this.#graceTimer !== undefined) clearTimeout(this.#graceTimer);
    this.#graceTimer = setTimeout(() => this.#report(this.failure), this.closeTimeout);
  }

  readonly #onError = (): void => {
    // Browsers deliberately say nothing about the cause.
    if (this.failure === undefined) {
      this.failure = this.#vagueFailure = new ConnectionClosedError(
        `WebSocket to ${this.remoteAddress} failed`,
      );
    }
    if (this.#slot.closed || this.#destroyedHere) return;
    this.closing = true;
    // The close event that browsers send next reports it (with its code, if that says more). If
    // none comes, this ends the transport with the error once closeTimeout ran out; a timer
    // already running (close()'s or fail()'s) reports the failure too.
    this.#graceTimer ??= setTimeout(() => {
      this.inbox.clear();
      this.#report(this.failure);
    }, this.closeTimeout);
  };

  readonly #onClose = (ev: CloseEvent): void => {
    if (this.#destroyedHere) return;
    const clean = ev.code === 1000 || ev.code === 1001 || ev.code === 1005;
    const closedWith = `closed with code ${ev.code}${ev.reason ? ` (${ev.reason})` : ''}`;
    // 1006 with its cause, as the Node.js transport gives it: hungUp() reads a peer that went
    // away (not a fault of ours) from it, so a switcher's log says 'reset', not 'error'.
    const cause = ev.code === 1006 ? { cause: abnormalClosure() } : undefined;
    if (this.failure === undefined && !clean) {
      this.failure = new ConnectionClosedError(`WebSocket to ${this.remoteAddress} ${closedWith}`, cause);
    } else if (this.failure !== undefined && this.failure === this.#vagueFailure) {
      // The 'error' event's failure says nothing: the code is all a browser tells of the cause.
      this.failure = new ConnectionClosedError(
        `WebSocket to ${this.remoteAddress} failed: ${closedWith}`,
        cause,
      );
    }
    if (this.failure !== undefined) {
      this.inbox.clear();
      this.#report(this.failure);
    } else {
      // Messages received before the close are still owed to a paused reader.
      this.inbox.end();
    }
  };

  #schedulePoll(): void {
    this.#pollTimer = setTimeout(() => {
      this.#pollTimer = undefined;
      // Nothing more can be sent once closing or closed, and a browser never lowers bufferedAmount
      // after the close: polling on would last until a paused reader resumes.
      if (this.closed) return;
      if (this.ws.bufferedAmount > this.low) {
        this.#schedulePoll();
        return;
      }
      this.#needDrain = false;
      this.#slot.drain();
    }, this.pollInterval);
  }

  /**
   * The poll's check, made when a message arrives: browsers run a background tab's timers once a
   * second at most (once a minute after minutes hidden), and the poll with them, but deliver its
   * messages as they come, and the peer's credit arrives as messages while an upload flows.
   */
  #checkDrain(): void {
    if (this.closed || this.ws.bufferedAmount > this.low) return;
    if (this.#pollTimer !== undefined) clearTimeout(this.#pollTimer);
    this.#pollTimer = undefined;
    this.#needDrain = false;
    this.#slot.drain();
  }

  #report(err: Error | undefined): void {
    if (this.#pollTimer !== undefined) clearTimeout(this.#pollTimer);
    if (this.#graceTimer !== undefined) clearTimeout(this.#graceTimer);
    this.#pollTimer = this.#graceTimer = undefined;
    this.ws.removeEventListener('message', this.#onMessage);
    this.ws.removeEventListener('error', this.#onError);
    this.ws.removeEventListener('close', this.#onClose);
    this.#slot.close(err);
  }
}

// async so that a bad argument (no WebSocket class, a bad option) rejects the promise rather than
// throwing from the call: a caller handling failures with .catch() alone would miss a throw.
/**
 * Connects a browser WebSocket to a `ws://` or `wss://` URL and resolves to the transport once it is open;
 * rejects with ConnectionClosedError when it cannot connect.
 */
export async function dialBrowserWs(url: string, options: BrowserWsDialOptions = {}): Promise<Transport> {
  checkOptions('dialBrowserWs()', options);
  const Ctor = webSocketClass(options);
  const { signal, timeout, protocols, WebSocket: _ctor, ...transportOptions } = options;
  checkBrowserWsOptions(options);
  const shown = withoutPassword(url);
  const target = absoluteWsUrl(url);
  return guardDial<Transport>(`WebSocket dial to ${shown}`, { signal, timeout }, (attempt) => {
    const ws = protocols === undefined ? new Ctor(target) : new Ctor(target, protocols);
    ws.binaryType = 'arraybuffer';
    const onFail = (ev: Event): void => {
      const code = (ev as CloseEvent).code;
      const detail = typeof code === 'number' ? ` (close code ${code})` : '';
      attempt.reject(new ConnectionClosedError(`WebSocket dial to ${shown} failed${detail}`));
    };
    const onOpen = (): void => {
      ws.removeEventListener('error', onFail);
      ws.removeEventListener('close', onFail);
      const transport = browserWsTransport(ws, transportOptions);
      if (!attempt.resolve(transport)) transport.destroy();
    };
    ws.addEventListener('open', onOpen, { once: true });
    ws.addEventListener('error', onFail);
    ws.addEventListener('close', onFail);
    return () => ws.close();
  });
}

/**
 * The WebSocket class a dial uses: option `WebSocket`, else the runtime's. A ConfigError when
 * there is none, or what was given is no class (which failed as "Ctor is not a constructor"):
 * the browser connect() asks at its call, where its first attempt found out and closed the
 * session. `name` is the option's as the caller wrote it (connect(): `ws.WebSocket`).
 */
export function webSocketClass(options: BrowserWsDialOptions, name = 'WebSocket'): WebSocketConstructor {
  // Left out (undefined) it is the runtime's; null or a string, read as none, chose the runtime's
  // in its place without a word.
  if (options.WebSocket !== undefined) checkType(`option ${name}`, options.WebSocket, 'function');
  const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  // Node.js 20 and 21 have no global WebSocket. The option's name is the one a caller of the
  // browser connect() writes too (`ws.WebSocket`), not only this function's (`WebSocket`).
  if (typeof Ctor !== 'function')
    throw new ConfigError(
      "no WebSocket implementation (this runtime has no global WebSocket: Node.js before 22): pass a WebSocket class, such as the ws package's, as option WebSocket (connect(): ws.WebSocket)",
    );
  return Ctor;
}

/** Throws ConfigError for a transport or dial option the dial would refuse (water marks, timers, protocols). */
export function checkBrowserWsOptions(options: BrowserWsDialOptions): void {
  waterMarks(options, transportDefaults.wsHighWaterMark);
  checkTransportOptions(options);
  // Else the WebSocket class threw at each attempt, and the first one closed connect()'s session.
  const { protocols } = options;
  if (protocols !== undefined) {
    for (const p of Array.isArray(protocols) ? protocols : [protocols]) checkType('protocols', p, 'string');
  }
}

/** The schemes a WebSocket takes: http(s) too, which browsers (2024 on) open as ws(s). */
const WS_SCHEMES = new Set(['ws:', 'wss:', 'http:', 'https:']);

/**
 * Throws ConfigError unless `url` is one a WebSocket can open: ws:// or wss:// (or http(s)://),
 * absolute or, in a page, relative to it. Checked before any attempt so that a tcp:// URL (from
 * Node.js code) or a host without a scheme is refused by the call, as the Node.js connect() does,
 * rather than by a first attempt that closes the session.
 */
export function checkWsUrl(url: string): void {
  const base = pageUrl();
  let u: URL | null = null;
  try {
    u = new URL(url, base);
  } catch {
    // u stays null: said below.
  }
  if (u === null || !WS_SCHEMES.has(u.protocol)) {
    throw new ConfigError(
      `invalid WebSocket URL "${withoutPassword(String(url))}": expected ws:// or wss:// (the browser build has no tcp:// or tls://)`,
    );
  }
}

/**
 * `url` as every WebSocket takes it: absolute, with a ws: or wss: scheme. Browsers before 2024
 * (Safari on iOS 16 and older, Chrome before 125, Firefox before 124) throw a SyntaxError for a
 * relative URL or an http(s) one, which checkWsUrl accepts: the first attempt failed with a
 * ConfigError and closed the session. A URL that does not parse goes as it is (the WebSocket says why).
 */
export function absoluteWsUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url, pageUrl());
  } catch {
    return url;
  }
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  return u.href;
}

/** The page's (or worker's) URL, which relative WebSocket URLs resolve against; none elsewhere. */
function pageUrl(): string | undefined {
  try {
    const href = (globalThis as { location?: { href?: unknown } }).location?.href;
    return typeof href === 'string' ? href : undefined;
  } catch {
    // Deno throws on reading `location` when it was started without --location.
    return undefined;
  }
}

function checkTransportOptions(options: BrowserWsOptions): void {
  // Kept as given, it named the peer in every log line: a number there passed unseen.
  if (options.remoteAddress !== undefined) checkType('remoteAddress', options.remoteAddress, 'string');
  checkLogger('logger', options.logger);
  checkDelayOption('pollInterval', options.pollInterval, 0);
  checkDelayOption('closeTimeout', options.closeTimeout, 0);
  checkNumber('maxHeldBytes', options.maxHeldBytes, 1, true);
}

/** By tag, as for ArrayBuffer; Blob is absent from some runtimes' globals. */
function isBlob(data: unknown): boolean {
  return Object.prototype.toString.call(data) === '[object Blob]';
}

/** Browsers never expose the peer IP; the URL's host is the best name there is. */
function hostOf(url: string | undefined): string {
  try {
    return new URL(url ?? '').host || 'websocket';
  } catch {
    return url || 'websocket';
  }
}
