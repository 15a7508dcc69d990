import * as http from 'node:http';
import * as https from 'node:https';
import { createRequire } from 'node:module';
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import type * as tls from 'node:tls';
import type { ClientOptions, WebSocket, WebSocketServer } from 'ws';
import { ConfigError, ConnectionClosedError, LimitError, ProtocolError } from '../errors.js';
import { byteLength } from '../util/bytes.js';
import { checkFunction, checkMethods, checkOptions, checkType, shown as shownValue } from '../util/check.js';
import type { Logger } from '../util/logger.js';
import { withoutPassword } from '../util/url.js';
import { handOver, tellHook } from './app-hooks.js';
import {
  abnormalClosure,
  checkDelayOption,
  checkNumber,
  closeTimedOut,
  formatAddress,
  listenerLogger,
  transportDefaults,
  type WaterMarkOptions,
  waterMarks,
  withConfigErrors,
} from './defaults.js';
import { type DialOptions, guardDial } from './dial.js';
import {
  answerNotTls,
  type HandshakeRefused,
  handshakeFailure,
  httpClientError,
  httpHandshakeTimeouts,
  PendingHandshakes,
  requestPath,
  upgradeOr404,
} from './handshakes.js';
import { HandlerSlot, Inbox } from './inbox.js';
import { secureContextSetter } from './secure-context.js';
import { type Listener, type ListenOptions, startListener } from './tcp.js';
import { dialFailure } from './tls-failure.js';
import type { Transport, TransportHandlers } from './types.js';
import type { WsClientOptions, WsSocket } from './ws-types.js';
import { type FrameSocket, WsFrameWriter } from './ws-writer.js';

/** What `require('ws')` returns: the WebSocket class, with the server class as a property. */
type WsModule = typeof WebSocket & { WebSocketServer: typeof WebSocketServer };
let wsModule: WsModule | null = null;

/**
 * `ws`, loaded on first use: most programs that import flexmux never touch WebSocket, and loading
 * `ws` costs about as much as the rest of the package (docs/performance.md, "Start-up"). It is
 * required, not imported: an ES import of a CommonJS package also runs Node's export scanner
 * over it. The module is the one an application's own `import ... from 'ws'` gets.
 */
function wsLib(): WsModule {
  if (wsModule === null) wsModule = createRequire(import.meta.url)('ws') as WsModule;
  return wsModule;
}

const OPEN = 1;
const CLOSED = 3;

/**
 * Pongs owed to the peer (written, not yet flushed) before it is cut off with a LimitError: as many
 * as `ws` itself allows before it terminates, silently, for the same reason (flex sends no
 * WebSocket pings; a peer that floods them and does not read the pongs would fill our memory).
 */
const MAX_PENDING_PONGS = 60;

/**
 * Through `ws.send` (a bare WebSocket given to wsTransport, whose socket is unknown), a message
 * shorter than this goes as one WebSocket frame, copied together, rather than as a fragment per
 * part: each fragment is a frame header and a socket write, which costs more than
 * copying a small payload (and a client masks, so copies, every fragment anyway).
 */
const WHOLE_BELOW = 4096;

/**
 * What a WebSocket dial that reached a port speaking something else adds to its error. A ws://
 * dial to a wss:// port (one letter off) is hung up on, or answered with a TLS alert, too.
 */
function schemeHint(protocol: string): string {
  const hint =
    "the URL's scheme may not match the port: a switcher's tcp:// or tls:// port takes no ws:// or wss:// URL";
  return protocol === 'ws:' ? `${hint}, and a wss:// port takes no ws:// URL` : hint;
}

/** The options of a WebSocket dial that ws calls back. */
const WS_CALLBACKS = ['finishRequest', 'generateMask', 'checkServerIdentity', 'createConnection'] as const;

/** The most of a 400's body that a dial's error quotes. */
const MAX_QUOTED_BODY = 300;

/**
 * Reads what a server says with the 400 it answered a WebSocket upgrade with (a flexmux switcher's
 * tcp:// port answers a ws:// URL so, naming the port to use), at most MAX_QUOTED_BODY bytes'
 * worth, as one line of printable text. Calls `done` once: at the body's end, at the bound, or
 * when the response fails or closes; a body that never ends is the dial timeout's.
 */
