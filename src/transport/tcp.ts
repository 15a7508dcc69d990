import * as net from 'node:net';
import { ConnectionClosedError } from '../errors.js';
import { checkLogger, checkMethods, checkOptions, checkType } from '../util/check.js';
import { containedLogger, type Logger, silentLogger } from '../util/logger.js';
import { handOver } from './app-hooks.js';
import {
  checkDelayOption,
  checkNumber,
  checkPort,
  closeTimedOut,
  formatAddress,
  listenerLogger,
  transportDefaults,
} from './defaults.js';
import { type DialOptions, guardDial } from './dial.js';
import { foreignReply } from './foreign-reply.js';
import { HandlerSlot } from './inbox.js';
import { type PinHolder, pin, unpin } from './read-pin.js';
import type { SecureContextOptions } from './secure-context.js';
import { connectAttempts, connectFailureText, dialFailure } from './tls-failure.js';
import { speaksTls } from './tls-probe.js';
import type { Transport, TransportHandlers } from './types.js';

/** Options of the transport over a socket (TCP or TLS). */
export interface TcpTransportOptions {
  /** ms a graceful `close` may wait for the peer's end before destroying the socket. Default 5000. */
  closeTimeout?: number;
}

/** Options of `dialTcp()`: a dial's signal and timeout, and the transport's. */
export interface TcpDialOptions extends DialOptions, TcpTransportOptions {}

/** Where and how a listener binds: shared by listenTcp, listenTls and listenWs. */
export interface ListenOptions {
  /** Interface to bind; omitted: every interface, as `net.Server.listen` does. */
  host?: string;
  /** 0 picks a free port; read it back from `Listener.address`. */
  port: number;
  /** Kernel accept queue length (the bound on connections not yet accepted). */
  backlog?: number;
  /**
   * Where the listener reports an error its server raises after listening (a failed accept:
   * ENOBUFS, ENOMEM; EMFILE or ENFILE only when libuv could not keep its spare descriptor, as it
   * otherwise closes such a connection unreported); it keeps listening. Silent by default.
   */
  logger?: Logger;
}

/** Options of `listenTcp()`. */
export interface TcpListenOptions extends ListenOptions, TcpTransportOptions {}

/** A listener of `listenTcp()`, `listenTls()` or `listenWs()`: where it is bound, and how to stop it. */
export interface Listener {
  /** Where the listener is bound: the port picked, with `port: 0`. */
  readonly address: {
    /** The address bound. */
    host: string;
    /** The port bound. */
    port: number;
  };
  /**
   * Stops accepting; connections still in their TLS handshake or WebSocket upgrade are closed.
   * Transports already handed out are left to their owner, so the promise settles without
   * waiting for them.
   */
  close(): Promise<void>;
  /**
   * TLS and secure WebSocket listeners only: new handshakes use these certificate and key (any
   * option of `tls.createSecureContext`; those not given stay as the listener started), while
   * connections already up keep theirs, for a certificate renewed without a restart. Throws
   * ConfigError, changing nothing, for a bad pair (a key that does not match the certificate).
   */
  setSecureContext?(options: SecureContextOptions): void;
}

/**
 * A TLS or secure WebSocket listener (listenTls, a listenWs asked for TLS: see asksForTls, and the
 * switcher's serveTls and serveWss): `setSecureContext` is always there.
 */
export interface SecureTransportListener extends Listener {
  setSecureContext(options: SecureContextOptions): void;
}

/** Wraps a connected socket (TCP, or TLS: a TLSSocket is a net.Socket). Received Buffers pass straight through. */
export function tcpTransport(socket: net.Socket, options: TcpTransportOptions = {}): Transport {
  checkOptions('tcpTransport()', options);
  checkDelayOption('closeTimeout', options.closeTimeout, 0);
  checkMethods('tcpTransport() socket', 'a net.Socket', socket, ['on', 'write', 'setNoDelay']);
  return new TcpTransport(socket, options.closeTimeout ?? transportDefaults.closeTimeout);
}

