import type * as http from 'node:http';
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { Burst } from '../util/burst.js';
import { type Logger, silentLogger } from '../util/logger.js';
import { now } from '../util/timers.js';
import { formatAddress, hungUp } from './defaults.js';

/**
 * Why a TLS or WebSocket listener closed a connection before it became a transport, so before the
 * switcher's admission saw it (which has reasons of its own, admission.ts REFUSAL_REASONS):
 * - `overloaded`: `maxPendingHandshakes` connections were in their handshake already;
 * - `timeout`: the TLS handshake or the HTTP upgrade request took longer than `handshakeTimeout`
 *   (a client that connects and sends nothing included);
 * - `not-tls`: bytes that are not TLS at a TLS port (a tcp:// or ws:// client, a browser's
 *   http://), answered with an alert or a 400;
 * - `tls`: any other failed TLS handshake: no version or cipher in common, an alert from a
 *   client that refused the certificate, or a client that hung up after it began its handshake
 *   (sent bytes) and before it was done, as a Node client that refuses the certificate does (with
 *   TLS 1.3 it reads the server's whole first flight, then closes without an alert or its Finished);
 * - `bad-request`: an HTTP request that could not be parsed (headers too large included);
 * - `not-upgrade`: an HTTP request that asked for no WebSocket upgrade, answered 426 or 404;
 * - `path`: an upgrade to a path not served, answered 404;
 * - `bad-upgrade`: an upgrade to the path that the WebSocket library refused (no valid
 *   Sec-WebSocket-Key or version, not a GET), answered 400 or 405;
 * - `closed`: the client hung up before its handshake was done: having sent nothing, or (over
 *   wss) after its TLS handshake, before its HTTP request;
 * - `shutdown`: the listener closed while it was in its handshake.
 */
export const HANDSHAKE_REFUSAL_REASONS = [
  'overloaded',
  'timeout',
  'not-tls',
  'tls',
  'bad-request',
  'not-upgrade',
  'path',
  'bad-upgrade',
  'closed',
  'shutdown',
] as const;

export type HandshakeRefusalReason = (typeof HANDSHAKE_REFUSAL_REASONS)[number];

/** Told of each connection a listener closed before it became a transport, with why. */
export type HandshakeRefused = (reason: HandshakeRefusalReason) => void;

/**
 * Why a handshake failed with `err` (a TLS server's `tlsClientError`, an HTTP server's
 * `clientError`; `secure`: the server speaks TLS), or null for a client that hung up (its close
 * says so, as `closed`, where it is counted: one turned away as `overloaded` is not counted twice).
 */
export function handshakeFailure(
  err: Error & { code?: string },
  secure: boolean,
): HandshakeRefusalReason | null {
  if (hungUp(err)) return null;
  const code = err.code ?? '';
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT' || code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'timeout';
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_HTTP_REQUEST') return 'not-tls';
  if (code.startsWith('HPE_')) return 'bad-request';
  return secure ? 'tls' : 'bad-request';
}

/**
 * Bounds how many connections a TLS or WebSocket listener holds before they become transports:
 * those still in their TLS handshake or HTTP upgrade. The handshake timeout bounds how long each
 * is held, not how many: without this, a crowd opened faster than that timeout would hold as many
 * sockets (and file descriptors) as it liked, outside the switcher's `maxPendingAdmissions`,
 * which only counts connections that are already transports. Beyond `max`, a new connection is
 * closed at once and logged.
 */
export class PendingHandshakes {
  /** By the connection's four addresses, which the raw socket and a TLS socket over it share. */
  private readonly pending = new Map<string, net.Socket>();
  /**
   * Connections found to be plain HTTP (a request that is no upgrade: a browser fetching a page
   * served on the same port), kept open for more requests: bounded by `maxHttp`, not by `max`.
   */
  private readonly http = new Map<string, net.Socket>();
  /**
   * Connections turned away, logged as a burst: the first in full, the rest summed up (a herd of
   * nodes reconnecting at once gave one identical line per connection).
   */
  private readonly turnedAway: Burst;
  /** Why a pending connection is being closed (refuse()), told to `onRefused` at its close. */
  private readonly reasons = new Map<string, HandshakeRefusalReason>();
  /**
   * Connections found to be HTTP past `maxHttp` (request()): still counted as pending until they
   * close after their response, but an HTTP client served, not a handshake refused at its close.
   */
  private readonly served = new Set<string>();
  /** A TLS server's: its connections hang up in their TLS handshake or (HTTPS) after it. */
  private readonly secure: boolean;
  /** Pending connections of an HTTPS server whose TLS handshake is done (their request is not). */
  private readonly secured = new Set<string>();

