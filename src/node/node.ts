import { type NodeOptions, type ResolvedNodeOptions, validateNodeOptions } from '../config.js';
import {
  AbortError,
  ConfigError,
  ConnectionClosedError,
  DialRefusedError,
  DialTimeoutError,
  FlowControlError,
  LimitError,
  NotConnectedError,
  ProtocolError,
  ResetCode,
} from '../errors.js';
import { Scheduler } from '../scheduler.js';
import { StreamCore, type StreamHost } from '../stream/core.js';
import type { Transport } from '../transport/types.js';
import { Burst } from '../util/burst.js';
import { errorFields } from '../util/cause.js';
import {
  checkBool,
  checkDelay,
  checkFunction,
  checkInt,
  checkMethods,
  checkOptions,
  checkSignal,
  checkType,
  withoutNullSignal,
} from '../util/check.js';
import { Emitter } from '../util/emitter.js';
import { containedLogger, type Logger, silentLogger } from '../util/logger.js';
import { releaseWatch } from '../util/slabs.js';
import { now, type TimerHandle, timeout } from '../util/timers.js';
import { Caps, Cmd, LOCAL_IP, SWITCHER_IP } from '../wire/constants.js';
import { decodeMessage, FrameDecoder } from '../wire/decoder.js';
import { normalizeDomain } from '../wire/domain.js';
import type { Frame } from '../wire/frame.js';
import {
  decodeOpen,
  decodeOpenAck,
  effectiveWindow,
  encodeOpen,
  encodeOpenAck,
  encodeOpenError,
  largestAnswer,
  negotiateCaps,
  negotiateWindow,
  windowAsInt32,
} from '../wire/open.js';
import { decodeReset, encodeReset } from '../wire/reset.js';
import { goTrimSpace } from '../wire/unicase.js';
import { decodeUtf8, encodeUtf8 } from '../wire/utf8.js';
import { type DialTarget, formatTarget, parseAddress } from './address.js';
import { type PendingDial, PendingDials } from './dialer.js';
import { Heartbeat } from './heartbeat.js';
import { type Destroyable, Listener, portTaken } from './listener.js';
import { Loopback } from './loopback.js';
import { type PingAgain, Pinger, pingPayload, pingTarget } from './pinger.js';
import { PortPool } from './ports.js';
import { type Attempt, untilTarget } from './redial.js';
import { Retention } from './retention.js';

/** Options of `node.dial()`. */
export interface DialOptions {
  /** Aborts the dial: it fails with AbortError, whose `cause` is the signal's reason. */
  signal?: AbortSignal;
  /** Milliseconds to wait for the OpenStream ACK (with waitForTarget: for all the dials and pauses). */
  timeout?: number;
  /** Window to offer for this stream. */
  window?: number;
  /**
   * A dial refused because its target is not there (yet) is made again, after a pause of 100 ms
   * doubling up to 1 s, until `timeout` runs out: `unknown-domain` (its node is away: after a
   * switcher restart the nodes come back over a few seconds), `unknown-ip`, `no-listener` (its
   * node is there but not listening on the port yet; on a direct link, the peer's application
   * has not called listen() yet). Running out then fails with DialTimeoutError, whose message
   * names the last refusal and whose `cause` is that DialRefusedError; `signal` ends a pause at
   * once with AbortError, and closing the node ends it with NotConnectedError (a session's dial
   * fails as the closed session's dials do). Any other failure ends the dial as it came. Default
   * false: the first refusal is the result.
   */
  waitForTarget?: boolean;
}

/** Options of `node.ping()`. */
export interface PingOptions {
  /** Aborts the ping: it fails with AbortError, whose `cause` is the signal's reason. */
  signal?: AbortSignal;
  /** Milliseconds to wait for the answer (with waitForTarget: for all the pings and pauses). */
  timeout?: number;
  /**
   * A ping answered `domain not found` (its target's node is away: after a switcher restart the
   * nodes come back over a few seconds) is made again, after a pause of 100 ms doubling up to
   * 1 s, until `timeout` runs out, as a dial's `waitForTarget` is. Running out then fails with a
   * TimeoutError whose message names that answer and whose `cause` is that PingError; `signal`
   * ends a pause at once with AbortError, and closing the node ends it with NotConnectedError,
   * as a waiting dial's (a session's ping fails as the closed session's pings do). Any other
   * failure ends the ping as it came. Default false.
   */
  waitForTarget?: boolean;
}

/** The events of a node (`node.on(event, listener)`) and the arguments of their listeners. */
export type NodeEvents = {
  /** The connection failed; `close` follows. */
  error: [Error];
  /** The node is closed: with the error that closed it, if any. */
  close: [Error | undefined];
};

/** Builds the application-facing stream (Node Duplex, Web Streams) around a core. */
export type StreamFactory<S> = (core: StreamCore) => S;

/** What an acceptor's ACK said for a window offer: what early-data dials assume it says again. */
interface EarlyAnswer {
  offer: number;
  window: number;
  caps: number;
}

/** What an early-data dial assumes, and through a switcher (`routed`) for which domain. */
interface EarlyPlan {
  answer: EarlyAnswer;
  routed: string | null;
}

/** A dial that went out with early data, until its ACK. */
interface EarlyDial<S> extends EarlyPlan {
  core: StreamCore;
  face: S;
}

/**
 * Frames of the peer a dial went to that came before its OpenStream ACK (PROTOCOL.md 12.2: a Go
 * acceptor exposes the stream first, so a server that speaks first, or closes at once, may put
 * its data and its CloseStream ahead of the ACK). All from one address, for the stream the ACK
 * makes from there.
 */
interface BeforeAck {
  srcIP: number;
  srcPort: number;
  /**
   * The data, in order, in one buffer (its first `bytes` bytes) grown by doubling: kept frame by
   * frame, a peer's one-byte frames cost some 280 bytes each, 2 MiB of them over 500 MiB.
   */
  data: Uint8Array | null;
  /** Data bytes held: counted against maxReceiveBuffer, bounded by the largest window an ACK may grant. */
  bytes: number;
  /** Data frames taken (for stats.dropped when they go unused). */
  frames: number;
  /** An empty data frame came (a credit request on a PROMPT_CREDIT stream): replayed once, after the data. */
  asked: boolean;
  /** A CloseStream came: the end of what the stream gets; nothing after it is kept. */
  closed: boolean;
  /**
   * Data that could not be kept (beyond the window the ACK may grant, or the receive budget):
   * the stream the ACK makes fails with this, as it would have on receiving that data, instead of
   * running with a hole in what it delivers. Nothing after it is kept.
   */
  overrun: FlowControlError | null;
  /**
   * The address (keyOf with port 0) of the first frame refused for coming from another address
   * than the one kept, or -1; `strays` once frames from a second such address were refused too.
   * If the ACK comes from one of them, the stream lost what it sent ahead of the ACK.
   */
  stray: number;
  strays: boolean;
}

/** The payload of a ping of the switcher (no domain). */
const NO_PAYLOAD = new Uint8Array(0);

/** Domains remembered for early data through a switcher (the oldest is forgotten first). */
const EARLY_DOMAINS = 1024;

/** Fails a pending dial with the peer's (or our) refusal text, naming what it dialled. */
function refuseDial(pending: PendingDial<unknown>, text: string): void {
  pending.reject(new DialRefusedError(text, { target: formatTarget(pending.target) }));
}

/**
 * Whether OpenStream ACK `f` can be the answer of `dial`. Go takes any ACK to the dial's port
 * (PROTOCOL.md 3.2), so a late ACK of a dial that gave up, once its port was released and taken
 * by a dial elsewhere, answered that one: its stream went to the wrong peer, and its own ACK was
 * then closed as late. Every answer comes from the port dialled (an acceptor answers from the
 * port it was asked on, 3.4; a switcher's refusal names it, 3.3), and from the IP dialled for
 * an IP dial over the wire (a Go switcher treats one to FFFF as a domain dial, refusing from 0).
 */
function answers(dial: PendingDial<unknown>, f: Frame, wire: boolean): boolean {
  const t = dial.target;
  if (f.srcPort !== t.port) return false;
  return !wire || !('ip' in t) || t.ip === SWITCHER_IP || f.srcIP === t.ip;
}