class TcpTransport implements Transport, PinHolder {
  readonly framing = 'stream';
  readonly coalesce = true;
  /** The socket holds what `send` gave it until written; its write callback says when. */
  readonly releasesLater = true;
  /** Set once the socket is connected: one wrapped while connecting learns it then (or from its failure). */
  remoteAddress: string;
  /** The latest chunk read, kept until the next (read-pin.ts). */
  pinned: Uint8Array | null = null;
  reads = 0;
  private readonly slot = new HandlerSlot();
  private paused = false;
  private needDrain = false;
  private ending = false;
  private destroyedHere = false;
  private failure: Error | undefined;
  private graceTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly socket: net.Socket,
    private readonly closeTimeout: number,
  ) {
    // Captured now: a closed socket forgets its peer, and logs want it afterwards.
    this.remoteAddress = formatAddress(socket.remoteAddress, socket.remotePort);
    // Wrapped before it connected (`tcpTransport(net.connect(...))`, as the manual's direct link
    // does): "unknown" now, the peer once it has connected.
    if (socket.connecting) {
      socket.once('connect', () => {
        this.remoteAddress = formatAddress(socket.remoteAddress, socket.remotePort);
      });
    }
    socket.setNoDelay(true);
    // Node may also emit drain after a send we reported as fine; pass on only the awaited ones.
    socket.on('drain', () => {
      if (!this.needDrain) return;
      this.needDrain = false;
      this.slot.drain();
    });
    socket.on('error', (err) => {
      if (this.destroyedHere) return;
      // A connect that failed names the address it tried (a system error's address and port), the
      // first of several when Node tried each address of a name in turn (connectAttempts).
      const tried = connectAttempts(err);
      const { address, port } = tried[0];
      if (this.remoteAddress === 'unknown' && typeof address === 'string') {
        this.remoteAddress = formatAddress(address, typeof port === 'number' ? port : undefined);
      }
      this.failure ??= new ConnectionClosedError(
        `connection to ${this.remoteAddress} failed: ${connectFailureText(err)}`,
        {
          cause: err,
        },
      );
    });
    // The peer finished: finish our side too (also when the socket was made with allowHalfOpen).
    socket.on('end', () => this.end());
    socket.on('close', () => {
      if (this.graceTimer !== undefined) clearTimeout(this.graceTimer);
      unpin(this);
      this.slot.close(this.failure);
    });
    if (socket.destroyed) queueMicrotask(() => this.slot.close(this.failure));
  }

  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  /** An admission reply from a port that speaks HTTP or TLS, told as such (foreign-reply.ts). */
  foreignReply(head: Uint8Array): Error | null {
    return foreignReply(head);
  }

  get closed(): boolean {
    return this.ending || this.slot.closed || this.socket.destroyed;
  }

  attach(handlers: TransportHandlers): void {
    this.slot.attach(handlers);
    this.socket.on('data', (chunk: Buffer) => {
      // destroy() does not stop Node's flow loop: reads already buffered (a reader that was
      // paused, then resumed) keep coming until 'close', and would reach a destroyed owner.
      if (this.destroyedHere) return;
      pin(this, chunk);
      this.slot.data(chunk);
    });
    // Adding a 'data' listener may switch the socket to flowing; state our intent either way.
    if (this.paused) this.socket.pause();
    else this.socket.resume();
  }

  send(parts: readonly Uint8Array[], onReleased?: () => void): boolean {
    if (this.closed) {
      if (onReleased !== undefined) queueMicrotask(onReleased);
      return false;
    }
    const s = this.socket;
    // Corked writes leave in one writev on uncork: header and payload share a segment.
    s.cork();
    // Without onReleased (the default: no node option asks for it) a write carries no callback.
    if (onReleased === undefined) {
      for (const part of parts) if (part.length > 0) s.write(part);
    } else {
      writeReleasing(s, parts, onReleased);
    }
    s.uncork();
    // Judged after uncork: write() counts corked bytes, so it says false for any send over the
    // socket's high-water mark even when the kernel then takes all of it at once.
    if (s.writableLength < s.writableHighWaterMark) return true;
    this.needDrain = true;
    return false;
  }

  pauseReading(): void {
    this.paused = true;
    this.socket.pause();
  }

  resumeReading(): void {
    this.paused = false;
    // Resuming before attach would let data flow to nobody.
    if (this.slot.attached) this.socket.resume();
  }

  close(): void {
    this.end();
  }

  destroy(err?: Error): void {
    if (this.slot.closed || this.destroyedHere) return;
    this.destroyedHere = true;
    this.ending = true;
    this.failure = err;
    this.socket.destroy();
  }

  private end(): void {
    if (this.ending) return;
    this.ending = true;
    // Already gone (a reset, an error): 'close' comes or came, and a timer would only outlive it.
    if (this.socket.destroyed) return;
    if (!this.socket.writableEnded) this.socket.end();
    // A peer that never finishes (or a paused reader that never sees its end) must not hold us.
    this.graceTimer = setTimeout(() => this.giveUp(), this.closeTimeout);
    this.graceTimer.unref();
  }

  /** The graceful close ran out of time. */
  private giveUp(): void {
    const unsent = this.socket.writableLength;
    if (unsent === 0) {
      this.socket.destroy();
      return;
    }
    // Bytes send() accepted are dropped: say so. And reset rather than let the kernel send a FIN
    // behind the cut-off stream, which the peer would read as a clean end (a peer whose receive
    // queue is still full may read the reset as an end all the same: Linux reports EOF first).
    this.failure ??= closeTimedOut(this.remoteAddress, this.closeTimeout, unsent);
    // Only a plain TCP socket can be reset: on anything else (a TLS socket, a Unix socket)
    // resetAndDestroy() throws ERR_INVALID_HANDLE_TYPE, as documented, before touching it; thrown
    // from this timer it would crash the process.
    try {
      this.socket.resetAndDestroy();
    } catch {
      this.socket.destroy();
    }
  }
}