  /**
   * `maxHttp`: connections that request() may take out of the count once they are found to be
   * HTTP (0: none, every connection counts until it upgrades or closes). `onRefused` hears of each
   * connection closed before its handshake was done (`done()`), once, with why: those turned
   * away, those refuse() gave a reason, and the rest as hung up (`closed`) or cut by the
   * listener's close (`shutdown`).
   */
  constructor(
    server: net.Server,
    private readonly max: number,
    logger: Logger = silentLogger,
    private readonly maxHttp = 0,
    private readonly onRefused: HandshakeRefused = () => {},
  ) {
    this.secure = server instanceof tls.Server;
    this.turnedAway = new Burst(
      (fields) => logger.warn(fields, 'connections turned away before their handshake: too many pending'),
      now,
    );
    server.on('connection', (raw: net.Socket) => {
      const key = connectionKey(raw);
      // Already gone (its addresses are forgotten): nothing to hold, and it closes by itself.
      if (key === null) {
        this.onRefused('closed');
        raw.destroy();
        return;
      }
      if (this.pending.size >= max) {
        this.onRefused('overloaded');
        if (this.turnedAway.hit(this.load())) {
          logger.warn(
            {
              remote: formatAddress(raw.remoteAddress, raw.remotePort),
              ...this.load(),
              more: 'further connections turned away are summed up',
            },
            'connection turned away before its handshake: too many pending',
          );
        }
        raw.destroy();
        return;
      }
      // Taken in: the burst is over once the crowd is down to half the bound (in a herd the count
      // hovers at the bound, and ending it at every connection taken in would log each again).
      if (this.turnedAway.active) {
        if (this.pending.size <= max / 2) this.turnedAway.end(this.load());
        else this.turnedAway.tick(this.load());
      }
      this.pending.set(key, raw);
      raw.once('close', () => {
        if (this.pending.get(key) === raw) {
          if (!this.served.has(key)) this.onRefused(this.reasons.get(key) ?? this.hangUp(key, raw, logger));
          this.forget(key);
        } else if (this.http.get(key) === raw) this.http.delete(key);
      });
    });
    // An HTTPS server's connection is done with TLS here, not yet with its request (a TLS server's
    // is done() at this event, by the listener's own handler, which runs first).
    if (this.secure) {
      server.on('secureConnection', (socket: net.Socket) => {
        const key = connectionKey(socket);
        if (key !== null && this.pending.has(key)) this.secured.add(key);
      });
    }
  }

  /**
   * Why pending connection `raw` (`key`) closed when nobody gave a reason: a hang-up (`closed`),
   * unless it came in the middle of a TLS handshake, once the client had sent something (its
   * ClientHello): a failed handshake (`tls`), logged. A Node client that refuses the certificate
   * does just that, with neither an alert nor an error the server could tell from a hang-up (Node
   * reports ECONNRESET, and only after this close), so without this the most common TLS
   * misconfiguration, an untrusted certificate, counted as clients that went away.
   */
  private hangUp(key: string, raw: net.Socket, logger: Logger): HandshakeRefusalReason {
    if (!this.secure || this.secured.has(key) || raw.bytesRead === 0) return 'closed';
    logger.warn(
      { remote: formatAddress(raw.remoteAddress, raw.remotePort), bytesRead: raw.bytesRead },
      'connection hung up during its TLS handshake (did the client refuse the certificate?)',
    );
    return 'tls';
  }

  private load(): { pending: number; maxPendingHandshakes: number } {
    return { pending: this.pending.size, maxPendingHandshakes: this.max };
  }

  private forget(key: string): void {
    this.pending.delete(key);
    this.reasons.delete(key);
    this.secured.delete(key);
    this.served.delete(key);
    // Drained with nobody taken in since (the turned-away nodes wait their back-off): the rest of
    // the burst is said now, not at the next connection.
    if (this.pending.size === 0) this.turnedAway.end(this.load());
  }

  /** Connections in their handshake now. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * The listener closed: a connection still in its handshake belongs to nobody now (one that
   * finished would be dropped), and an HTTP server stops timing out half-sent requests once closed.
   */
  destroyAll(): void {
    for (const [key, raw] of this.pending) {
      if (!this.served.has(key)) this.onRefused(this.reasons.get(key) ?? 'shutdown');
      raw.destroy();
    }
    this.pending.clear();
    this.reasons.clear();
    this.secured.clear();
    this.served.clear();
    // http.Server.close drops them when idle; one with a request in progress is dropped here.
    for (const raw of this.http.values()) raw.destroy();
    this.http.clear();
    this.turnedAway.end(this.load());
  }

