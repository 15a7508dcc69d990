import type * as tls from 'node:tls';
import { ConfigError } from './errors.js';
import { FlexStream } from './face/duplex.js';
import { BaseNode } from './node/node.js';
import { Session, type SessionOptions } from './node/session.js';
import { transportDefaults } from './transport/defaults.js';
import { dialTcp } from './transport/tcp.js';
import { dialTls } from './transport/tls.js';
import type { Transport } from './transport/types.js';
import { dialWs } from './transport/ws.js';
import { checkBool, checkDelay, checkObject, checkOptions } from './util/check.js';
import { withoutPassword } from './util/url.js';

/** Options of `connect(url, options)` on Node.js: the session's, and those of its transport. */
export interface ConnectOptions extends SessionOptions {
  /**
   * TLS options for tls:// and wss:// (ca, rejectUnauthorized, servername, ...). Each connection
   * attempt reads this object's fields again, so a field changed in it (a reloaded `ca`) applies
   * from the next attempt on. Given with a tcp:// or ws:// URL it is a ConfigError: that
   * connection would be plain text.
   */
  tls?: tls.ConnectionOptions;
  /**
   * Extra HTTP headers for the WebSocket upgrade. Given with a tcp:// or tls:// URL it is a
   * ConfigError: no HTTP request is made there, so they would never be sent.
   */
  headers?: Record<string, string>;
  /** Timeout of one transport connection attempt, ms (default 10 s). */
  connectTimeout?: number;
  /**
   * ws:// and wss:// only: frames to the switcher carry an all-zero masking key, which the `ws`
   * library then neither copies nor XORs (default false: a random key per frame, as RFC 6455
   * asks). The key exists so that a page's script cannot make a proxy that does not speak
   * WebSocket read bytes it chose as HTTP (RFC 6455 section 10.3); over wss:// no proxy sees the
   * bytes. One stream's upload runs ~1.7x as fast with it (bench/wsbulk.mjs, docs/performance.md).
   * `true` with a tcp:// or tls:// URL is a ConfigError: nothing is masked there.
   */
  wsZeroMask?: boolean;
  /**
   * Aborting fails the connection attempt in flight (dial or admission) with AbortError and
   * closes the session, also while it waits to reconnect. Once connected, an abort leaves the
   * connection up (`session.close()` disconnects); if it drops later, the session closes instead
   * of reconnecting. `null` counts as none.
   */
  signal?: AbortSignal | null;
}

/**
 * Whether a switcher URL's scheme (`URL.protocol`) carries no WebSocket frames, so nothing there
 * is masked and `wsZeroMask` would do nothing (connect() refuses it; so does the CLI's flag).
 */
export function masksNothing(protocol: string): boolean {
  return protocol === 'tcp:' || protocol === 'tls:';
}

/** Whether a switcher URL's scheme (`URL.protocol`) runs over TLS, so `tls` options apply to it. */
export function encrypts(protocol: string): boolean {
  return protocol === 'tls:' || protocol === 'wss:';
}

/**
 * Refuses options that would do nothing with this scheme while their caller believes they do:
 * `tls` with tcp:// or ws:// (a `ca` or `rejectUnauthorized` given for a connection that is then
 * plain text, with nothing to say so), `headers` with tcp:// or tls:// (no HTTP request carries
 * them), `wsZeroMask: true` with tcp:// or tls:// (faster uploads that never come).
 */
function checkScheme(u: URL, o: ConnectOptions, zero: boolean): void {
  const scheme = `${u.protocol}//`;
  const known = ['tcp:', 'tls:', 'ws:', 'wss:'].includes(u.protocol);
  // An unknown scheme is refused below, as such.
  if (!known) return;
  if (o.tls !== undefined && !encrypts(u.protocol)) {
    const secure = u.protocol === 'tcp:' ? 'tls://' : 'wss://';
    throw new ConfigError(
      `option tls is for tls:// and wss:// URLs only: a ${scheme} connection is not encrypted, so its TLS options would be ignored; use a ${secure} URL (the switcher's TLS port), or drop the option`,
    );
  }
  if (o.headers !== undefined && masksNothing(u.protocol)) {
    throw new ConfigError(
      `option headers is for ws:// and wss:// URLs only: they go with the WebSocket upgrade, and a ${scheme} connection makes no HTTP request`,
    );
  }
  // Masking is a WebSocket thing: on tcp:// or tls:// the option would do nothing, and a caller
  // who set it believes it does (faster uploads that never come).
  if (zero && masksNothing(u.protocol)) {
    throw new ConfigError(
      `option wsZeroMask is for ws:// and wss:// only, not ${scheme} (nothing is masked there)`,
    );
  }
}

/** Fills a WebSocket masking key with zeros: a key of 0 leaves the payload as it is. */
function zeroMask(mask: Uint8Array): void {
  mask.fill(0);
}

/** A reconnecting session whose streams are Node.js Duplexes. */
export type NodeSession = Session<FlexStream>;

/** Returns a function that opens a fresh transport to `url` for every (re)connection attempt. */
export function connector(
  url: string,
  o: ConnectOptions = {} as ConnectOptions,
): (signal: AbortSignal) => Promise<Transport> {
  checkOptions('connector()', o);
  // null is no way to say none here either (leave them out for that); `signal: null` is.
  checkObject('option tls', o.tls);
  checkObject('option headers', o.headers);
  let u: URL;
  try {
    u = new URL(url);
  } catch (err) {
    throw new ConfigError(
      `invalid switcher URL "${withoutPassword(url)}": expected tcp://HOST:PORT, tls://HOST:PORT, ws://HOST:PORT/PATH or wss://HOST:PORT/PATH`,
      { cause: err },
    );
  }
  // A timer delay: 2^31 ms or more would make every dial's timer fire at once.
  const timeout = checkDelay('option connectTimeout', o.connectTimeout ?? transportDefaults.connectTimeout);
  const zero = o.wsZeroMask === undefined ? false : checkBool('option wsZeroMask', o.wsZeroMask);
  checkScheme(u, o, zero);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = (d: number): number => (u.port === '' ? d : Number(u.port));
  switch (u.protocol) {
    case 'tcp:':
      return (signal) => dialTcp(host, port(7000), { signal, timeout });
    case 'tls:':
      return (signal) => dialTls(host, port(7443), { ...o.tls, signal, timeout });
    case 'ws:':
    case 'wss:':
      return (signal) =>
        dialWs(u.toString(), {
          // All of them, as for tls:// (servername, pfx, minVersion...): ws hands them to
          // tls.connect as they are.
          ...o.tls,
          headers: o.headers,
          ...(zero ? { generateMask: zeroMask } : {}),
          signal,
          timeout,
        });
    default:
      throw new ConfigError(`unsupported switcher URL scheme "${u.protocol}" (use tcp, tls, ws or wss)`);
  }
}

/**
 * Connects to a switcher and stays connected: `tcp://host:port`, `tls://host:port`,
 * `ws://host:port/flex/ws` or `wss://...`. The session admits with `password` and `domain`,
 * reconnects with back-off, and re-registers its listeners.
 */
export function connect(url: string, options: ConnectOptions): NodeSession {
  // Read by connector() before the session checks them: refused here under this call's name.
  checkOptions('connect()', options);
  return new Session<FlexStream>({
    ...options,
    connector: connector(url, options),
    makeNode: (t, nodeOptions) => new BaseNode(t, nodeOptions, (core) => new FlexStream(core)),
    // connect() bounds attempts with its signal only: connectTimeout and admissionTimeout time them.
    signal: options.signal,
    timeout: undefined,
  });
}
