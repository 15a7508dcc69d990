import * as net from 'node:net';
import * as tls from 'node:tls';
import { checkOptions, checkType } from '../util/check.js';
import { handOver } from './app-hooks.js';
import {
  checkDelayOption,
  checkNumber,
  checkPort,
  formatAddress,
  listenerLogger,
  transportDefaults,
  withConfigErrors,
} from './defaults.js';
import type { DialOptions } from './dial.js';
import {
  answerNotTls,
  type HandshakeRefused,
  handshakeFailure,
  logHandshakeFailure,
  PendingHandshakes,
} from './handshakes.js';
import { secureContextSetter } from './secure-context.js';
import {
  connectSocket,
  type ListenOptions,
  type SecureTransportListener,
  startListener,
  type TcpTransportOptions,
  tcpTransport,
} from './tcp.js';
import { TLS_SCHEME_HINT } from './tls-failure.js';
import type { Transport } from './types.js';

/**
 * TLS is TCP with a handshake in front: a TLSSocket is a net.Socket, so the TCP wrapper carries it
 * unchanged and the flex bytes are the same (PROTOCOL.md 1.5).
 */
export interface TlsDialOptions
  extends Omit<tls.ConnectionOptions, 'host' | 'port' | 'timeout' | 'socket' | 'path'>,
    DialOptions,
    TcpTransportOptions {}

/** Options of `listenTls()`: those of `tls.createServer` and where to bind. */
export interface TlsListenOptions extends tls.TlsOptions, ListenOptions, TcpTransportOptions {
  /**
   * ms a connection has to finish its TLS handshake before it is closed and logged, as long as a
   * WebSocket listener gives its upgrade (Node's own default would hold a silent one for 120 s).
   * Default 10 s.
   */
  handshakeTimeout?: number;
  /**
   * Connections held in their TLS handshake at once; more are closed at once and logged
   * (`handshakeTimeout` bounds how long each is held). Default 1024.
   */
  maxPendingHandshakes?: number;
}

// async as dialTcp is: a bad argument rejects rather than throws.
/**
 * Connects over TLS (any option of `tls.connect`) and resolves to the transport once the handshake is done;
 * fails as `dialTcp()` does.
 */
export async function dialTls(host: string, port: number, options: TlsDialOptions = {}): Promise<Transport> {
  checkPort(port);
  checkType('dialTls() host', host, 'string');
  checkOptions('dialTls()', options);
  const { signal, timeout, closeTimeout, ...tlsOptions } = options;
  // SNI carries names only (RFC 6066); Node warns when given an IP, so leave it out for one.
  const servername = tlsOptions.servername ?? (net.isIP(host) === 0 ? host : undefined);
  // A port that took the connection and never answered the handshake (a switcher's tcp:// port
  // waits for an admission) is likely one of another scheme: the timeout says so.
  let reached = false;
  const timeoutHint = (): string =>
    reached ? `: the connection was made, but nothing answered the TLS handshake; ${TLS_SCHEME_HINT}` : '';
  // Hung up on in the handshake, as a switcher's tcp:// port does at its admission timeout, having
  // read the ClientHello as an admission frame: Node says only that the socket disconnected.
  const failureHint = (err: Error): string =>
    reached && (err as { code?: unknown }).code === 'ECONNRESET'
      ? ` (the server closed the connection during the TLS handshake; ${TLS_SCHEME_HINT})`
      : '';
  return connectSocket(
    `TLS dial to ${formatAddress(host, port)}`,
    { signal, timeout, timeoutHint, failureHint },
    () =>
      tls.connect({ ...tlsOptions, host, port, servername }).once('connect', () => {
        reached = true;
      }),
    'secureConnect',
    { closeTimeout },
  );
}

/** What the TLS listener answers an HTTP request sent in the clear with (answerNotTls). */
const HTTP_TO_TLS_PORT = `This is a flex TLS port, not HTTP or WebSocket: connect to it with a tls:// URL, or give a WebSocket client the switcher's ws:// or wss:// URL (path ${transportDefaults.wsPath} by default).\n`;

// async as dialTcp is: a bad argument rejects rather than throws.
/**
 * Listens for TLS connections and passes each to `onTransport` once its handshake is done; resolves once
 * bound. An `onTransport` that throws (or rejects) is logged at error with its stack through
 * `options.logger` and that connection destroyed; the listener keeps accepting.
 */
export async function listenTls(
  options: TlsListenOptions,
  onTransport: (transport: Transport) => void,
): Promise<SecureTransportListener> {
  // Only a handshake's end called it: a bad one failed there, in the server's handler.
  checkType('listenTls() onTransport', onTransport, 'function');
  return listenTlsReporting(options, onTransport);
}

/**
 * listenTls, and `onRefused` hears of every connection closed before its TLS handshake was done,
 * with why (handshakes.ts HANDSHAKE_REFUSAL_REASONS): the switcher's listeners count them
 * (switcher-node.ts). Not in the package's API.
 */
export async function listenTlsReporting(
  options: TlsListenOptions,
  onTransport: (transport: Transport) => void,
  onRefused?: HandshakeRefused,
): Promise<SecureTransportListener> {
  checkOptions('listenTls()', options);
  const {
    host,
    port,
    backlog,
    logger: given,
    closeTimeout,
    handshakeTimeout,
    maxPendingHandshakes,
    ...tlsOptions
  } = options;
  // Contained: its lines come from the server's handlers before a connection is answered or
  // closed, where a logger that throws (a closed pipe) ended the process and left it open.
  const logger = listenerLogger(given);
  checkDelayOption('closeTimeout', closeTimeout, 0);
  // Node reads 0 as its own default of 120 s: refused, as listenWs refuses it.
  checkDelayOption('handshakeTimeout', handshakeTimeout, 1, true);
  checkNumber('maxPendingHandshakes', maxPendingHandshakes, 1, true);
  const handshake = handshakeTimeout ?? transportDefaults.tlsHandshakeTimeout;
  const server = withConfigErrors('TLS listener', () =>
    tls.createServer({ ...tlsOptions, handshakeTimeout: handshake }, (socket) => {
      handshakes.done(socket);
      // A handshake that finishes after close() belongs to nobody.
      if (!server.listening) {
        handshakes.refusedAfter('shutdown');
        socket.destroy();
        return;
      }
      handOver(onTransport, tcpTransport(socket, { closeTimeout }), logger);
    }),
  );
  // A failed handshake is the client's problem. Node destroys the socket on most such errors but
  // not on ERR_TLS_HANDSHAKE_TIMEOUT, which it only reports here: without this, handshakeTimeout
  // would close nothing and a client that never sends a ClientHello would hold its socket.
  server.on('tlsClientError', (err, socket) => {
    logHandshakeFailure(logger, err, socket);
    handshakes.refuse(socket, handshakeFailure(err, true));
    answerNotTls(handshakes.rawOf(socket), err, HTTP_TO_TLS_PORT);
    socket.destroy();
  });
  // Declared after the server it watches; its callback above runs only once a client connected.
  const handshakes = new PendingHandshakes(
    server,
    maxPendingHandshakes ?? transportDefaults.maxPendingHandshakes,
    logger,
    0,
    onRefused,
  );
  const listening = startListener(server, { host, port, backlog, logger }, () => handshakes.destroyAll());
  const setSecureContext = secureContextSetter(server, tlsOptions);
  return listening.then((l) => ({ ...l, setSecureContext }));
}