  /**
   * The raw connection under `socket` (a TLS socket over it) while it is in its handshake: where a
   * failed handshake can still be answered in the clear.
   */
  rawOf(socket: net.Socket): net.Socket | undefined {
    const key = connectionKey(socket);
    return key === null ? undefined : this.pending.get(key);
  }

  /**
   * `socket` (the raw one, or the TLS socket over it), in its handshake, is being closed for
   * `reason` (null: none to give), told to `onRefused` at its close; the first reason given stands.
   */
  refuse(socket: net.Socket, reason: HandshakeRefusalReason | null): void {
    const key = connectionKey(socket);
    if (reason === null || key === null || !this.pending.has(key) || this.reasons.has(key)) return;
    this.reasons.set(key, reason);
  }

  /** A connection taken out of the count (done()) was closed all the same, for `reason`. */
  refusedAfter(reason: HandshakeRefusalReason): void {
    this.onRefused(reason);
  }

  /** `socket` (the raw one, or the TLS socket over it) finished its handshake: it counts no more. */
  done(socket: net.Socket): void {
    const key = connectionKey(socket);
    if (key === null) return;
    if (this.pending.has(key)) this.forget(key);
    // An upgrade on a connection that served HTTP before (HTTP/1.1 allows it).
    else this.http.delete(key);
  }

  /**
   * A request that is no upgrade came on `req`'s connection: it is an HTTP client, not a node in
   * its handshake. A browser keeps such a connection open for seconds after its last response, up
   * to six per page, and counted as pending a few browsers on a demo page held the slots that
   * nodes' upgrades need (maxPendingAdmissions, by default). Up to `maxHttp` of them count apart
   * from then on; past that, the response closes its connection, which counts as pending until
   * then, so every connection stays within one bound or the other.
   */
  request(req: http.IncomingMessage, res: http.ServerResponse): void {
    const socket = req.socket as net.Socket;
    const key = connectionKey(socket);
    if (key === null || this.http.has(key)) return;
    const raw = this.pending.get(key);
    if (raw !== undefined && this.http.size < this.maxHttp) {
      this.forget(key);
      this.http.set(key, raw);
      return;
    }
    if (raw !== undefined) this.served.add(key);
    res.setHeader('connection', 'close');
  }

  /** Connections found to be HTTP, kept apart from the pending count (request()). */
  get httpSize(): number {
    return this.http.size;
  }
}

function connectionKey(s: net.Socket): string | null {
  if (s.remoteAddress === undefined || s.remotePort === undefined) return null;
  return `${s.localAddress}|${s.localPort}|${s.remoteAddress}|${s.remotePort}`;
}

/**
 * Logs a connection that failed its TLS handshake or sent a malformed (or too slow) HTTP request:
 * a client speaking the wrong protocol, a certificate it refused, a slowloris cut off. The
 * listeners close it either way; without this line an operator could not tell why.
 */
export function logHandshakeFailure(
  logger: Logger,
  err: Error & { code?: string },
  socket: { remoteAddress?: string; remotePort?: number },
): void {
  // A peer that hung up (or one turned away above, logged already): nothing to say of it.
  if (hungUp(err)) return;
  logger.warn(
    { remote: formatAddress(socket.remoteAddress, socket.remotePort), code: err.code, err: err.message },
    'connection failed its handshake',
  );
}

/**
 * A fatal protocol_version alert (RFC 8446 6.2), answered in the clear to a first record that is
 * not TLS at all (OpenSSL's ERR_SSL_WRONG_VERSION_NUMBER). OpenSSL itself sends none then, and
 * hangs up: a tcp:// node at a TLS port read that as an admission refused without a reason (a
 * wrong password, a rate limit), which its session retried for ever. A reply that starts like a
 * TLS record is what admit() names as a TLS port (use tls://), and no flex reply starts so.
 */
const NOT_TLS_ALERT = Uint8Array.of(0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46);

/**
 * A TLS or secure WebSocket listener's answer to a connection whose first bytes were not TLS
 * (`err`, the failed handshake's error), written on `raw`, the connection under the TLS socket,
 * before that is closed: the alert above, or to an HTTP request (OpenSSL's ERR_SSL_HTTP_REQUEST:
 * a ws:// URL or a browser's http:// given the TLS port) a plain-text 400 with `httpBody`, which
 * says what to use instead. A ws:// dial reads a 400 as a request that every attempt would send
 * again, and gives up with what it says; a hang-up, all it got before, it retried for ever. Other
 * handshake failures are not answered.
 */
