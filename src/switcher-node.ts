import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { ConfigError } from './errors.js';
import { handshakeRefused } from './listener-refusals.js';
import type { Switcher } from './switcher/switcher.js';
import {
  type Listener,
  type ListenOptions,
  type SecureTransportListener,
  type TcpListenOptions,
  listenTcp as tcpListen,
} from './transport/tcp.js';
import { type TlsListenOptions, listenTlsReporting as tlsListen } from './transport/tls.js';
import type { Transport } from './transport/types.js';
import {
  asksForTls,
  type WsListenOptions,
  type WsUpgradeOptions,
  listenWsReporting as wsListen,
  wsUpgradeHandler,
} from './transport/ws.js';
import { checkMethods, checkOptions } from './util/check.js';

/**
 * Node.js listeners for a Switcher: each accepted connection goes to `switcher.handle()`. The
 * switcher itself stays runtime-neutral; this file is the only place that joins it to sockets.
 * Every listener stops accepting when the switcher starts closing. The package exports them as
 * serveTcp, serveTls, serveWs and serveWss, so their errors name those: the listen* names here
 * belong to the transports' own listeners too, which callers of these never called.
 */

export type { Listener } from './transport/tcp.js';

/** WebSocket listener options without TLS (see `serveWss`). */
export type WsServeOptions = Omit<WsListenOptions, 'key' | 'cert' | 'pfx' | 'passphrase' | 'ca'>;

/** A ConfigError naming `call` unless `switcher` is a Switcher (duck-typed: one from another copy of the package too). */
export function checkSwitcher(call: string, switcher: Switcher): void {
  checkMethods(`${call} switcher`, 'a Switcher', switcher, ['handle', 'on']);
}

/**
 * A ConfigError unless `switcher` is one (`call` names the function given it: a null one failed
 * with a TypeError, or, given to upgradeHandler(), at its first connection) and open.
 */
function checkOpen(call: string, switcher: Switcher): void {
  checkSwitcher(call, switcher);
  if (switcher.state !== 'open') throw new ConfigError('the switcher is closed');
}

/**
 * Kernel accept queue for switcher listeners: Node's default of 511 drops connection attempts
 * when a thousand nodes reconnect at once (each drop costs the client a 1 s SYN retry).
 */
export const SWITCHER_ACCEPT_BACKLOG = 4096;

/** The accept backlog above, and the switcher's logger for what the listener reports (ENOBUFS...). */
function withDefaults<T extends ListenOptions>(switcher: Switcher, o: T): T {
  return {
    ...o,
    backlog: o.backlog ?? SWITCHER_ACCEPT_BACKLOG,
    logger: o.logger ?? switcher.logger,
  };
}

/**
 * A connection is not an admission until its TLS handshake (and, for WebSocket, its upgrade) is
 * done: until then the TLS and HTTP servers must bound it, with the same deadline (else silent or
 * half-sent connections pile up past maxPendingAdmissions, for Node's defaults of 120 s for the
 * TLS handshake and a minute or more for the HTTP request) and the same count (else a crowd opened
 * faster than the deadline holds as many sockets as it likes).
 */
function withHandshake<T extends { handshakeTimeout?: number; maxPendingHandshakes?: number }>(
  switcher: Switcher,
  o: T,
): T {
  const { admissionTimeout, maxPendingAdmissions } = switcher.options;
  return {
    ...o,
    handshakeTimeout: o.handshakeTimeout ?? admissionTimeout,
    maxPendingHandshakes: o.maxPendingHandshakes ?? maxPendingAdmissions,
  };
}

/**
 * Whether TLS listener options give the server a way to a certificate: a key (with its cert), a
 * pfx, or an SNICallback that picks a context per name (Node's TLS serves with it alone, and
 * listenWs serves HTTPS for it). Without any, every handshake would fail: refused at the call.
 */
function certificateGiven(o: TlsListenOptions): boolean {
  return o.key !== undefined || o.pfx !== undefined || o.SNICallback !== undefined;
}

function handler(switcher: Switcher): (t: Transport) => void {
  return (t) => switcher.handle(t);
}