function badRequest(res: http.IncomingMessage, done: (text: string) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    const text = Buffer.concat(chunks)
      .subarray(0, MAX_QUOTED_BODY)
      .toString('utf8')
      .replace(/[^\x20-\x7e]+/g, ' ')
      .trim();
    done(text);
  };
  res.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= MAX_QUOTED_BODY) finish();
  });
  res.once('end', finish);
  res.once('close', finish);
  res.once('error', finish);
}

/** The parts back to back in one Buffer (a Buffer, so ws need not wrap it again). */
function joined(parts: readonly Uint8Array[]): Buffer {
  const out = Buffer.allocUnsafe(byteLength(parts));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** One flex frame per binary message (PROTOCOL.md 1.6). */
export interface WsTransportOptions extends WaterMarkOptions {
  /**
   * ms the closing handshake may take before the socket is terminated: with an error
   * (ConnectionClosedError) when bytes `send` accepted were still unsent, else a clean end.
   * Default 5000.
   */
  closeTimeout?: number;
}

/** The largest message a WebSocket transport accepts. */
export interface PayloadOption {
  /** Largest message accepted; ws itself refuses bigger ones (close 1009). Default one flex frame. */
  maxPayload?: number;
}

/** A WebSocket dial's options: the transport's, and those `ws` takes (WsClientOptions). */
export interface WsDialOptions extends DialOptions, WsTransportOptions, PayloadOption, WsClientOptions {}

export interface WsUpgradeOptions extends WsTransportOptions, PayloadOption {
  /** Request path served; other paths are left to other handlers. Default '/flex/ws'. */
  path?: string;
}

/** wsUpgradeHandler's options: the upgrade's, and a hook for the upgrades it refuses. */
export interface WsUpgradeHandlerOptions extends WsUpgradeOptions {
  /**
   * Told of each upgrade request to `path` that was refused, once its connection closed: `reason`
   * is `bad-upgrade` (the WebSocket library answered it 400 or 405 itself: no valid
   * Sec-WebSocket-Key or version, not a GET), `req` the request. What the handler is never given
   * (other paths, requests with no upgrade, malformed or slow ones) is the server's to count. One
   * that throws (or rejects) is logged at error through `logger` and otherwise ignored.
   */
  onRefusal?: (reason: 'bad-upgrade', req: http.IncomingMessage) => void;
  /**
   * Where the handler logs a throw of `onTransport` or `onRefusal` (at error, with its stack).
   * Silent by default.
   */
  logger?: Logger;
}

/**
 * With `key`/`cert` (or `pfx`, or an `SNICallback`) the listener serves HTTPS, so clients dial
 * `wss://`; a `cert` or `secureContext` alone asks for HTTPS too (asksForTls).
 */
export interface WsListenOptions extends ListenOptions, WsUpgradeOptions, tls.TlsOptions {
  /**
   * ms a connection has to send its whole HTTP request (the upgrade) before it is closed, and with
   * TLS first as long again for the TLS handshake; Node's own defaults would hold a slow or silent
   * one for a minute or more (120 s for the TLS handshake). Default 10 s.
   */
  handshakeTimeout?: number;
  /**
   * Connections held before their upgrade (in the TLS handshake or the HTTP request) at once; more
   * are closed at once and logged (`handshakeTimeout` bounds how long each is held). Default 1024.
   */
  maxPendingHandshakes?: number;
}

/** Wraps an open `ws` WebSocket. `remoteAddress` is what the transport reports for logs. */
export function wsTransport(
  ws: WsSocket,
  remoteAddress: string,
  options: WsTransportOptions = {},
): Transport {
  checkOptions('wsTransport()', options);
  checkDelayOption('closeTimeout', options.closeTimeout, 0);
  checkMethods('wsTransport() ws', "a ws package's WebSocket", ws, ['on', 'send', 'pause']);
  // Kept as given, it named the peer in every log line and the admin's lists: a number there
  // passed, an object printed as [object Object].
  checkType('wsTransport() remoteAddress', remoteAddress, 'string');
  if (ws.readyState !== OPEN) throw new ConfigError('wsTransport needs an open WebSocket');
  return new WsTransport(ws, remoteAddress, options, null, false);
}

class WsTransport implements Transport {
  readonly framing = 'message';
  /** ws holds an unmasked message's buffers until the socket has written them (`onWritten`). */
  readonly releasesLater = true;
  private readonly slot = new HandlerSlot();
  private readonly inbox: Inbox;
  private readonly high: number;
  private readonly low: number;
  private readonly closeTimeout: number;
  private needDrain = false;
  private closing = false;
  private destroyedHere = false;
  private failure: Error | undefined;
  private graceTimer: ReturnType<typeof setTimeout> | undefined;
  /** Our close timed out with nothing left unsent: the 1006 that follows is no failure. */
  private gaveUpClean = false;
  /** Pongs written whose callback has not come yet (when we answer pings ourselves). */
  private pendingPongs = 0;
  private readonly onPongWritten = (): void => {
    this.pendingPongs--;
  };
  /** Messages sent whose `onWritten` has not come yet. */
  private unwritten = 0;
  /**
   * Passed with every message: ws calls it once the bytes reached the socket, in order, so the
   * last write to land sees the buffer emptied. Shared, so no closure per send. When the last one
   * lands, whatever `bufferedAmount` still counts is ws's own (a pong, a close frame), written
   * without a callback: waiting for it to fall below the low mark would wait for ever.
   */
  private readonly onWritten = (): void => {
    this.unwritten--;
    if (this.needDrain && (this.ws.bufferedAmount <= this.low || this.unwritten === 0)) {
      this.needDrain = false;
      this.slot.drain();
    }
  };

  /**
   * @param writer Writes each message as one WebSocket frame straight to the connection under
   *   `ws`, where it is known (dialWs, the upgrade handler); without it `ws.send` sends them.
   * @param ownPongs `ws` was made with `autoPong: false`: answer pings here, with a bound that
   *   says why it cut the peer off (ws's own bound terminates without a word).
   */
  constructor(
    private readonly ws: WsSocket,
    readonly remoteAddress: string,
    options: WsTransportOptions,
    private readonly writer: WsFrameWriter | null,
    ownPongs: boolean,
  ) {
    ({ high: this.high, low: this.low } = waterMarks(options, transportDefaults.wsHighWaterMark));
    this.closeTimeout = options.closeTimeout ?? transportDefaults.closeTimeout;
    this.inbox = new Inbox(this.slot, { ended: () => this.slot.close(this.failure) });
    ws.binaryType = 'nodebuffer';
    // Nothing may be read before attach; ws.pause stops the socket, the inbox holds what was parsed.
    ws.pause();
    ws.on('message', (data, isBinary) => {
      if (!isBinary) {
        this.fail(
          new ProtocolError('text WebSocket message: flex carries binary messages only (PROTOCOL.md 1.6)'),
        );
        return;
      }
      // binaryType 'nodebuffer' makes every binary message one Buffer, fragments already joined.
      this.inbox.push(data as Buffer);
    });
    ws.on('error', (err: Error & { code?: string }) => {
      if (this.destroyedHere) return;
      this.failure ??= err.code?.startsWith('WS_ERR_')
        ? new ProtocolError(`WebSocket protocol error: ${err.message}`, { cause: err })
        : new ConnectionClosedError(`WebSocket to ${remoteAddress} failed: ${err.message}`, { cause: err });
    });
    ws.on('close', (code, reason) => this.onClose(code, reason.toString()));
    if (ownPongs) ws.on('ping', (data) => this.onPing(data));
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  get closed(): boolean {
    return this.closing || this.slot.closed || this.ws.readyState !== OPEN;
  }

  attach(handlers: TransportHandlers): void {
    this.slot.attach(handlers);
    this.inbox.kick();
    if (!this.inbox.isPaused) this.ws.resume();
  }

  send(parts: readonly Uint8Array[], onReleased?: () => void): boolean {
    if (this.closed) {
      if (onReleased !== undefined) queueMicrotask(onReleased);
      return false;
    }
    const ws = this.ws;
    this.unwritten++;
    // ws calls each message's callback once the socket has written it, in order. Only a send
    // that asks for its release (reuseWrittenBuffers) gets a callback of its own for that.
    const written = onReleased === undefined ? this.onWritten : this.writtenThen(onReleased);
    if (this.writer !== null) {
      this.writer.write(parts, written);
    } else if (parts.length === 1) {
      ws.send(parts[0], { binary: true }, written);
    } else if (byteLength(parts) < WHOLE_BELOW) {
      ws.send(joined(parts), { binary: true }, written);
    } else {
      // Fragments of one message (RFC 6455 5.4) avoid copying the payload behind the header;
      // nothing else can be sent between them because this loop does not yield. Without the
      // socket (a bare WebSocket given to wsTransport) each fragment is a write of its own.
      const last = parts.length - 1;
      for (let i = 0; i < last; i++) {
        if (parts[i].length > 0) ws.send(parts[i], { binary: true, fin: false });
      }
      ws.send(parts[last] ?? EMPTY, { binary: true, fin: true }, written);
    }
    if (ws.bufferedAmount > this.high) this.needDrain = true;
    return !this.needDrain;
  }

  /** `onWritten`, then the send's `onReleased`. */
  private writtenThen(onReleased: () => void): () => void {
    return () => {
      this.onWritten();
      onReleased();
    };
  }

  pauseReading(): void {
    this.inbox.pause();
    this.ws.pause();
  }

  resumeReading(): void {
    this.inbox.resume();
    if (this.slot.attached) this.ws.resume();
  }

  close(): void {
    if (this.closing) return;
    this.closing = true;
    // The connection already ended: nothing to close, and a grace timer would only outlive it.
    if (this.ws.readyState === CLOSED) return;
    this.ws.close(1000);
    this.startGrace();
  }

  destroy(err?: Error): void {
    if (this.slot.closed || this.destroyedHere) return;
    this.destroyedHere = true;
    this.closing = true;
    this.failure = err;
    this.inbox.clear();
    if (this.ws.readyState === CLOSED) queueMicrotask(() => this.slot.close(err));
    else this.ws.terminate();
  }

  private onPing(data: Buffer): void {
    if (this.ws.readyState !== OPEN) return;
    if (this.pendingPongs >= MAX_PENDING_PONGS) {
      if (this.failure !== undefined || this.destroyedHere) return;
      this.failure = new LimitError(
        `WebSocket peer sent more than ${MAX_PENDING_PONGS} pings before reading the pongs: cut off`,
      );
      this.inbox.clear();
      this.closing = true;
      this.ws.terminate();
      return;
    }
    this.pendingPongs++;
    this.ws.pong(data, undefined, this.onPongWritten);
  }

  /** A protocol violation: tell the peer (close 1003, unsupported data), then report `err`. */
  private fail(err: Error): void {
    if (this.failure !== undefined || this.destroyedHere) return;
    this.failure = err;
    this.inbox.clear();
    this.closing = true;
    this.ws.close(1003, 'binary messages only');
    this.startGrace();
  }

  private startGrace(): void {
    if (this.graceTimer !== undefined) return;
    this.graceTimer = setTimeout(() => this.giveUp(), this.closeTimeout);
    this.graceTimer.unref();
  }

  /**
   * The closing handshake ran out of time: terminate, and say what that lost. As over TCP, a close
   * that left nothing unsent ends cleanly (ws reports 1006 for it, which would read as a failure).
   */
  private giveUp(): void {
    this.graceTimer = undefined;
    const lost = closeTimedOut(this.remoteAddress, this.closeTimeout, this.ws.bufferedAmount);
    if (lost !== undefined) this.failure ??= lost;
    else this.gaveUpClean = true;
    this.ws.terminate();
  }

  private onClose(code: number, reason: string): void {
    if (this.graceTimer !== undefined) clearTimeout(this.graceTimer);
    if (this.destroyedHere) {
      this.slot.close(this.failure);
      return;
    }
    // 1000 normal, 1001 going away, 1005 no status: all a clean end.
    const clean = code === 1000 || code === 1001 || code === 1005 || this.gaveUpClean;
    if (this.failure === undefined && !clean) {
      this.failure = new ConnectionClosedError(
        `WebSocket to ${this.remoteAddress} closed with code ${code}${reason ? ` (${reason})` : ''}`,
        code === 1006 ? { cause: abnormalClosure() } : undefined,
      );
    }
    if (this.failure !== undefined) {
      this.inbox.clear();
      this.slot.close(this.failure);
    } else {
      // Messages parsed before the close frame are still owed to a paused reader.
      this.inbox.end();
    }
  }
}

const EMPTY = new Uint8Array(0);

/** `options` without the keys whose value is undefined. */
function definedOnly<T extends object>(options: T): Partial<T> {
  const out: Partial<T> = {};
  for (const key of Object.keys(options) as (keyof T)[]) {
    if (options[key] !== undefined) out[key] = options[key];
  }
  return out;
}

/**
 * The deadline of a WebSocket dial: its `timeout`, or ws's own `handshakeTimeout` where a
 * JavaScript caller gives that (as ws's options are spread in: the types leave it out), the
 * smaller of both. Given to ws, its expiry was a ConnectionClosedError ("Opening handshake has
 * timed out") that named neither the delay nor the likely cause, a 0 meant none, and a negative
 * one threw from inside Node; as the dial's own deadline it is the TimeoutError `timeout` gives,
 * and checked as `timeout` is.
 */
function dialDeadline(timeout: number | undefined, handshakeTimeout: number | undefined): number | undefined {
  checkDelayOption('timeout', timeout, 1);
  checkDelayOption('handshakeTimeout', handshakeTimeout, 1);
  if (handshakeTimeout === undefined) return timeout;
  return timeout === undefined ? handshakeTimeout : Math.min(timeout, handshakeTimeout);
}

// async as dialTcp is: a bad argument rejects rather than throws.
/**
 * Connects to a `ws://` or `wss://` URL (`headers` and TLS options as the ws client takes them) and resolves
 * to the transport; fails as `dialTcp()` does.
 */
export async function dialWs(url: string, options: WsDialOptions = {}): Promise<Transport> {
  const parsed = parseUrl(url);
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
    throw new ConfigError(`dialWs needs a ws:// or wss:// URL, got ${withoutPassword(url)}`);
  }
  checkOptions('dialWs()', options);
  const {
    signal,
    timeout,
    handshakeTimeout,
    highWaterMark,
    lowWaterMark,
    closeTimeout,
    maxPayload,
    ...given
  } = options as WsDialOptions & { handshakeTimeout?: number };
  const transportOptions = { highWaterMark, lowWaterMark, closeTimeout };
  waterMarks(transportOptions, transportDefaults.wsHighWaterMark);
  checkDelayOption('closeTimeout', closeTimeout, 0);
  checkNumber('maxPayload', maxPayload, 1, true);
  const deadline = dialDeadline(timeout, handshakeTimeout);
  // Called by ws once the request is made (a bad finishRequest left its request without an error
  // listener: its connection's failure ended the process), or for every frame (generateMask).
  for (const name of WS_CALLBACKS) {
    const fn = given[name];
    if (fn !== undefined) checkType(`option ${name}`, fn, 'function');
  }
  // An option given as undefined (`{ ...settings }` of settings left unset) is ws's default, as
  // it is ours: spread as it was, it replaced ws's default with undefined (a protocolVersion of
  // undefined refused, a maxRedirects of undefined following redirects for ever).
  const clientOptions = definedOnly(given);
  const shown = withoutPassword(url);
  // Whether the connection was made, and whether anything answered the upgrade in HTTP: a port
  // that took the connection and then hung up, answered in another protocol or said nothing is
  // likely one of another scheme (a Go switcher's tcp:// port reads the request as an admission;
  // a flexmux one answers 400, below).
  let reached = false;
  let answered = false;
  const unanswered = (): string =>
    reached && !answered
      ? `: the connection was made, but nothing answered the WebSocket upgrade; ${schemeHint(parsed.protocol)}`
      : '';
  return guardDial<Transport>(
    `WebSocket dial to ${shown}`,
    { signal, timeout: deadline, timeoutHint: unanswered },
    (attempt) => {
      const ws = new (wsLib())(url, {
        // As given. The cast: @types/ws says checkServerIdentity returns a boolean, but ws passes
        // it on to Node's tls.connect, which wants an Error or undefined (WsClientOptions' type).
        ...(clientOptions as ClientOptions),
        // flex uses no extension (PROTOCOL.md 1.6); compression would only cost CPU on framed binary.
        perMessageDeflate: false,
        maxPayload: maxPayload ?? transportDefaults.wsMaxPayload,
        // Answered by the transport, which says why when it cuts a ping flood off.
        autoPong: false,
        finishRequest: (req, websocket) => {
          req.once('socket', (s: net.Socket) => {
            if (!s.connecting) reached = true;
            else
              s.once('connect', () => {
                reached = true;
              });
          });
          req.once('response', () => {
            answered = true;
          });
          if (clientOptions.finishRequest) clientOptions.finishRequest(req, websocket);
          else req.end();
        },
      });
      let remote = parsed.host;
      let socket: FrameSocket | null = null;
      ws.once('upgrade', (res: http.IncomingMessage) => {
        answered = true;
        remote = formatAddress(res.socket.remoteAddress, res.socket.remotePort);
        socket = res.socket;
      });
      const onError = (err: Error & { code?: string }): void => {
        // A URL without the switcher's path (ws://host:port) is the likeliest cause of a 404.
        let hint = / 404$/.test(err.message)
          ? ` (no WebSocket endpoint at path ${parsed.pathname}; a flexmux switcher serves ${transportDefaults.wsPath} unless told otherwise)`
          : '';
        if (reached && !answered) {
          if (err.code?.startsWith('HPE_'))
            hint = ` (the server answered the WebSocket upgrade with bytes that are not HTTP; ${schemeHint(parsed.protocol)})`;
          else if (err.code === 'ECONNRESET')
            hint = ` (the server closed the connection without answering the WebSocket upgrade; ${schemeHint(parsed.protocol)})`;
        }
        const { text, cause } = dialFailure(err);
        attempt.reject(
          new ConnectionClosedError(`WebSocket dial to ${shown} failed: ${text}${hint}`, { cause }),
        );
      };
      ws.on('error', onError);
      ws.once('unexpected-response', (_req: http.ClientRequest, res: http.IncomingMessage) => {
        answered = true;
        // What ws does without this listener, as it did: the same error, the connection dropped.
        // A 400 says the request itself is wrong, which every later attempt sends again: a
        // ProtocolError, which a session's ready() gives up on (refusal.ts), with what the server
        // said (a flexmux switcher's tcp:// port names the port to use).
        if (res.statusCode !== 400) {
          onError(new Error(`Unexpected server response: ${res.statusCode}`));
          ws.terminate();
          return;
        }
        badRequest(res, (text) => {
          attempt.reject(
            new ProtocolError(
              `WebSocket dial to ${shown} failed: the server answered the upgrade with HTTP 400 Bad Request${text === '' ? '' : ` (${JSON.stringify(text)})`}; ${schemeHint(parsed.protocol)}`,
            ),
          );
          ws.terminate();
        });
      });
      ws.once('open', () => {
        const writer = socket === null ? null : new WsFrameWriter(socket, true, clientOptions.generateMask);
        const transport = new WsTransport(ws, remote, transportOptions, writer, true);
        ws.off('error', onError);
        if (!attempt.resolve(transport)) transport.destroy();
      });
      return () => ws.terminate();
    },
  );
}

/**
 * Serves flex over WebSocket on a user's own http(s) server: mount the result on its 'upgrade'
 * event. It returns false, touching nothing, when the path is not ours so other handlers can run.
 * `onRefusal` hears of the upgrades to the path it refused. An `onTransport` that throws (or
 * rejects) is logged at error with its stack through `options.logger` and that connection
 * destroyed; one of `onRefusal` is logged and ignored. Either way the server goes on.
 */
export function wsUpgradeHandler(
  options: WsUpgradeHandlerOptions,
  onTransport: (transport: Transport) => void,
): (req: http.IncomingMessage, socket: Duplex, head: Buffer) => boolean {
  checkOptions('wsUpgradeHandler()', options);
  // Only an upgrade called it: a bad one failed there, in the server's 'upgrade' handler.
  checkType('wsUpgradeHandler() onTransport', onTransport, 'function');
  const onRefusal = checkFunction('option onRefusal', options.onRefusal);
  const logger = listenerLogger(options.logger);
  return upgradeHandlerReporting(options, onTransport, logger, onRefusal);
}

/**
 * wsUpgradeHandler, and `onRefused` hears of each upgrade to the path that the WebSocket library
 * refused (`bad-upgrade`: it answers 400 or 405 and closes), with its request. listenWs counts them.
 * Either hook's throw is logged through `logger` (contained: it is called from event handlers).
 */
function upgradeHandlerReporting(
  options: WsUpgradeOptions,
  onTransport: (transport: Transport) => void,
  logger: Logger,
  onRefused?: (reason: 'bad-upgrade', req: http.IncomingMessage) => void,
): (req: http.IncomingMessage, socket: Duplex, head: Buffer) => boolean {
  checkOptions('wsUpgradeHandler()', options);
  const path = options.path ?? transportDefaults.wsPath;
  // Compared with the request's path, which starts with '/' and stops before a query: any other
  // path matched nothing, and every dial was answered 404.
  if (typeof path !== 'string' || !path.startsWith('/') || /[?#]/.test(path)) {
    throw new ConfigError(`option path must start with / and have no ? or #, got ${shownValue(path)}`);
  }
  checkNumber('maxPayload', options.maxPayload, 1, true);
  const transportOptions: WsTransportOptions = {
    highWaterMark: options.highWaterMark,
    lowWaterMark: options.lowWaterMark,
    closeTimeout: options.closeTimeout,
  };
  waterMarks(transportOptions, transportDefaults.wsHighWaterMark);
  checkDelayOption('closeTimeout', options.closeTimeout, 0);
  const wss = new (wsLib().WebSocketServer)({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: options.maxPayload ?? transportDefaults.wsMaxPayload,
    autoPong: false,
  });
  return (req, socket, head) => {
    if (requestPath(req) !== path) return false;
    const remote = formatAddress(req.socket.remoteAddress, req.socket.remotePort);
    let upgraded = false;
    wss.handleUpgrade(req, socket, head, (ws) => {
      upgraded = true;
      const transport = new WsTransport(ws, remote, transportOptions, new WsFrameWriter(socket, false), true);
      handOver(onTransport, transport, logger);
    });
    // ws answers a request it refuses itself and closes the socket, telling nobody: its close
    // before the upgrade is the refusal (ws completes an upgrade it takes before handleUpgrade
    // returns, so only a refused one is listened to here).
    if (!upgraded && onRefused !== undefined) {
      socket.once('close', () => {
        if (!upgraded) tellHook('onRefusal', onRefused, ['bad-upgrade', req], remote, logger);
      });
    }
    return true;
  };
}

/** What a listenWs serving HTTPS answers an HTTP request sent in the clear with (answerNotTls). */
const HTTP_TO_HTTPS_PORT =
  'This port speaks TLS: use a wss:// URL for its WebSocket (https:// in a browser), not ws:// or http://.\n';

// async as dialTcp is: a bad argument rejects rather than throws.
/**
 * Serves WebSocket upgrades on `path` (default /flex/ws), over HTTPS with `key`/`cert`, `pfx` or an
 * `SNICallback`, and passes each connection to `onTransport`; resolves once bound. An `onTransport`
 * that throws (or rejects) is logged at error with its stack through `options.logger` and that
 * connection destroyed; the listener keeps accepting.
 */
export async function listenWs(
  options: WsListenOptions,
  onTransport: (transport: Transport) => void,
): Promise<Listener> {
  // Only a connection called it: a bad one failed there, with the socket already upgraded.
  checkType('listenWs() onTransport', onTransport, 'function');
  return listenWsReporting(options, onTransport);
}

/**
 * listenWs, and `onRefused` hears of every connection closed before its WebSocket upgrade (and,
 * over TLS, its TLS handshake) was done, with why (handshakes.ts HANDSHAKE_REFUSAL_REASONS): the
 * switcher's listeners count them (switcher-node.ts). Not in the package's API.
 */
export async function listenWsReporting(
  options: WsListenOptions,
  onTransport: (transport: Transport) => void,
  onRefused?: HandshakeRefused,
): Promise<Listener> {
  checkOptions('listenWs()', options);
  const {
    host,
    port,
    backlog,
    logger: given,
    path,
    maxPayload,
    highWaterMark,
    lowWaterMark,
    closeTimeout,
    handshakeTimeout,
    maxPendingHandshakes,
    ...tlsOptions
  } = options;
  // Contained: its lines come from the server's handlers before a connection is answered or
  // closed, where a logger that throws (a closed pipe) ended the process and left it open.
  const logger = listenerLogger(given);
  checkDelayOption('handshakeTimeout', handshakeTimeout, 1, true);
  checkNumber('maxPendingHandshakes', maxPendingHandshakes, 1, true);
  const handshake = handshakeTimeout ?? transportDefaults.wsHandshakeTimeout;
  // Until it upgrades, a connection belongs to the HTTP server: bound it as admission bounds the rest.
  const httpOptions = httpHandshakeTimeouts(handshake);
  const upgrade = upgradeHandlerReporting(
    { path, maxPayload, highWaterMark, lowWaterMark, closeTimeout },
    onTransport,
    logger,
    onRefused === undefined ? undefined : (reason) => onRefused(reason),
  );
  const secure = asksForTls(tlsOptions);
  const server = secure
    ? withConfigErrors('WebSocket listener', () =>
        https.createServer({ ...tlsOptions, ...httpOptions, handshakeTimeout: handshake }),
      )
    : http.createServer(httpOptions);
  const handshakes = new PendingHandshakes(
    server,
    maxPendingHandshakes ?? transportDefaults.maxPendingHandshakes,
    logger,
    0,
    onRefused,
  );
  // A malformed or too slow request, or (wss) a failed TLS handshake: say so, answer as Node would.
  const onClientError = httpClientError(server, logger);
  server.on('clientError', (err: Error & { code?: string }, socket: Duplex) => {
    handshakes.refuse(socket as net.Socket, handshakeFailure(err, secure));
    // Answered in the clear before the TLS socket is closed, as listenTls answers (tls.ts).
    if (secure) answerNotTls(handshakes.rawOf(socket as net.Socket), err, HTTP_TO_HTTPS_PORT);
    onClientError(err, socket);
  });
  const wsPath = path ?? transportDefaults.wsPath;
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const ours = requestPath(req) === wsPath;
    handshakes.refuse(req.socket as net.Socket, 'not-upgrade');
    res.statusCode = ours ? 426 : 404;
    // A 426 must name the protocol to switch to (RFC 9110 15.5.22), or a client cannot tell how.
    if (ours) res.setHeader('upgrade', 'websocket');
    res.setHeader('connection', 'close');
    res.end();
  });
  server.on('upgrade', upgradeOr404(server, handshakes, upgrade));
  // http.Server.close also drops idle keep-alives; upgraded sockets belong to their transports.
  const listening = startListener(server, { host, port, backlog, logger }, () => handshakes.destroyAll());
  if (!(server instanceof https.Server)) return listening;
  const setSecureContext = secureContextSetter(server, tlsOptions);
  return listening.then((l) => ({ ...l, setSecureContext }));
}

/**
 * Whether listener options ask for TLS: a key or pfx, an SNICallback (a certificate per name), or a
 * certificate or secureContext (which Node's server ignores, so its handshakes fail). Looking at
 * key and pfx alone served a listener given only the others over plain HTTP: the TLS it was given
 * silently left out, where failing handshakes at least say so.
 */
export function asksForTls(options: tls.TlsOptions): boolean {
  return (
    options.key !== undefined ||
    options.pfx !== undefined ||
    options.SNICallback !== undefined ||
    options.cert !== undefined ||
    options.secureContext !== undefined
  );
}

function parseUrl(url: string): URL {
  try {
    return new URL(url);
  } catch (cause) {
    throw new ConfigError(`invalid URL ${withoutPassword(url)}`, { cause });
  }
}