/**
 * Whether a stream's failure reaches someone: a Node.js stream with an 'error' listener. A Web
 * Streams view has no listeners to count (its reader and writer error): taken as unheard.
 */
function heard(face: Destroyable): boolean {
  const count = (face as { listenerCount?: (event: string) => number }).listenerCount;
  return typeof count === 'function' && count.call(face, 'error') > 0;
}

/** Key of the stream a received frame belongs to: the peer's address and our port. */
function keyOf(remoteIP: number, remotePort: number, localPort: number): number {
  return remoteIP * 0x100000000 + remotePort * 0x10000 + localPort;
}

/**
 * Added to the keys of streams a node dials to itself, above every wire key (48 bits): their
 * frames carry the node's own IP, which a peer on a direct link may share (both 0), and both
 * nodes hand out dial ports from the same first number, so a self-dial and the peer's dial from
 * the same port would otherwise be one key (the second refused with "sid is attached").
 */
const LOOPBACK_KEYS = 2 ** 48;

/** Key of the stream `f` belongs to, as it came through `via`: the wire (`node`) or the loopback. */
function frameKey(f: Frame, via: StreamHost, node: StreamHost): number {
  const key = keyOf(f.srcIP, f.srcPort, f.dstPort);
  return via === node ? key : key + LOOPBACK_KEYS;
}

/**
 * A dial's window and timeout, checked (ConfigError) with the node's defaults filled in: by the
 * node as it dials, and by a session before it waits for a connection to dial on.
 */
export function dialLimits(
  options: DialOptions,
  defaults: { readonly window: number; readonly dialTimeout: number },
): { window: number; timeoutMs: number } {
  checkSignal('option signal', options.signal);
  return {
    window: checkInt('option window', options.window ?? defaults.window, 0, 0x7fffffff),
    timeoutMs: checkDelay('option timeout', options.timeout ?? defaults.dialTimeout),
  };
}

/**
 * The streams of a node in serial order, for streamPage(): util/id-index.ts's IdIndex, which
 * pages by binary search. The Node.js entry and the admin install it (node/serial-index.ts), so
 * the browser build, whose pages have no admin, carries none of it: there a page sorts the live
 * streams (the same page, at the cost of every stream).
 */
export interface SerialIndex {
  push(id: number, key: number, size: number): void;
  rekey(id: number, key: number): void;
  clear(): void;
  page(
    after: number,
    skip: number,
    limit: number,
    size: number,
    keep?: (s: StreamCore) => boolean,
  ): StreamCore[];
}

let makeSerialIndex: ((streams: ReadonlyMap<number, StreamCore>) => SerialIndex) | null = null;

/** Has every node's streamPage() keep a SerialIndex made by `make` (node/serial-index.ts); null: none. */
export function useSerialIndex(
  make: ((streams: ReadonlyMap<number, StreamCore>) => SerialIndex) | null,
): void {
  makeSerialIndex = make;
}

/**
 * A node: many streams over one transport, to a switcher or directly to another node. `S` is the
 * stream type the application sees; entry points fix it (Duplex on Node.js, Web Streams in
 * browsers).
 */