// async so that a bad argument rejects the promise rather than throwing from the call: a caller
// handling failures with .catch() alone would miss a throw (docs/errors.md).
/**
 * Connects over TCP and resolves to the transport; rejects with ConnectionClosedError when it cannot connect,
 * TimeoutError past `timeout`, AbortError when `signal` fires, ConfigError for a bad argument.
 */
export async function dialTcp(host: string, port: number, options: TcpDialOptions = {}): Promise<Transport> {
  checkPort(port);
  // Else formatted into the error of a dial that failed with a TypeError from deep inside.
  checkType('dialTcp() host', host, 'string');
  checkOptions('dialTcp()', options);
  const transport = await connectSocket(
    `TCP dial to ${formatAddress(host, port)}`,
    options,
    () => net.connect({ host, port }),
    'connect',
    options,
  );
  transport.explainClose = (ms, closed) => speaksTls(host, port, ms, closed);
  return transport;
}

/**
 * Connects with `create`, waits for `readyEvent`, then wraps the socket; shared with TLS.
 * `timeoutHint` and `failureHint` add what the dialer can tell of a timeout or a failure.
 */
export function connectSocket(
  what: string,
  dialOptions: DialOptions & { timeoutHint?: () => string; failureHint?: (err: Error) => string },
  create: () => net.Socket,
  readyEvent: 'connect' | 'secureConnect',
  transportOptions: TcpTransportOptions,
): Promise<Transport> {
  checkDelayOption('closeTimeout', transportOptions.closeTimeout, 0);
  return guardDial<Transport>(what, dialOptions, (attempt) => {
    const socket = create();
    const onError = (err: Error): void => {
      const { text, cause } = dialFailure(err);
      const hint = dialOptions.failureHint?.(err) ?? '';
      attempt.reject(new ConnectionClosedError(`${what} failed: ${text}${hint}`, { cause }));
    };
    socket.on('error', onError);
    socket.once(readyEvent, () => {
      // Wrap first so an 'error' listener is in place before ours goes.
      const transport = tcpTransport(socket, transportOptions);
      socket.off('error', onError);
      if (!attempt.resolve(transport)) transport.destroy();
    });
    return () => socket.destroy();
  });
}

// async for the same reason as dialTcp.
/**
 * Listens for TCP connections and passes each to `onTransport` as a transport (a Node on each, say); resolves
 * once bound. An `onTransport` that throws (or returns a promise that rejects) is logged at error with
 * its stack through `options.logger`, and that connection is destroyed; the listener keeps accepting.
 */
export async function listenTcp(
  options: TcpListenOptions,
  onTransport: (transport: Transport) => void,
): Promise<Listener> {
  checkOptions('listenTcp()', options);
  checkDelayOption('closeTimeout', options.closeTimeout, 0);
  // Only a connection called it: a bad one failed there, in the server's connection handler.
  checkType('listenTcp() onTransport', onTransport, 'function');
  const logger = listenerLogger(options.logger);
  const server = net.createServer((socket) => {
    handOver(onTransport, tcpTransport(socket, { closeTimeout: options.closeTimeout }), logger);
  });
  return startListener(server, options);
}

/**
 * Listens with `server` (a net.Server or tls.Server) and resolves once it is bound. `onClose` runs
 * when the listener is closed (after the server stopped accepting).
 */
export function startListener(
  server: net.Server,
  options: ListenOptions,
  onClose?: () => void,
): Promise<Listener> {
  checkPort(options.port);
  checkNumber('backlog', options.backlog, 0, true);
  checkLogger('option logger', options.logger);
  return new Promise<Listener>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port, backlog: options.backlog }, () => {
      server.off('error', reject);
      const info = server.address() as net.AddressInfo;
      const address = formatAddress(info.address, info.port);
      const logger = containedLogger(options.logger ?? silentLogger);
      // Later errors are failed accepts (ENOBUFS and the like): the server keeps listening, but the
      // connection is lost, and an operator must be able to see why.
      server.on('error', (err: Error & { code?: string }) =>
        logger.warn({ address, code: err.code, err: err.message }, 'listener error (still listening)'),
      );
      resolve({
        address: { host: info.address, port: info.port },
        close: () => {
          if (server.listening) server.close();
          onClose?.();
          return Promise.resolve();
        },
      });
    });
  });
}

/**
 * Writes `parts` (corked by the caller) with `onReleased` on the last non-empty one: the socket
 * calls a write's callback once that write, and every one before it, is done (or failed), so the
 * last part's callback releases the whole send.
 */
function writeReleasing(s: net.Socket, parts: readonly Uint8Array[], onReleased: () => void): void {
  let last = -1;
  for (let i = parts.length - 1; i >= 0; i--) {
    if (parts[i]!.length > 0) {
      last = i;
      break;
    }
  }
  if (last < 0) queueMicrotask(onReleased);
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (i === last) s.write(part, onReleased);
    else if (part.length > 0) s.write(part);
  }
}