/** Closes `l` when the switcher starts closing; closing `l` first forgets the hook. */
function tie<L extends Listener>(switcher: Switcher, l: L): L {
  const onClosing = (): void => {
    void l.close();
  };
  switcher.on('closing', onClosing);
  // A switcher that began closing while we were binding must not keep this listener open.
  if (switcher.state !== 'open') onClosing();
  return {
    ...l,
    close: () => {
      switcher.off('closing', onClosing);
      return l.close();
    },
  };
}

/** Raw TCP (PROTOCOL.md 1.5). */
export async function listenTcp(switcher: Switcher, options: TcpListenOptions): Promise<Listener> {
  checkOpen('serveTcp()', switcher);
  checkOptions('serveTcp()', options);
  return tie(switcher, await tcpListen(withDefaults(switcher, options), handler(switcher)));
}

/** TLS around the same byte stream: give `key` and `cert` (or `pfx`, or an `SNICallback`). */
export async function listenTls(
  switcher: Switcher,
  options: TlsListenOptions,
): Promise<SecureTransportListener> {
  checkOpen('serveTls()', switcher);
  checkOptions('serveTls()', options);
  if (!certificateGiven(options)) {
    throw new ConfigError('serveTls() needs key and cert (or pfx, or an SNICallback)');
  }
  return tie(
    switcher,
    await tlsListen(
      withHandshake(switcher, withDefaults(switcher, options)),
      handler(switcher),
      handshakeRefused(switcher, 'tls'),
    ),
  );
}

/** WebSocket on its own HTTP server, one frame per binary message (1.6); path default /flex/ws. */
export async function listenWs(switcher: Switcher, options: WsServeOptions): Promise<Listener> {
  checkOpen('serveWs()', switcher);
  checkOptions('serveWs()', options);
  const o = options as WsListenOptions;
  if (asksForTls(o))
    throw new ConfigError('serveWs() serves plain HTTP and takes no key or pfx: use serveWss()');
  return tie(
    switcher,
    await wsListen(
      withHandshake(switcher, withDefaults(switcher, options)),
      handler(switcher),
      handshakeRefused(switcher, 'ws'),
    ),
  );
}

/** Secure WebSocket (HTTPS): give `key` and `cert` (or `pfx`, or an `SNICallback`); path default /flex/ws. */
export async function listenWss(
  switcher: Switcher,
  options: WsListenOptions,
): Promise<SecureTransportListener> {
  checkOpen('serveWss()', switcher);
  checkOptions('serveWss()', options);
  if (!certificateGiven(options)) {
    throw new ConfigError('serveWss() needs key and cert (or pfx, or an SNICallback)');
  }
  // With a key, a pfx or an SNICallback, wsListen serves HTTPS (asksForTls) and its listener has
  // setSecureContext.
  const l = await wsListen(
    withHandshake(switcher, withDefaults(switcher, options)),
    handler(switcher),
    handshakeRefused(switcher, 'wss'),
  );
  return tie(switcher, l as SecureTransportListener);
}

/**
 * For a user's own http(s).Server: `server.on('upgrade', (req, socket, head) => {
 * if (!handle(req, socket, head)) socket.destroy(); })`. Returns false, touching nothing, for
 * other paths (default /flex/ws) so other upgrade handlers can run. The upgrades to the path it
 * refuses count as the switcher's listeners' refusals do (listener-refusals.ts), as `wss` over
 * TLS, else `ws`: the rest of what the server turns away is the server's own.
 */
export function upgradeHandler(
  switcher: Switcher,
  options: WsUpgradeOptions = {},
): (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean {
  // Checked here too: wsUpgradeHandler would name itself, a function the caller never called.
  checkOptions('upgradeHandler()', options);
  checkSwitcher('upgradeHandler()', switcher);
  const ws = handshakeRefused(switcher, 'ws');
  const wss = handshakeRefused(switcher, 'wss');
  return wsUpgradeHandler(
    {
      ...options,
      // Where a throw of the switcher's hooks (a bug of ours) is told, as its listeners tell theirs.
      logger: switcher.logger,
      onRefusal: (reason, req) => ((req.socket as Partial<TLSSocket>).encrypted === true ? wss : ws)(reason),
    },
    handler(switcher),
  );
}