export class BaseNode<S extends Destroyable> extends Emitter<NodeEvents> implements StreamHost {
  /** The options with their defaults applied. */
  readonly options: ResolvedNodeOptions;
  /**
   * Where the node logs: the `logger` option, each line's failure kept in (containedLogger), or
   * one that drops everything.
   */
  readonly logger: Logger;
  /** The writer of the connection (manual section 4): frames and bytes written are counted there. */
  readonly scheduler: Scheduler;
  /** The connection the node runs over. */
  readonly transport: Transport;
  readonly #makeStream: StreamFactory<S>;
  private readonly streams = new Map<number, StreamCore>();
  /**
   * `streams` in serial order, for the admin's pages (streamPage()), made at the first page asked
   * for: a node nobody pages through pays nothing for it (kept from the start, it cost an idle
   * stream ~33 B of heap and ~300 B of RSS in the shared harness's S6). Pushed to in add() then.
   */
  private bySerial: SerialIndex | null = null;
  /** Streams registered so far (streamsAdded). */
  private added = 0;
  private readonly listeners = new Map<number, Listener<S>>();
  /** Listeners owned by a session: they outlive this node's connection. */
  readonly #borrowed = new Set<Listener<S>>();
  private readonly dialPorts = new PortPool(1000, 0xffff);
  private readonly dials: PendingDials<S>;
  /**
   * Ports a dial must not take besides those in use: listened on. (A port retained after its
   * stream, or quarantined after a dial gave up, stays in use in the pool until it expires.)
   */
  readonly #portBusy = (p: number): boolean => this.listeners.has(p);
  private readonly pinger: Pinger;
  private readonly retention: Retention;
  /** Dialled streams released with frames still queued: their ports wait for sent(). */
  readonly #sending = new Set<StreamCore>();
  private loopback: Loopback | null = null;
  private readonly heartbeat: Heartbeat;
  readonly #frameDecoder: FrameDecoder | null;
  #_ip: number;
  #_domain: string;
  #normalizedDomain: string | null;
  private receiveBuffered = 0;
  /**
   * Set once an ACK has shown that this link ends at a flexmux node taking early data (no switcher
   * in between): what its ACKs carry for our usual window offer. Null until then, and always
   * without the earlyData option.
   */
  private early: EarlyAnswer | null = null;
  /**
   * Domains whose ACKs came through a switcher that routes early data (EARLY_ROUTED), from
   * acceptors that take it: what they answered for our usual offer. At most EARLY_DOMAINS.
   */
  private readonly earlyDomains = new Map<string, EarlyAnswer>();
  /** Dials that went out with early data, by local port, until their ACK. */
  readonly #earlyDials = new Map<number, EarlyDial<S>>();
  /** Frames that came for a waiting dial's port ahead of its ACK, by local port (BeforeAck). */
  readonly #beforeAck = new Map<number, BeforeAck>();
  /** The caps byte of our OpenStreams: EARLY_DATA only with the option (a switcher routes for it). */
  readonly #openCaps: number;
  #_closed = false;
  private closing = false;
  /**
   * Aborted once the node closes (or starts to): it ends the pauses of the dials and pings waiting
   * for their target, whose next attempts fail as a closed node's do, instead of waiting out up
   * to 1 s. Each wait follows it (redial.ts), adding no listener of its own.
   */
  readonly #waitsEnd = new AbortController();
  /**
   * Opens refused at maxStreams or maxReceiveBuffer, logged as a burst (util/burst.ts): the first
   * in full, the rest in a summary at most once a second, and the end once an open is taken again,
   * a second has passed without a refusal (burstReport), or the node closes. A line for each, at
   * warn, let a peer that floods opens at the limit write the log as fast as it sent them (a
   * 16-byte frame for a line ten times that).
   */
  readonly #atLimit = new Burst((fields) => this.logger.warn(fields, 'refusing streams: limit'), now);
  /**
   * Stream protocol violations, logged as a burst in the same way: the first in full at warn, the
   * rest at debug and counted in a summary at most once a second, and the end once a second has
   * passed without one (burstReport) or the node closes. A line each, at warn, let a peer write
   * one for every two 16-byte frames (an open, then a FIN on the plain stream).
   */
  readonly #violations = new Burst(
    (fields) => this.logger.warn(fields, 'stream protocol violations'),
    now,
    1_000,
    'violations',
  );
  /**
   * Ends the bursts above once they have been quiet for a second: without it, a flood followed by
   * silence left its count unsaid until the next open or the close, for as long as that took.
   * Armed only while a burst is open (none at all while nothing is refused), unref'd, cleared at
   * teardown.
   */
  #burstReport: TimerHandle | undefined;
  #closeError: Error | undefined;
  /** close() has closed the transport (at once, or once its streams closed or timed out). */
  #closedHere = false;
  /**
   * @internal set by a Session, which logs the loss of the connection itself ('session
   * disconnected', with the same fields): one event, one line.
   */
  closeLoggedByOwner = false;
  /** Counters; frames and bytes written are on `scheduler` (framesWritten, bytesWritten). */
  readonly stats = {
    /** Frames received. */
    framesIn: 0,
    /** Bytes received from the transport, frame headers included. */
    bytesIn: 0,
    /** Frames received and dropped: data for no stream, unknown commands, duplicate OpenStream ACKs. */
    dropped: 0,
    /** Opens refused (no listener, backlog full, limits, duplicate). */
    openRefused: 0,
    /** Streams this node dialled whose open was accepted. */
    streamsOpened: 0,
    /** Streams opened by the peer and accepted by a listener. */
    streamsAccepted: 0,
    /** Bugs of ours that closed the connection ('internal error handling a frame'): 0 or 1. */
    internalErrors: 0,
  };

  constructor(transport: Transport, options: NodeOptions, makeStream: StreamFactory<S>) {
    super();
    this.options = validateNodeOptions(options);
    const { caps, earlyData } = this.options;
    this.#openCaps = earlyData ? caps : caps & ~Caps.EARLY_DATA;
    // Contained: the node logs in the middle of handling a frame and as its connection ends,
    // where a logger that throws (a closed pipe) was taken for a bug of ours that closes the
    // connection, or skipped the 'close' a session waits for to reconnect.
    this.logger = containedLogger(this.options.logger ?? silentLogger);
    // A transport that is none failed with a TypeError from the scheduler or attach().
    this.transport = checkMethods('new Node() transport', 'a Transport', transport, ['attach', 'send']);
    // Called for the first stream only: a bad one failed there, from a frame handler.
    this.#makeStream = checkType('new Node() makeStream', makeStream, 'function');
    this.#_ip = this.options.ip;
    this.#_domain = this.options.domain;
    this.#normalizedDomain = normalizeDomain(this.#_domain);
    const o = this.options;
    this.scheduler = new Scheduler(transport, {
      quantum: o.quantum,
      maxBatchBytes: o.maxBatchBytes,
      maxControlQueue: o.maxControlQueue,
      ...releaseWatch(o, transport.releasesLater === true || transport.copies === true),
    });
    // A late ACK must not be taken for a later dial from the same port: quarantine the port.
    this.dials = new PendingDials<S>(o.dialTimeout, (p) => {
      this.#dropBeforeAck(p);
      this.retention.add(-1 - p, p);
    });
    // A late ping answer must not be taken for a later ping with the same id either.
    this.pinger = new Pinger(o.retention);
    this.retention = new Retention(o.retention, (key, port) => {
      if (port >= 0) this.dialPorts.release(port);
      void key;
    });
    this.#frameDecoder =
      transport.framing === 'stream' ? new FrameDecoder((f) => this.dispatch(f), { splitData: true }) : null;
    // Made with an interval of 0 too (no periodic check then): checkNow() pings through it.
    this.heartbeat = new Heartbeat(
      o.heartbeatInterval,
      o.heartbeatTimeout,
      () => this.scheduler.bytesWritten,
      () => this.stats.bytesIn,
      () => this.scheduler.isBlocked,
      (t, again) => this.#pingRaw(NO_PAYLOAD, t, undefined, undefined, again),
      (err) => this.destroy(err),
    );
    try {
      transport.attach({
        data: (chunk) => this.#onTransportData(chunk),
        drain: () => this.scheduler.drain(),
        close: (err) => this.teardown(err ?? this.#endOfStream()),
      });
    } catch (err) {
      // Refused (another node holds the transport): its heartbeat must not go on pinging through
      // that node's connection, hear none of the answers, and destroy it as dead.
      this.heartbeat.stop();
      throw err;
    }
  }

  /**
   * This node's virtual IP: assigned by the switcher at admission; on a direct link, the `ip`
   * option (default 0).
   */
  get ip(): number {
    return this.#_ip;
  }

  /** This node's domain, which it answers pings for; '' for none. */
  get domain(): string {
    return this.#_domain;
  }

  /** True once the node is closed (after `close()`, `destroy()` or the loss of its connection). */
  get closed(): boolean {
    return this.#_closed;
  }

  /**
   * @internal close() has begun (its streams may still be finishing) or the node is closed: it
   * takes no new dial or ping. A Session does not count such a node as ready.
   */
  get going(): boolean {
    return this.#_closed || this.closing;
  }

  /**
   * Checks the connection now, for a program with reason to think it died without a word (a laptop
   * woken from sleep, a network that changed, a NAT mapping that may have expired), which the
   * heartbeat would find only within heartbeatInterval + heartbeatTimeout + a quarter interval (its
   * check runs four times per interval), later if timers were held back or its output is backed up
   * (up to 2 × heartbeatInterval + heartbeatTimeout + a quarter after the last byte heard): pings
   * the switcher (on a direct link, the peer) at once, and if nothing is heard back within
   * heartbeatTimeout, destroys the node as the heartbeat would ('close' with ConnectionClosedError
   * `liveness check: no answer within 2000 ms`). Resolves true if the connection is alive; false if
   * it was found dead, or the node is closed (nothing to check). Any byte heard since the check
   * began counts as an answer, so a live connection is left as it is; a ping under way (a check's
   * or the heartbeat's) is shared, and one answered within the last heartbeatTimeout stands. The
   * answer comes within heartbeatTimeout also while the output is backed up (an upload in flight).
   * Works with the heartbeat off (heartbeatInterval 0) too. A node does not reconnect: that is a
   * Session's (`session.checkNow()`).
   */
  checkNow(): Promise<boolean> {
    return this.heartbeat.checkNow();
  }

  /** Number of live streams. */
  get streamCount(): number {
    return this.streams.size;
  }

  /** Live stream cores, for introspection (admin API). */
  streamList(): StreamCore[] {
    return [...this.streams.values()];
  }

  /**
   * Live stream cores by serial, for a page of the admin's list: those whose serial is greater
   * than `after` (and that `keep`, if given), ascending, the `limit` after the first `skip`. It
   * costs the streams it steps over from `after` on, not every stream (util/id-index.ts).
   */
  streamPage(after: number, skip: number, limit: number, keep?: (s: StreamCore) => boolean): StreamCore[] {
    // Checked at the call: filtered only when there are streams, it threw a TypeError then only.
    checkFunction('streamPage() keep', keep);
    if (makeSerialIndex === null) {
      // The browser build (no admin): the same page, from the live streams sorted.
      const live = [...this.streams.values()].filter((s) => s.serial > after && (keep?.(s) ?? true));
      return live.sort((a, b) => a.serial - b.serial).slice(skip, skip + limit);
    }
    // (A rebound stream sits later in the map than its serial says: the index sorts.)
    this.bySerial ??= makeSerialIndex(this.streams);
    return this.bySerial.page(after, skip, limit, this.streams.size, keep);
  }

  /**
   * Streams this node has registered so far: while it and `streamCount` both stay the same, no
   * stream opened or ended (what the admin keeps a count of streams by peer for).
   */
  get streamsAdded(): number {
    return this.added;
  }

  /** The ports this node listens on. */
  listenerPorts(): number[] {
    return [...this.listeners.keys()];
  }

  // ------------------------------------------------------------------ public API

  /**
   * Opens a stream to `domain:port` or `ip:port` (PROTOCOL.md 3). With `waitForTarget`, a dial
   * refused because its target is not there yet is made again until it is (DialOptions).
   */
  dial(address: string | DialTarget, options: DialOptions = {}): Promise<S> {
    try {
      options = withoutNullSignal('dial()', options);
      if (options.waitForTarget === undefined || !checkBool('option waitForTarget', options.waitForTarget)) {
        return this.#startDial(address, options);
      }
      // Checked once, here: a bad address or option is refused at once, not dialled again.
      const target = formatTarget(parseAddress(address));
      const { timeoutMs } = dialLimits(options, this.options);
      return this.#untilTarget('dial', target, timeoutMs, options.signal, (timeout, signal) =>
        this.dial(address, { ...options, timeout, signal, waitForTarget: false }),
      );
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #startDial(address: string | DialTarget, options: DialOptions): Promise<S> {
    const target = parseAddress(address);
    if (options.signal?.aborted)
      throw new AbortError(`dial ${formatTarget(target)} aborted`, { cause: options.signal.reason });
    if (this.#_closed || this.closing) throw new NotConnectedError('node is closed');
    const o = this.options;
    if (this.dials.size >= o.maxPendingDials) {
      throw new LimitError(`more than ${o.maxPendingDials} dials are pending`);
    }
    if (this.#streamsHeld() >= o.maxStreams) {
      throw new LimitError(`stream limit of ${o.maxStreams} reached`);
    }
    const { window, timeoutMs } = dialLimits(options, o);
    // Go short-cuts dials to itself (PROTOCOL.md 3.2): they never reach the wire.
    const local = this.#isLocal(target);
    const host: StreamHost = local ? this.#loopbackHost() : this;
    const domain = local ? '' : 'domain' in target ? target.domain : '';
    const dstIP = local ? this.#_ip : 'domain' in target ? SWITCHER_IP : target.ip;
    // Encoded before a port is taken and the dial registered: a domain it refuses (NUL, too long)
    // must leave nothing behind (a pending dial counted against maxPendingDials, holding its port).
    const open = encodeOpen({ domain, window, caps: this.#openCaps });
    const port = this.dialPorts.take(this.#portBusy);
    if (port < 0) throw new LimitError('no free local port for a new stream');
    const early = local ? null : this.#earlyPlanFor(domain, window);
    // An early dial resolves at once, like a dial whose ACK came: a later abort does not touch it.
    const signal = early === null ? options.signal : undefined;
    const wait = this.dials.wait(port, target, timeoutMs, signal, window);
    host.sendControl(Cmd.OPEN, dstIP, target.port, this.#_ip, port, open);
    if (early === null) return wait;
    return Promise.resolve(this.#openEarly(port, dstIP, target, domain, early, wait));
  }

  /**
   * What a dial may assume its ACK will say, so that it sends early: on a direct link, what the
   * peer said for this offer; through a switcher that routes early data, what this domain said
   * (`routed` is the normalised domain). Null when the dial must wait for its ACK.
   */
  #earlyPlanFor(domain: string, offer: number): EarlyPlan | null {
    if (!this.options.earlyData) return null;
    let answer = this.early;
    let routed: string | null = null;
    if (answer === null && domain !== '') {
      routed = normalizeDomain(domain);
      answer = routed === null ? null : (this.earlyDomains.get(routed) ?? null);
    }
    return answer !== null && answer.offer === offer ? { answer, routed } : null;
  }

  /**
   * The stream of an early-data dial, set up now with what the acceptor's ACK will say (it said so
   * for the same offer before): writes go out behind the OpenStream. Through a switcher (`routed`:
   * the normalised domain) they go to FFFF, and the switcher sends them where the open went;
   * the ACK then names the acceptor's IP. The ACK is checked when it comes; a refusal, a
   * different answer, a timeout or an abort fails the stream.
   */
  #openEarly(
    port: number,
    dstIP: number,
    target: DialTarget,
    domain: string,
    { answer, routed }: EarlyPlan,
    wait: Promise<S>,
  ): S {
    const core = new StreamCore(
      this,
      keyOf(dstIP, target.port, port),
      { ip: this.#_ip, port, domain: this.#_domain },
      { ip: dstIP, port: target.port, domain },
      effectiveWindow(answer.window),
      answer.caps,
      true,
    );
    core.awaitOpen();
    const face = this.#faceOf(core);
    this.add(core);
    this.#earlyDials.set(port, { core, face, answer, routed });
    wait.then(
      () => {},
      (err: Error) => this.#failEarly(port, core, face, target, err),
    );
    return face;
  }

  /**
   * An early-data dial failed (refused, timed out, answered differently, or its connection went):
   * its stream, the application's already, fails with the error. That error may go unheard (no
   * 'error' listener: the face keeps it as `failure`), so it is logged then; a stream with an
   * 'error' listener is the application's to report (one event, one line). A timeout resets the
   * stream (a close without RESET): the acceptor may hold it, and a switcher keeps its route until
   * told (docs/protocol.md 8). The rest send nothing: there is no stream at the other end, or
   * confirmEarly told it, or the connection is gone.
   */
  #failEarly(port: number, core: StreamCore, face: S, target: DialTarget, err: Error): void {
    if (core.state !== 'closed') {
      if (!heard(face))
        this.logger.info(
          { dial: formatTarget(target), port, ...errorFields(err) },
          'early-data dial failed; its stream fails with the error',
        );
      // While it is still in earlyDials, release() knows the port is quarantined already.
      if (err instanceof DialTimeoutError && !this.#_closed) core.destroy(err);
      else core.abort(err);
    }
    if (this.#earlyDials.get(port)?.core === core) this.#earlyDials.delete(port);
  }

  /**
   * Streams held against maxStreams: live ones and dials waiting for their ACK. An early dial is a
   * stream already (in `streams`) and a dial waiting for its ACK: counted once.
   */
  #streamsHeld(): number {
    return this.streams.size + this.dials.size - this.#earlyDials.size;
  }

  #isLocal(t: DialTarget): boolean {
    if ('ip' in t) return t.ip === LOCAL_IP || (this.#_ip !== LOCAL_IP && t.ip === this.#_ip);
    return (
      t.domain === 'local' || t.domain === 'localhost' || (this.#_domain !== '' && t.domain === this.#_domain)
    );
  }

  #loopbackHost(): Loopback {
    if (this.loopback === null) this.loopback = new Loopback(this);
    return this.loopback;
  }

  /** Listens on a virtual port. */
  listen(port: number, options: { backlog?: number } = {}): Listener<S> {
    if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new ConfigError(`invalid port ${port}`);
    checkOptions('listen()', options);
    // Closing too, as dial(): a listener made now would refuse every open, then close.
    if (this.#_closed || this.closing) throw new NotConnectedError('node is closed');
    const held = this.listeners.get(port);
    if (held !== undefined) {
      const by = this.#borrowed.has(held)
        ? 'a listener of the session (session.listen())'
        : 'a listener of this node';
      throw new ConfigError(portTaken(port, by));
    }
    const l = new Listener<S>(port, options.backlog ?? this.options.backlog);
    l.onClosed = (x) => this.dropListener(x);
    this.listeners.set(port, l);
    return l;
  }

  /**
   * Serves an existing listener (a session's) on this connection; it survives the connection.
   * @internal
   */
  adoptListener(l: Listener<S>): void {
    if (this.#_closed) throw new NotConnectedError('node is closed');
    if (this.listeners.has(l.port)) {
      throw new ConfigError(portTaken(l.port, "a listener of the session's node (session.node.listen())"));
    }
    this.listeners.set(l.port, l);
    this.#borrowed.add(l);
  }

  /** @internal Stops serving a listener here without closing it. */
  dropListener(l: Listener<S>): void {
    if (this.listeners.get(l.port) === l) this.listeners.delete(l.port);
    this.#borrowed.delete(l);
  }

  /**
   * Round-trip time in ms to the switcher (no domain) or to the node holding `domain`. With
   * `waitForTarget`, a ping answered `domain not found` is made again until it is answered
   * (PingOptions).
   */
  ping(domain = '', options: PingOptions = {}): Promise<number> {
    // Closing too, as dial(): sent now, the ping only failed once the connection closed, with
    // ConnectionClosedError, and a waitForTarget ping whose pause close() cut short failed so,
    // unlike a dial's. (The heartbeat pings through pingRaw, not here.)
    if (this.#_closed || this.closing) return Promise.reject(new NotConnectedError('node is closed'));
    let timeoutMs: number;
    let payload: Uint8Array;
    try {
      options = withoutNullSignal('ping()', options);
      timeoutMs = checkDelay('option timeout', options.timeout ?? this.options.pingTimeout);
      checkSignal('option signal', options.signal);
      payload = pingPayload(domain);
      // Checked after the rest: a bad domain or option is refused at once, not pinged again.
      if (options.waitForTarget !== undefined && checkBool('option waitForTarget', options.waitForTarget)) {
        return this.#untilTarget('ping', pingTarget(domain), timeoutMs, options.signal, (timeout, signal) =>
          this.ping(domain, { ...options, timeout, signal, waitForTarget: false }),
        );
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#pingRaw(payload, timeoutMs, options.signal, pingTarget(domain));
  }

  /**
   * A dial or ping with `waitForTarget`: `attempt` made again while its target is away, within
   * `timeout` ms (redial.ts untilTarget); closing the node ends a pause at once.
   */
  #untilTarget<R>(
    what: 'dial' | 'ping',
    target: string,
    timeout: number,
    signal: AbortSignal | undefined,
    attempt: Attempt<R>,
  ): Promise<R> {
    const stop = this.#waitsEnd.signal;
    return untilTarget({ what, target, timeout, signal, stop, logger: this.logger }, attempt);
  }

  /** @internal Sets the domain and IP after admission (the session does this). */
  setIdentity(ip: number, domain: string): void {
    this.early = null;
    this.earlyDomains.clear();
    this.#_ip = ip;
    this.#_domain = domain;
    this.#normalizedDomain = normalizeDomain(domain);
  }

  /** Graceful: refuse new streams, close running ones properly, then close the connection. */
  async close(): Promise<void> {
    if (this.#_closed) return;
    if (!this.closing) {
      this.closing = true;
      this.#waitsEnd.abort();
      for (const l of [...this.listeners.values()]) {
        if (this.#borrowed.has(l)) this.dropListener(l);
        else l.close();
      }
      // An early-data dial's stream is already the application's: it closes properly below like
      // the others (its writes flushed), and its ACK may still come; failing the dial would abort it.
      const failed = this.dials.failAll(new ConnectionClosedError('node closing'), (port) =>
        this.#earlyDials.has(port),
      );
      for (const d of failed) this.#dropBeforeAck(d.port);
      const done = new Promise<void>((resolve) => this.once('close', () => resolve()));
      const live = [...this.streams.values()].filter((s) => s.state !== 'closed');
      const closeTransport = (): void => {
        this.#closedHere = true;
        this.transport.close();
      };
      if (live.length === 0) {
        closeTransport();
      } else {
        let left = live.length;
        const onClosed = (): void => {
          if (--left === 0 && !this.#_closed) closeTransport();
        };
        for (const s of live) s.shutdown(onClosed);
        // (timeout() keeps the delay within what a timer takes, or it would cut the handshake.)
        const t = timeout(() => {
          if (!this.#_closed) closeTransport();
        }, this.options.closeAckTimeout + 100);
        this.once('close', () => clearTimeout(t));
      }
      await done;
      return;
    }
    await new Promise<void>((resolve) => {
      if (this.#_closed) resolve();
      else this.once('close', () => resolve());
    });
  }

  /** Abrupt: fail every stream and drop the connection. */
  destroy(err?: Error): void {
    if (this.#_closed) return;
    this.transport.destroy(err);
    this.teardown(err ?? new ConnectionClosedError('node destroyed'), err === undefined);
  }

  // ------------------------------------------------------------------ StreamHost

  /**
   * Queues a control frame for the node's streams (StreamHost); a failure to queue destroys the
   * node. Plumbing, not for applications: left unmarked as internal only because the published
   * StreamHost names it, and the .d.ts would drop it from BaseNode (tsconfig.build.json strips
   * what is).
   */
  sendControl(
    cmd: number,
    dstIP: number,
    dstPort: number,
    srcIP: number,
    srcPort: number,
    payload?: Uint8Array,
    size?: number,
  ): void {
    if (this.#_closed) return;
    try {
      // Past maxControlQueue, the scheduler hands its queue to the transport before it judges
      // the peer one that does not read (Scheduler.pushControl).
      this.scheduler.pushControlFrame(cmd, dstIP, dstPort, srcIP, srcPort, payload, size);
    } catch (err) {
      // Past the bound, a peer that does not read (LimitError). Anything else is a bug of ours:
      // it closed the node as if the connection had failed, logged at info without its stack and
      // counted as no internal error.
      if (err instanceof LimitError) this.destroy(err);
      else this.internalError(err);
    }
  }

  /** Registers a new stream, made in this turn (so that serials reach `bySerial` in order). */
  private add(core: StreamCore): void {
    this.streams.set(core.key, core);
    this.added++;
    this.bySerial?.push(core.serial, core.key, this.streams.size);
  }

  release(stream: StreamCore): void {
    if (this.streams.get(stream.key) === stream) this.streams.delete(stream.key);
    // It may be one waiting in a listener's backlog: the next open has that backlog scanned again.
    if (!stream.dialed) this.listeners.get(stream.localPort)?.streamEnded();
    if (this.#earlyDials.get(stream.localPort)?.core === stream) {
      // An early-data stream that ended before its ACK (it sent its reset or close) gives its
      // dial up, as a timeout does: the port stays quarantined, and a late ACK is answered with a
      // close. Through a switcher the reset has ended the route, so the ACK comes back unmarked.
      this.#earlyDials.delete(stream.localPort);
      this.dials.abandon(stream.localPort, new AbortError('the early-data stream ended before its ACK'));
      this.retention.add(stream.key, -1);
      return;
    }
    // A dialled stream's port names it on the wire: while its last frames wait in our queue, a
    // new dial from the port would send its open (a control frame) ahead of them, and the peer
    // would take them for the new stream's. The port is held until they have left (sent()).
    if (stream.dialed && stream.bytes > 0) this.#sending.add(stream);
    else this.retention.add(stream.key, stream.dialed ? stream.localPort : -1);
  }

  sent(stream: StreamCore): void {
    if (this.#sending.delete(stream)) this.retention.add(stream.key, stream.localPort);
  }

  accountReceive(delta: number): void {
    this.receiveBuffered += delta;
  }

  canBuffer(n: number): boolean {
    return this.receiveBuffered + n <= this.options.maxReceiveBuffer;
  }

  framesReceived(): number {
    return this.stats.framesIn;
  }

  logViolation(fields: object): void {
    if (this.#violations.hit()) this.logger.warn(fields, 'stream protocol violation');
    else this.logger.debug(fields, 'stream protocol violation');
    this.#reportBurstsLater();
  }

  // ------------------------------------------------------------------ internals

  #faceOf(core: StreamCore): S {
    return this.#makeStream(core);
  }

  #pingRaw(
    payload: Uint8Array,
    timeoutMs: number,
    signal?: AbortSignal,
    target?: string,
    again?: PingAgain,
  ): Promise<number> {
    return this.pinger.start(
      (id) => this.sendControl(Cmd.PING, SWITCHER_IP, 0, this.#_ip, id, payload),
      timeoutMs,
      signal,
      target,
      again,
    );
  }

  #onTransportData(chunk: Uint8Array): void {
    if (this.#_closed) return;
    this.stats.bytesIn += chunk.length;
    this.heartbeat.heard();
    try {
      if (this.#frameDecoder) this.#frameDecoder.push(chunk);
      else this.dispatch(decodeMessage(chunk));
    } catch (err) {
      if (err instanceof ProtocolError) {
        this.logger.warn(
          { ...errorFields(err), remote: this.transport.remoteAddress },
          'protocol error, closing',
        );
        this.destroy(err);
        return;
      }
      this.internalError(err);
    }
  }

  /**
   * @internal A bug of ours threw while a frame was handled, from the wire or the loopback (the
   * application's own throws are rethrown apart, manual section 3). Not the peer's doing: taken
   * for a ProtocolError, it sent the operator after a peer that had done nothing wrong, and lost
   * the stack that locates the bug. The connection still closes: the frame was handled halfway,
   * and the rest of the chunk is lost.
   */
  internalError(err: unknown): void {
    if (this.#_closed) return;
    this.destroy(this.#internalFault(err));
  }

  /** Counts and logs a bug of ours that ends the connection; returns the error it ends with. */
  #internalFault(err: unknown): ConnectionClosedError {
    this.#countInternal(err, 'internal error handling a frame, closing');
    return new ConnectionClosedError('internal error handling a frame', { cause: err });
  }

  /** A bug of ours: counted (stats.internalErrors) and logged at error with its stack as `line`. */
  #countInternal(err: unknown, line: string): void {
    this.stats.internalErrors++;
    this.logger.error(
      {
        ...errorFields(err),
        stack: err instanceof Error ? err.stack : undefined,
        remote: this.transport.remoteAddress,
      },
      line,
    );
  }

  /**
   * Why a transport that ended cleanly ended. A byte stream that stops inside a frame (a peer that
   * crashed mid-write, a proxy that cut it) broke the protocol (docs/errors.md, as the switcher
   * reports it): a ProtocolError saying how much of the frame arrived, not a plain hang-up.
   * Asked once, here at the end, so feeding each chunk costs nothing more. Not while our own
   * close() runs, nor after destroy() (the transport tells of its end later): that ending is ours.
   */
  #endOfStream(): Error {
    if (this.#frameDecoder !== null && !this.closing && !this.#_closed) {
      try {
        this.#frameDecoder.end();
      } catch (err) {
        // Its ProtocolError alone is the peer's frame cut short. Anything else is a bug of ours,
        // which was cast to one and reported as the peer's, without its stack (onTransportData).
        if (!(err instanceof ProtocolError)) return this.#internalFault(err);
        this.logger.warn(
          { ...errorFields(err), remote: this.transport.remoteAddress },
          'protocol error, closing',
        );
        return err;
      }
    }
    // A stream close() had to cut (its peer took nothing within closeAckTimeout) names that close
    // as its cause, not the peer.
    return new ConnectionClosedError(
      this.#closedHere ? 'connection closed by close()' : 'connection closed by peer',
    );
  }

  /** Routes one inbound frame (PROTOCOL.md 8.2); never blocks on a slow stream. */
  /** @internal `via` is the host replies and new streams use: the wire, or the loopback. */
  dispatch(f: Frame, via: StreamHost = this): void {
    // A data frame that spans reads comes in pieces (splitData): counted once, at its first.
    if (f.continued !== true) this.stats.framesIn++;
    switch (f.cmd) {
      case Cmd.DATA: {
        const s = this.streams.get(frameKey(f, via, this));
        if (s) s.onData(f.payload);
        else if (!this.#holdBeforeAck(f, via) && f.continued !== true) this.stats.dropped++;
        return;
      }
      case Cmd.DATA_ACK:
        this.streams.get(frameKey(f, via, this))?.onAck(f.size);
        return;
      case Cmd.OPEN:
        this.#onOpen(f, via);
        return;
      case Cmd.OPEN_ACK:
        this.#onOpenAck(f, via);
        return;
      case Cmd.CLOSE: {
        const s = this.streams.get(frameKey(f, via, this));
        // Unknown or retired: answer anyway so the peer does not wait (PROTOCOL.md 5.4). Ahead of
        // a dial's ACK, answered all the same (a Go acceptor whose open failed waits for the
        // answer before its refusal, 3.4), and kept: if an ACK follows, the stream it makes ends.
        if (s) s.onClose();
        else {
          via.sendControl(Cmd.CLOSE_ACK, f.srcIP, f.srcPort, f.dstIP, f.dstPort);
          this.#holdBeforeAck(f, via);
        }
        return;
      }
      case Cmd.CLOSE_ACK:
        this.streams.get(frameKey(f, via, this))?.onCloseAck();
        return;
      case Cmd.FIN:
        this.streams.get(frameKey(f, via, this))?.onFin(f.payload);
        return;
      case Cmd.RESET: {
        const s = this.streams.get(frameKey(f, via, this));
        if (!s) return;
        let r: { code: number; message: string };
        try {
          r = decodeReset(f.payload);
        } catch (err) {
          // The decoder's ProtocolError alone is the peer's malformed reset. A bug of ours in the
          // stream's reset handling was caught with it: swallowed, its stack lost, and the stream
          // reset a second time as if the peer had sent a malformed one (internalError instead).
          if (!(err instanceof ProtocolError)) throw err;
          s.onReset(1, 'malformed reset');
          return;
        }
        s.onReset(r.code, r.message);
        return;
      }
      case Cmd.PING:
        this.onPing(f);
        return;
      case Cmd.PING_ACK:
        this.pinger.complete(f.dstPort, decodeUtf8(f.payload));
        return;
      default:
        this.stats.dropped++;
        this.logger.debug({ cmd: f.cmd }, 'dropped frame with unknown command');
    }
  }

  private onPing(f: Frame): void {
    const asked = decodeUtf8(f.payload);
    // Answer the empty ping too, so a direct node-to-node link stays up (PROTOCOL.md 6.4), and
    // compare normalised names so a switcher's liveness ping never evicts us (6.3).
    const ok =
      asked === '' ||
      asked === this.#_domain ||
      (this.#normalizedDomain !== null && normalizeDomain(asked) === this.#normalizedDomain);
    const payload = ok ? undefined : encodeUtf8('domain not match');
    this.sendControl(Cmd.PING_ACK, f.srcIP, f.srcPort, this.#_ip, 0, payload);
  }

  #onOpenAck(f: Frame, via: StreamHost): void {
    const ack = decodeOpenAck(f.payload);
    const waiting = this.dials.get(f.dstPort);
    const pending =
      waiting !== undefined && answers(waiting, f, via === this) ? this.dials.take(f.dstPort) : undefined;
    const held = pending === undefined ? undefined : this.#takeBeforeAck(f.dstPort);
    if (!pending) {
      const key = frameKey(f, via, this);
      if (this.streams.has(key)) {
        // A second ACK for a dial that was answered (only a buggy or hostile peer sends one): its
        // addresses are those of the stream that ACK made, so a close would end that stream.
        this.stats.dropped++;
        this.logger.debug(
          { port: f.dstPort, from: `${f.srcIP}:${f.srcPort}` },
          'dropped duplicate OpenStream ACK',
        );
        return;
      }
      // The dial gave up, or the ACK is not from where the dial waiting on the port went (a late
      // ACK of an earlier dial from that port): close the peer's stream instead of leaving it
      // half-alive (12.2). The dial waiting goes on waiting for its own.
      if (waiting !== undefined) {
        this.stats.dropped++;
        this.logger.debug(
          { port: f.dstPort, from: `${f.srcIP}:${f.srcPort}`, dial: formatTarget(waiting.target) },
          'dropped OpenStream ACK from elsewhere than the dial went',
        );
      }
      if (ack.ok) via.sendControl(Cmd.CLOSE, f.srcIP, f.srcPort, f.dstIP, f.dstPort);
      return;
    }
    const early = this.options.earlyData ? this.#earlyDials.get(f.dstPort) : undefined;
    if (early !== undefined) {
      this.#earlyDials.delete(f.dstPort);
      this.#confirmEarly(early, f, ack, pending, via);
      return;
    }
    if (!ack.ok) {
      // Refused: nothing was set up, so the port is free again at once.
      this.dialPorts.release(pending.port);
      if (held !== undefined) this.#countDropped(held);
      refuseDial(pending, ack.error);
      return;
    }
    const key = frameKey(f, via, this);
    if (this.streams.has(key)) {
      // A stream with these addresses runs already: one accepted on a port this dial waits on, from
      // the address the ACK comes from (the peer opened to us as we opened to it; PROTOCOL.md
      // 12.3). The ACK names that stream too, so the dial fails as an acceptor refuses a duplicate,
      // and nothing is sent: a close would end the stream both ends now share.
      this.dialPorts.release(pending.port);
      if (held !== undefined) this.#countDropped(held);
      this.logger.debug(
        { port: f.dstPort, from: `${f.srcIP}:${f.srcPort}` },
        'OpenStream ACK names a live stream: dial refused',
      );
      refuseDial(pending, 'sid is attached');
      return;
    }
    const window = this.#grantedWindow(pending, ack.window, f);
    // Register the stream before anything else is dispatched: data or a close may follow the ACK
    // in the same read (PROTOCOL.md 8.2 keeps them in order).
    const o = this.options;
    const core = new StreamCore(
      via,
      key,
      { ip: f.dstIP, port: f.dstPort, domain: this.#_domain },
      { ip: f.srcIP, port: f.srcPort, domain: 'domain' in pending.target ? pending.target.domain : '' },
      effectiveWindow(window),
      ack.caps & o.caps,
      true,
    );
    this.add(core);
    this.stats.streamsOpened++;
    this.#learnEarly(f, pending, window, ack.caps, core.caps);
    pending.resolve(this.#faceOf(core));
    if (held !== undefined) this.#replayBeforeAck(held, f, core);
  }

  /**
   * The window an OpenStream ACK sets, held to what the dial offered. An acceptor answers with the
   * smaller of the two (PROTOCOL.md 3.4): one that answered more (up to 2 GiB) was taken at its
   * word, and its stream could fill the receive buffer far past the window the application asked
   * for (up to maxReceiveBuffer) before any flow-control error. It is logged and the offer holds:
   * data beyond it resets the stream (FlowControlError). An answer of 0 (or 2^31 and up) still
   * means the 2 MiB default, which a legacy acceptor (an empty ACK) sends with whatever we offered.
   */
  #grantedWindow(dial: PendingDial<S>, window: number, f: Frame): number {
    const offer = dial.offer;
    if (windowAsInt32(offer) <= 0 || windowAsInt32(window) <= 0 || window <= offer) return window;
    this.logger.warn(
      { port: f.dstPort, from: `${f.srcIP}:${f.srcPort}`, offered: offer, granted: window },
      'OpenStream ACK grants a window larger than offered: the offer holds',
    );
    return offer;
  }

  /**
   * Keeps a frame for a dial waiting on its port (a data frame or a close, BeforeAck): from the
   * wire, while no early stream holds the port, from the address the first such frame came from,
   * and within the largest window the ACK may grant and maxReceiveBuffer. False when it is not
   * kept. What is kept is bounded by bytes, whatever the frames: the data in one buffer, empty
   * data frames and closes as one flag each (before, every one was kept as it came, and a peer
   * flooding the port of a waiting dial with closes or empty data frames, which count no bytes,
   * grew the node without bound until the dial timed out).
   */
  #holdBeforeAck(f: Frame, via: StreamHost): boolean {
    if (via !== this || this.#earlyDials.has(f.dstPort)) return false;
    const dial = this.dials.get(f.dstPort);
    if (dial === undefined) return false;
    let held = this.#beforeAck.get(f.dstPort);
    if (held === undefined) {
      held = {
        srcIP: f.srcIP,
        srcPort: f.srcPort,
        data: null,
        bytes: 0,
        frames: 0,
        asked: false,
        closed: false,
        overrun: null,
        stray: -1,
        strays: false,
      };
      this.#beforeAck.set(f.dstPort, held);
    } else if (held.srcIP !== f.srcIP || held.srcPort !== f.srcPort) {
      const from = keyOf(f.srcIP, f.srcPort, 0);
      if (held.stray === -1) held.stray = from;
      else if (held.stray !== from) held.strays = true;
      return false;
    }
    // After its close the stream takes nothing (v3: dropped), so nothing is kept for it; after an
    // overrun it fails.
    if (held.closed || held.overrun !== null) return false;
    if (f.cmd !== Cmd.DATA) {
      held.closed = true;
      return true;
    }
    const n = f.payload.length;
    if (n === 0) {
      // Asking again asks for nothing more: the answer comes once the reader has caught up.
      held.asked = true;
      held.frames++;
      return true;
    }
    // With no window offered, a Go acceptor answers with its own, larger than 2 MiB if configured
    // so, and may send that much: held to 2 MiB, such a stream failed at its ACK. Only the
    // receive budget bounds it then; the stream the ACK makes checks it against the window granted.
    const limit = largestAnswer(dial.offer);
    // Dropped, they would leave a hole in the stream, which delivered what came before and after
    // them without a word: the stream fails at its ACK instead.
    if (held.bytes + n > limit) {
      held.overrun = new FlowControlError(
        `peer sent beyond the ${limit}-byte window ahead of the OpenStream ACK`,
      );
      return false;
    }
    if (!this.canBuffer(n)) {
      held.overrun = new FlowControlError(
        `connection receive buffer limit of ${this.options.maxReceiveBuffer} bytes reached`,
      );
      return false;
    }
    // Copied: a payload may be a view of a read buffer, kept here for up to the dial timeout.
    let buf = held.data;
    if (buf === null || held.bytes + n > buf.length) {
      const grown = new Uint8Array(Math.max(held.bytes + n, Math.min(2 * (buf?.length ?? 0), limit)));
      if (buf !== null) grown.set(buf.subarray(0, held.bytes));
      buf = grown;
      held.data = buf;
    }
    buf.set(f.payload, held.bytes);
    held.bytes += n;
    if (f.continued !== true) held.frames++;
    this.accountReceive(n);
    return true;
  }

  /** Takes what was kept for the dial on `port` off the books. */
  #takeBeforeAck(port: number): BeforeAck | undefined {
    const held = this.#beforeAck.get(port);
    if (held === undefined) return undefined;
    this.#beforeAck.delete(port);
    this.accountReceive(-held.bytes);
    return held;
  }

  /** The dial on `port` ended without a stream: what was kept for it is dropped. */
  #dropBeforeAck(port: number): void {
    const held = this.#takeBeforeAck(port);
    if (held !== undefined) this.#countDropped(held);
  }

  #countDropped(held: BeforeAck): void {
    this.stats.dropped += held.frames;
  }

  /** Hands the stream the ACK `f` made what its peer sent ahead of the ACK, in order. */
  #replayBeforeAck(held: BeforeAck, f: Frame, core: StreamCore): void {
    if (held.srcIP !== f.srcIP || held.srcPort !== f.srcPort) {
      this.#countDropped(held);
      // Another address (a late frame of an earlier stream from this port, a forger) sent first:
      // what this peer sent ahead of its ACK was refused. Run without it, the stream delivered
      // the rest as if nothing was missing (all of it, with a close among them).
      if (held.strays || held.stray === keyOf(f.srcIP, f.srcPort, 0)) {
        const from = `${held.srcIP}:${held.srcPort}`;
        core.violate(
          ResetCode.PROTOCOL,
          new ProtocolError(
            `frames of the stream sent ahead of its OpenStream ACK were dropped: ${from} had sent to port ${f.dstPort} first`,
          ),
        );
      }
      return;
    }
    if (held.data !== null) core.onData(held.data.subarray(0, held.bytes));
    if (held.overrun !== null) {
      core.violate(ResetCode.FLOW_CONTROL, held.overrun);
      return;
    }
    if (held.asked) core.onData(NO_PAYLOAD);
    if (held.closed) core.onClose(true);
  }

  /**
   * The ACK of a domain dial, from an acceptor that takes early data: later dials with the same
   * offer may send it. From the peer itself (source IP FFFF: a switcher would have put the
   * acceptor's IP there) it holds for every dial on this link; through a switcher that marked it
   * EARLY_ROUTED, for dials to that domain.
   */
  #learnEarly(f: Frame, dial: PendingDial<S>, window: number, rawCaps: number, caps: number): void {
    if (
      !this.options.earlyData ||
      (caps & Caps.EARLY_DATA) === 0 ||
      !('domain' in dial.target) ||
      dial.offer !== this.options.window
    ) {
      return;
    }
    const answer = { offer: dial.offer, window, caps };
    if (f.srcIP === SWITCHER_IP) {
      if (this.early !== null) return;
      this.early = answer;
      this.logger.debug({ window, caps }, 'direct link to a flexmux peer: early data on');
      return;
    }
    const domain = normalizeDomain(dial.target.domain);
    if ((rawCaps & Caps.EARLY_ROUTED) === 0 || domain === null) return;
    if (!this.earlyDomains.has(domain)) {
      if (this.earlyDomains.size >= EARLY_DOMAINS) {
        const oldest = this.earlyDomains.keys().next().value;
        if (oldest !== undefined) this.earlyDomains.delete(oldest);
      }
      this.logger.debug({ domain, window, caps }, 'early data on through the switcher');
    }
    this.earlyDomains.set(domain, answer);
  }

  /** The ACK of an early-data dial: the stream already runs; fail it if the acceptor disagrees. */
  #confirmEarly(
    dial: EarlyDial<S>,
    f: Frame,
    ack: ReturnType<typeof decodeOpenAck>,
    pending: PendingDial<S>,
    via: StreamHost,
  ): void {
    // (A stream that ended before its ACK gave its dial up: release().)
    const { core, face, answer, routed } = dial;
    if (!ack.ok) {
      refuseDial(pending, ack.error);
      return;
    }
    // Compared with what this stream assumed (a later change of mind is not its business): the
    // window as held to the offer, as it was when learned (learnEarly), or an acceptor that grants
    // more than offered failed every early dial, answering the same each time.
    const same =
      f.srcPort === core.remotePort &&
      this.#grantedWindow(pending, ack.window, f) === answer.window &&
      (ack.caps & this.options.caps) === core.caps &&
      (routed === null ? f.srcIP === core.remoteIP : (ack.caps & Caps.EARLY_ROUTED) !== 0);
    if (same && routed !== null) {
      const other = this.streams.get(frameKey(f, via, this));
      if (other !== undefined && other !== core) {
        // The address the ACK gives this stream is a stream accepted meanwhile (a simultaneous
        // open, PROTOCOL.md 12.3): fail the dial as onOpenAck does, and leave that stream be.
        refuseDial(pending, 'sid is attached');
        return;
      }
    }
    if (same) {
      // Counted now, as a dial is once accepted: a refused or failed early dial opened nothing.
      this.stats.streamsOpened++;
      core.confirmOpen();
      if (routed !== null && core.state !== 'closed') {
        // Through a switcher: the acceptor's IP is known now; its frames carry it.
        this.streams.delete(core.key);
        core.rebind(f.srcIP, frameKey(f, via, this));
        this.streams.set(core.key, core);
        this.bySerial?.rekey(core.serial, core.key);
      }
      pending.resolve(face);
      return;
    }
    // Cannot happen with a flexmux peer whose options stay put; if it does, nothing of what was
    // sent can be trusted to have landed in the right place.
    if (routed === null) {
      if (this.early === answer) this.early = null;
    } else if (this.earlyDomains.get(routed) === answer) {
      this.earlyDomains.delete(routed);
    }
    const err = new ProtocolError('the OpenStream ACK of an early-data dial disagrees with the earlier ones');
    // An abortive end (docs/protocol.md 8): a reset where the acceptor's stream took RESET (what
    // its ACK says), else the v3 close, the only end a plain stream knows.
    if ((ack.caps & this.options.caps & Caps.RESET) !== 0) {
      const reset = encodeReset(ResetCode.PROTOCOL, err.message);
      via.sendControl(Cmd.RESET, f.srcIP, f.srcPort, f.dstIP, f.dstPort, reset);
    } else {
      via.sendControl(Cmd.CLOSE, f.srcIP, f.srcPort, f.dstIP, f.dstPort);
    }
    pending.reject(err);
  }

  /** The burst of opens refused at the limits is over: its last summary line, with the counts now. */
  #endLimitBurst(): void {
    this.#atLimit.end(this.#limitFields());
  }

  #limitFields(): object {
    return { streams: this.streams.size, dials: this.dials.size, buffered: this.receiveBuffered };
  }

  /** Arms burstReport, if it is not: each firing ends the bursts quiet for a second. */
  #reportBurstsLater(): void {
    if (this.#burstReport !== undefined || this.#_closed) return;
    this.#burstReport = timeout(() => {
      this.#burstReport = undefined;
      this.#violations.endIfQuiet(1_000);
      this.#atLimit.endIfQuiet(1_000, this.#limitFields());
      if (this.#violations.active || this.#atLimit.active) this.#reportBurstsLater();
    }, 1_000);
  }

  #refuseOpen(f: Frame, via: StreamHost, text: string): void {
    this.stats.openRefused++;
    this.logger.debug({ port: f.dstPort, from: `${f.srcIP}:${f.srcPort}`, reason: text }, 'refused an open');
    via.sendControl(Cmd.OPEN_ACK, f.srcIP, f.srcPort, f.dstIP, f.dstPort, encodeOpenError(text));
  }

  #onOpen(f: Frame, via: StreamHost): void {
    const l = this.listeners.get(f.dstPort);
    if (!l || this.closing) {
      this.#refuseOpen(f, via, this.closing ? 'listener closed' : 'listener not found');
      return;
    }
    const req = decodeOpen(f.payload);
    const key = frameKey(f, via, this);
    if (this.streams.has(key)) {
      this.#refuseOpen(f, via, 'sid is attached');
      return;
    }
    const o = this.options;
    // Pending dials count too: each becomes a stream when its ACK comes, and a dial to this node
    // itself is two streams (with only the open counted, the limit was overshot by both).
    // With the receive budget full (no data takes it past the maximum, so "over" never held) a new
    // stream could take no byte: accepted, it was reset at its first data; refused, its dialer
    // hears why at once (DialRefusedError, reason 'limit') and may try again once readers catch up.
    if (this.#streamsHeld() >= o.maxStreams || !this.canBuffer(1)) {
      const fields = this.#limitFields();
      if (this.#atLimit.hit(fields)) this.logger.warn(fields, 'refusing stream: limit');
      this.#reportBurstsLater();
      this.#refuseOpen(f, via, 'too many streams');
      return;
    }
    // Under the limits again: what the burst counted since its last line is said now.
    if (this.#atLimit.active) this.#endLimitBurst();
    if (!l.canTake()) {
      this.#refuseOpen(f, via, 'listener backlog full');
      return;
    }
    this.retention.delete(key);
    const negotiated = negotiateWindow(o.window, req.window);
    const effective = effectiveWindow(negotiated);
    const caps = negotiateCaps(o.caps, req.caps);
    // The ACK goes out before the application sees the stream (PROTOCOL.md 12.2).
    via.sendControl(
      Cmd.OPEN_ACK,
      f.srcIP,
      f.srcPort,
      f.dstIP,
      f.dstPort,
      encodeOpenAck({ window: negotiated, caps: req.caps === 0 ? undefined : caps }),
    );
    // Keep only what can be a domain (63 bytes at most, 2.8): a peer could attach 64 KB of text,
    // white space around a valid name too (normalisation trims it), so that goes as well.
    // (Normalised once: it trims as goTrimSpace does, so the trimmed name normalises the same.)
    const normalized = req.domain === '' ? null : normalizeDomain(req.domain);
    const asked = normalized === null ? '' : goTrimSpace(req.domain);
    // The name is the dialer's once a switcher rewrote it (4.2); on a direct link nothing does,
    // and it is the one the dialer asked for: this node's own, which says nothing of the dialer.
    // (A dial to our own domain comes through the loopback, not the wire.)
    const ownName = via === this && normalized !== null && normalized === this.#normalizedDomain;
    const remoteDomain = ownName ? '' : asked === '' && f.srcIP === this.#_ip ? this.#_domain : asked;
    const core = new StreamCore(
      via,
      key,
      { ip: f.dstIP, port: f.dstPort, domain: this.#_domain },
      { ip: f.srcIP, port: f.srcPort, domain: remoteDomain },
      effective,
      caps,
      false,
    );
    this.add(core);
    this.stats.streamsAccepted++;
    l.offer(this.#faceOf(core));
  }

  private teardown(err: Error, byOwner = false): void {
    if (this.#_closed) return;
    this.#_closed = true;
    this.#waitsEnd.abort();
    const graceful = byOwner || (this.closing && err instanceof ConnectionClosedError);
    this.#closeError = graceful ? undefined : err;
    // Step by step (step()): a bug of ours in one threw out of the transport's close handler, an
    // uncaught exception, and skipped the rest: timers left running, dials, pings and streams
    // never failed, and no 'close', which a session waits for to reconnect.
    this.step(() => this.scheduler.close());
    this.step(() => this.loopback?.close());
    this.step(() => this.heartbeat.stop());
    this.step(() => this.retention.stop());
    this.step(() => {
      if (this.#atLimit.active) this.#endLimitBurst();
      this.#violations.end();
    });
    if (this.#burstReport !== undefined) clearTimeout(this.#burstReport);
    this.#burstReport = undefined;
    this.#sending.clear();
    this.step(() => this.dials.failAll(new ConnectionClosedError('connection closed', { cause: err })));
    for (const port of [...this.#beforeAck.keys()]) this.step(() => this.#dropBeforeAck(port));
    this.#earlyDials.clear();
    this.step(() => this.pinger.failAll(new ConnectionClosedError('connection closed', { cause: err })));
    // Listeners first: streams still in a backlog belong to nobody and close silently.
    for (const l of [...this.listeners.values()]) {
      this.step(() => {
        if (this.#borrowed.has(l)) this.dropListener(l);
        else l.close();
      });
    }
    this.listeners.clear();
    // Its streams fail either way, as its dials and pings do: destroyed by its owner too, a stream
    // cut short must not look to its reader like one the peer ended (a silent close did to any code
    // that listens for 'error' only, as `flexmux dial` does). The face keeps the error in `failure`
    // when nobody listens, so nothing crashes.
    const streamErr = new ConnectionClosedError('connection closed', { cause: err });
    for (const s of [...this.streams.values()]) this.step(() => s.abort(streamErr));
    this.streams.clear();
    this.bySerial?.clear();
    if (this.#closeError) {
      if (!this.closeLoggedByOwner)
        this.logger.info({ ...errorFields(err), remote: this.transport.remoteAddress }, 'connection closed');
      this.emit('error', err);
    }
    this.emit('close', this.#closeError);
  }

  /** One step of teardown(): a bug of ours in it is counted and logged, and the next step runs. */
  private step(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#countInternal(err, 'internal error closing the node');
    }
  }
}