export function answerNotTls(
  raw: net.Socket | undefined,
  err: Error & { code?: unknown },
  httpBody: string,
): void {
  if (raw === undefined || !raw.writable) return;
  if (err.code === 'ERR_SSL_WRONG_VERSION_NUMBER') raw.write(NOT_TLS_ALERT);
  else if (err.code === 'ERR_SSL_HTTP_REQUEST') {
    raw.write(
      `HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(httpBody)}\r\nConnection: close\r\n\r\n${httpBody}`,
    );
  }
}

/**
 * An http(s).Server 'clientError' listener for `server`: logs, then answers an HTTP error (400;
 * 408 for a request cut off by requestTimeout, 431 for headers too large) when it would be read
 * as the failed request's own answer, and destroys the socket. Node's default answers only on a
 * connection nothing was written to, so a malformed request on a kept-alive connection, after an
 * earlier answer, got no answer, just a close; this one answers it too.
 */
export function httpClientError(
  server: http.Server,
  logger: Logger,
): (err: Error & { code?: string }, socket: Duplex) => void {
  const lines = new WeakMap<Duplex, Line>();
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    let line = lines.get(req.socket);
    if (line === undefined) {
      line = { unfinished: 0, last: res };
      lines.set(req.socket, line);
    }
    const l = line;
    l.unfinished++;
    l.last = res;
    res.once('close', () => l.unfinished--);
  });
  return (err, socket) => {
    const s = socket as net.Socket;
    logHandshakeFailure(logger, err, s);
    const code = err.code ?? '';
    if (
      s.writable &&
      answerable(lines.get(socket)) &&
      (code.startsWith('HPE_') || code === 'ERR_HTTP_REQUEST_TIMEOUT')
    ) {
      const status =
        code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? '408 Request Timeout'
          : code === 'HPE_HEADER_OVERFLOW'
            ? '431 Request Header Fields Too Large'
            : '400 Bad Request';
      s.write(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
    }
    s.destroy();
  };
}

/** The requests a connection's server has seen: how many are not yet answered, and the latest. */
interface Line {
  unfinished: number;
  last: http.ServerResponse;
}

/**
 * Whether an error answer written now would be read as the failed request's own: the connection
 * had no request yet; or every earlier one was answered in full, and the last answer kept the
 * connection open (after a Connection: close answer the client reads nothing more); or the failed
 * request is the one being handled, still arriving (its body, a timeout), and none of its answer
 * is written yet. Never into an answer under way, nor ahead of unanswered pipelined requests.
 */
function answerable(line: Line | undefined): boolean {
  if (line === undefined) return true;
  const { unfinished, last } = line;
  if (unfinished === 0) return last.req.complete && last.shouldKeepAlive;
  return unfinished === 1 && !last.req.complete && !last.headersSent;
}

/**
 * HTTP server options that bound a connection's upgrade request to `handshake` ms, as admission
 * bounds the rest (Node's defaults hold one for a minute or more; it checks these timeouts on an
 * interval, so check often enough for them to bite).
 */
export function httpHandshakeTimeouts(handshake: number): http.ServerOptions {
  return {
    headersTimeout: handshake,
    requestTimeout: handshake,
    connectionsCheckingInterval: Math.min(handshake, 1_000),
  };
}

/**
 * A WebSocket listener's 'upgrade' listener: the handshake is over (`handshakes` counts it no
 * more); `upgrade` takes the socket, or it is answered 404. After the listener closed, a request
 * that was half read belongs to nobody and is dropped.
 */
export function upgradeOr404(
  server: http.Server,
  handshakes: PendingHandshakes,
  upgrade: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => boolean,
): (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    handshakes.done(socket as net.Socket);
    if (!server.listening) {
      handshakes.refusedAfter('shutdown');
      socket.destroy();
      return;
    }
    if (upgrade(req, socket, head)) return;
    handshakes.refusedAfter('path');
    // The HTTP server took its 'error' listener off the socket before emitting 'upgrade': without
    // one, a client that resets the connection after (or during) this answer crashes the process.
    socket.on('error', () => socket.destroy());
    // An HTTP server's sockets are half-open (allowHalfOpen): after end() alone the socket would
    // wait for the client's end, however long, counted by no bound and left by the listener's
    // close(). Once the answer is written the connection is done.
    socket.once('finish', () => socket.destroy());
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  };
}

/**
 * The path a request asks for, without its query. A target in absolute form (GET http://host/path,
 * which a proxy sends and a server must accept: RFC 9112 3.2.2) is served by its path too.
 */
export function requestPath(req: http.IncomingMessage): string {
  let raw = req.url ?? '/';
  if (!raw.startsWith('/')) {
    try {
      raw = new URL(raw).pathname;
    } catch {
      return raw;
    }
  }
  const q = raw.indexOf('?');
  return q === -1 ? raw : raw.slice(0, q);
}
