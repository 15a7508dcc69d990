import {
  type NodeOptions,
  type ResolvedNodeOptions,
  sessionDefaults,
  validateNodeOptions,
} from '../config.js';
import {
  AbortError,
  ConfigError,
  ConnectionClosedError,
  NotConnectedError,
  TimeoutError,
} from '../errors.js';
import type { Transport } from '../transport/types.js';
import { errorFields } from '../util/cause.js';
import {
  checkAtLeast,
  checkBool,
  checkDelay,
  checkOptions,
  checkSignal,
  checkType,
  withoutNullSignal,
} from '../util/check.js';
import { Emitter } from '../util/emitter.js';
import { containedLogger, type Logger, silentLogger } from '../util/logger.js';
import { eitherSignal, followSignal, type LinkedSignal, whenAborted } from '../util/signals.js';
import { clampDelay, now } from '../util/timers.js';
import { normalizeDomain } from '../wire/domain.js';
import { type DialTarget, formatTarget, parseAddress } from './address.js';
import { admit } from './admit.js';
import { type Destroyable, Listener, portTaken } from './listener.js';
import { type BaseNode, type DialOptions, dialLimits, type PingOptions } from './node.js';
import { pingPayload, pingTarget } from './pinger.js';
import { spreadDelay } from './reconnect.js';
import { connectionLost, type TargetWait, untilTarget } from './redial.js';
import { refusedForGood } from './refusal.js';

/**
 * Options of a session (`connect(url, options)`, `new Session(init)`): the node options (but
 * `ip`, which admission assigns) and those of admission and reconnection (docs/manual.md,
 * "Session options"); defaults are those of `sessionDefaults`.
 */
export interface SessionOptions extends Omit<NodeOptions, 'ip'> {
  /** The switcher's password (the shared one, or an extra one of its `access.passwords`). */
  password: string;
  /** The domain to register; a domain the switcher holds for a live node is refused. */
  domain: string;
  /**
   * Sent with the admission request, as Go sends a MAC address; the switcher lists it as the
   * client's `mac`. Default ''.
   */
  mac?: string;
  /** Reconnect after the connection drops (default true). */
  reconnect?: boolean;
  /**
   * First back-off delay after a failed attempt, ms (Go: 1 s). A connection dropped within it of
   * its admission counts as failed, and backs off from it again (docs/manual.md section 6).
   * Default 1000.
   */
  backoffInitial?: number;
  /** Longest back-off delay, ms (Go: 30 s). Default 30000. */
  backoffMax?: number;
  /**
   * Random spread of each delay, 0..1 (default 0.2); a delay never passes backoffMax (a draw past
   * it is reflected below it), nor falls below a tenth of the delay it spreads (a draw below that
   * is reflected above it): even at 1, no retry comes at once.
   */
  backoffJitter?: number;
  /**
   * Longest random wait, ms, before reconnecting after a connection that worked is lost (Go: none,
   * it reconnects at once). Each loss draws its wait uniformly from 0..reconnectSpread, so the
   * nodes of a switcher that restarts come back spread over it instead of all in the same
   * instant; 0 reconnects at once. Default: 500, or backoffInitial or backoffMax if shorter.
   */
  reconnectSpread?: number;
  /**
   * Longest random wait, ms, before the first attempt (default 0: at once). Drawn uniformly from
   * 0..startSpread, so that the nodes of a fleet started in the same instant (a host's boot, a
   * deployment) do not all dial the switcher at once; the state is 'connecting' meanwhile,
   * close() or the opener's abort ends the wait, and reconnectNow() ends it with the attempt.
   */
  startSpread?: number;
  /** Dials and pings made while disconnected wait for the connection instead of failing. Default false. */
  waitForReady?: boolean;
  /** Admission timeout, ms (Go: 10 s). Default 10000. */
  admissionTimeout?: number;
  /** Unix nanoseconds for the admission timestamp; injectable for tests. */
  clock?: () => bigint;
}

/**
 * What `session.dial()` takes: a node's DialOptions and the wait only a session can make. Its
 * `waitForTarget` waits as a node's does, across reconnections: close() ends a pause with the
 * closed session's ConnectionClosedError, and with `wait` too, a dial cut off by the loss of the
 * connection is made again on the next one.
 */
export interface SessionDialOptions extends DialOptions {
  /**
   * A dial made while the session is disconnected waits for the next connection instead of
   * failing with NotConnectedError (default: the session's `waitForReady`).
   */
  wait?: boolean;
}

/**
 * What `session.ping()` takes: a node's PingOptions and the wait only a session can make. Its
 * `waitForTarget` waits as a node's does, across reconnections: close() ends a pause with the
 * closed session's ConnectionClosedError, and with `wait` too, a ping cut off by the loss of the
 * connection is made again on the next one.
 */
export interface SessionPingOptions extends PingOptions {
  /**
   * A ping made while the session is disconnected waits for the next connection instead of
   * failing with NotConnectedError (default: the session's `waitForReady`).
   */
  wait?: boolean;
}

/** What `session.reconnectNow()` takes. */
export interface ReconnectNowOptions {
  /**
   * true: leave the startSpread wait before the first attempt to run out (false is returned
   * then); a back-off is still ended. For a change that the first attempt picks up anyway (a
   * password reloaded on SIGHUP): ending the spread there would make every node of a fleet
   * reloaded in its start spread connect in the same instant, which the spread is there to avoid.
   */
  keepStartSpread?: boolean;
}

/** What `session.ready()` takes. */
export interface ReadyOptions {
  /** Aborting it rejects the wait with AbortError; the session goes on. */
  signal?: AbortSignal;
  /** ms to wait; running out rejects with TimeoutError, naming the last failure. */
  timeout?: number;
  /**
   * Wait through refusals too, until an admission (default false). Without it, an admission
   * refused for a reason that waiting will not mend (a wrong password, another protocol version,
   * and what a switcher's ErrCode -1 stands for: the clock, the domain, access rules) rejects the
   * wait with that AdmissionError; the session retries all the same, so an operator may fix the
   * switcher, and a later ready() waits again.
   */
  untilAdmitted?: boolean;
}

/** A pending ready(): settled on admission, on close, and (unless it waits through them) on refusal. */
interface ReadyWaiter {
  resolve: () => void;
  reject: (e: Error) => void;
  untilAdmitted: boolean;
}

/** What an aborted ready() says (a bare "operation aborted" did not say which wait). */
const READY_ABORTED = 'wait for the session to be ready aborted';

/**
 * Where a session is: `connecting` (an attempt under way or starting at once, or the startSpread
 * wait before the first), `ready` (admitted), `backoff` (waiting to reconnect, from the failure or
 * loss that its 'disconnect' tells of), `closed`.
 */
export type SessionState = 'connecting' | 'ready' | 'backoff' | 'closed';

/** The events of a session (`session.on(event, listener)`) and the arguments of their listeners. */
export type SessionEvents = {
  /** The session's state changed: the new one. */
  state: [SessionState];
  /** Admitted: the node is ready with this virtual IP. */
  ready: [number];
  /**
   * The connection dropped or an attempt failed; the session retries unless closed. Its listeners
   * find `state` telling what comes next, whichever it was: 'backoff' when the session waits
   * before the next attempt (a back-off, a spread), 'connecting' when that attempt comes at once
   * (reconnectSpread 0 after a connection that worked, reconnectNow() called during the attempt
   * that failed), 'closed' when the failure closes the session (reconnect: false, a ConfigError,
   * the opener's signal aborted), and 'close' follows.
   */
  disconnect: [Error];
  /** The session is closed. */
  close: [];
};

/**
 * A dial's or ping's `wait`, when given, is a boolean: only its truth was read, so `'false'` (a
 * value read from a config file or the environment) made a dial wait out its whole timeout for a
 * connection its caller meant it to fail without, and `1` went unnoticed.
 */
function checkWait(wait: unknown): void {
  if (wait !== undefined) checkBool('option wait', wait);
}

/** A delay in ms that a timer can take: 0 would retry in a tight loop, over 2^31-1 fires at once. */
function delayOption(name: string, v: number): number {
  return checkDelay(`option ${name}`, v);
}

/**
 * What the opener of a session bounds every connection attempt with, on top of the session's own
 * limits: a page's `signal` (or `ws.signal`) and `ws.timeout`. An attempt is the dial and the
 * admission after it, so a switcher that takes the connection and never answers is bounded as well.
 */
export interface AttemptBounds {
  /**
   * Aborting fails the attempt in flight with AbortError, and the session closes; aborted while
   * the session waits to try again, it closes at once. `null` counts as none (JavaScript callers
   * pass `controller?.signal ?? null`); anything else that is not an AbortSignal is a ConfigError.
   */
  signal?: AbortSignal | null;
  /**
   * ms one attempt may take, dial and admission together; it fails with TimeoutError. The session
   * bounds the admission with what the dial left of it (nothing left fails the attempt); the
   * dial is the connector's to bound with it (the browser connect() passes it to the WebSocket).
   */
  timeout?: number;
}

/** Makes the node of an admitted connection, its streams of type `S`. */
export type NodeFactory<S extends Destroyable> = (transport: Transport, options: NodeOptions) => BaseNode<S>;

/**
 * What `new Session()` takes: the session's options, the opener's bounds on every attempt
 * (AttemptBounds; none by default), and the two things that make it a session of one kind of
 * transport and stream.
 */
export interface SessionInit<S extends Destroyable> extends SessionOptions, AttemptBounds {
  /**
   * Opens the transport of one attempt, heeding the signal it gets: the session's close and
   * the opener's `signal` together, for the whole attempt.
   */
  connector: (signal: AbortSignal) => Promise<Transport>;
  /** Makes the node on an admitted transport (BaseNode with the stream face of your choice). */
  makeNode: NodeFactory<S>;
}

/**
 * A node that stays connected (PROTOCOL.md 8.8): admits, reconnects (after a short random wait
 * once a connection that worked is lost, with exponential back-off and jitter after failures),
 * re-registers its listeners on every new connection, and reports its state.
 */
export class Session<S extends Destroyable> extends Emitter<SessionEvents> {
  private readonly connector: (signal: AbortSignal) => Promise<Transport>;
  private readonly makeNode: NodeFactory<S>;
  private readonly opts: SessionOptions;
  /** The opener's bounds, `signal` checked and a null one dropped. */
  readonly #bounds: { signal?: AbortSignal; timeout?: number };
  private readonly logger: Logger;
  private readonly listeners = new Map<number, Listener<S>>();
  #_node: BaseNode<S> | null = null;
  #_state: SessionState = 'connecting';
  readonly #nodeOpts: ResolvedNodeOptions;
  /** The session's own options below, checked and their defaults (sessionDefaults) resolved. */
  private readonly reconnect: boolean;
  readonly #waitForReady: boolean;
  readonly #initialDelay: number;
  readonly #maxDelay: number;
  private readonly jitter: number;
  private readonly admissionTimeout: number;
  /** reconnectSpread. */
  private readonly spread: number;
  private delay: number;
  /**
   * Connections in a row dropped within backoffInitial of their admission: what the back-off
   * after such a drop doubles with, so a switcher that admits and drops at once still gets no
   * reconnect storm.
   */
  #shortLived = 0;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  /** An attempt's dial or admission is under way (not its start, nor the spread before it). */
  #attempting = false;
  /** reconnectNow() was called while an attempt was under way: if it fails, the next comes at once. */
  #wokeDuring = false;
  /** What hears the opener's abort while the session waits to try again (attemptAfter). */
  #retryWatch: LinkedSignal | null = null;
  private readonly abort = new AbortController();
  private closing: Promise<void> | null = null;
  #readyWaiters: ReadyWaiter[] = [];
  /** The failure that made the session close itself (not a close() of its owner), if any. */
  #closeCause: Error | undefined;
  /** Why the last attempt failed or the last connection dropped, until the next admission. */
  #lastFailure: Error | undefined;
  /** Successful admissions so far. */
  connections = 0;

  /**
   * `new Session({ connector, makeNode, password, domain, ...options })`: every option is checked
   * now (ConfigError), and the first attempt starts at once.
   */
  constructor(init: SessionInit<S>) {
    super();
    // Destructured below: without this, a JavaScript caller passing nothing got a TypeError.
    // Refused as every other call's options are (checkOptions), but for a function: the old
    // positional form's connector, which the check of connector names.
    if (typeof init !== 'function') checkOptions('session', init);
    // The session's own options, without what only the constructor uses: they become the
    // options of every node it makes.
    const { connector, makeNode, signal: opener, timeout, ...options } = init;
    // Found at the first attempt instead, they would fail it with a TypeError and retry for ever.
    if (typeof connector !== 'function') throw new ConfigError('option connector must be a function');
    if (typeof makeNode !== 'function') throw new ConfigError('option makeNode must be a function');
    if (typeof options.password !== 'string') throw new ConfigError('option password must be a string');
    if (typeof options.domain !== 'string') throw new ConfigError('option domain must be a string');
    // Read by every admission: a bad one failed each attempt, and the session retried for ever.
    if (options.clock !== undefined) checkType('option clock', options.clock, 'function');
    // A switcher refuses a name that does not normalise (PROTOCOL.md 2.8) without saying why
    // (ErrCode -1), and every attempt would be refused again, for as long as the session lives.
    if (normalizeDomain(options.domain) === null) {
      throw new ConfigError(
        `option domain ${JSON.stringify(options.domain)} is not one a switcher admits: 1..63 of a-z 0-9 - _ (upper case folded), not starting or ending with - or _, not local or localhost`,
      );
    }
    // Every option is checked now: a bad one found at the first admission would cost a connection.
    const { password: _p, mac: _m, reconnect: _r, ...nodeOptions } = options;
    this.#nodeOpts = validateNodeOptions({ ...nodeOptions, domain: options.domain });
    const d = sessionDefaults;
    this.#initialDelay = delayOption('backoffInitial', options.backoffInitial ?? d.backoffInitial);
    this.delay = this.#initialDelay;
    this.#maxDelay = delayOption('backoffMax', options.backoffMax ?? d.backoffMax);
    // Never longer by default than the wait after a failed attempt: a connection that worked must
    // not come back later than one that failed would.
    this.spread = checkDelay(
      'option reconnectSpread',
      options.reconnectSpread ?? Math.min(d.reconnectSpread, this.#initialDelay, this.#maxDelay),
      0,
    );
    const startSpread = checkDelay('option startSpread', options.startSpread ?? d.startSpread, 0);
    this.jitter = checkAtLeast('option backoffJitter', options.backoffJitter ?? d.backoffJitter, 0);
    if (this.jitter > 1) throw new ConfigError(`option backoffJitter must be in 0..1, got ${this.jitter}`);
    this.admissionTimeout = delayOption('admissionTimeout', options.admissionTimeout ?? d.admissionTimeout);
    this.reconnect = checkBool('option reconnect', options.reconnect ?? d.reconnect);
    this.#waitForReady = checkBool('option waitForReady', options.waitForReady ?? d.waitForReady);
    if (timeout !== undefined) delayOption('timeout', timeout);
    this.#bounds = { signal: checkSignal('option signal', opener), timeout };
    this.connector = connector;
    this.makeNode = makeNode;
    this.opts = options;
    // Contained: a logger that throws (a closed pipe) on the lines of a failed attempt or a lost
    // connection stopped the retry that follows them, and the session waited for good.
    this.logger = containedLogger(options.logger ?? silentLogger);
    // An opener's signal aborted already fails the first attempt at once, as without a spread.
    // No draw without a spread: the default start takes nothing from Math.random.
    const first = startSpread === 0 || this.#bounds.signal?.aborted ? 0 : spreadDelay(startSpread);
    if (first > 0) this.#attemptAfter(first);
    else void this.attempt();
  }

  /** The session's state now. */
  get state(): SessionState {
    return this.#_state;
  }

  /** The node of the current connection, or null while disconnected. */
  get node(): BaseNode<S> | null {
    return this.#_node;
  }

  /** The virtual IP of the current connection; 0 while disconnected. */
  get ip(): number {
    return this.#_node?.ip ?? 0;
  }

  /** The domain the session registers. */
  get domain(): string {
    return this.opts.domain;
  }

  /**
   * The password for the next admission, a reconnect's included (a rotated secret: the CLI's
   * reload on SIGHUP). The connection up now stays: a switcher checks the password only when it
   * admits. ConfigError, keeping the old one, for a password that is not a string.
   */
  setPassword(password: string): void {
    if (typeof password !== 'string') throw new ConfigError('option password must be a string');
    this.opts.password = password;
  }

  /**
   * Ends the wait between two attempts (state `backoff`), or the start's spread before the first
   * (startSpread, state `connecting`), and attempts at once: for a program that knows the reason
   * to wait has passed (a page back online, an app back in the foreground, a network interface up
   * again, a password fixed with setPassword()) and would otherwise wait out up to backoffMax.
   * True if it started an attempt; false, doing nothing, while the session is ready or closed,
   * and from a 'state' or 'disconnect' listener, which runs before the wait begins (one that
   * always called it would retry without back-off). While
   * an attempt is under way it returns false too, but the next attempt comes at once if that one
   * fails: the reason to wait may have passed while it ran (a network back while the attempt
   * still went through the old one), and the back-off after it waited up to backoffMax. The
   * back-off goes on from where it was: an attempt that fails again waits the next, longer delay.
   * `keepStartSpread: true` leaves the start's spread alone (ReconnectNowOptions).
   */
  reconnectNow(options: ReconnectNowOptions = {}): boolean {
    // Null options, or a keepStartSpread that is no boolean, are bad options as every call's are:
    // null failed with a TypeError, and a truthy 'yes' was read as false, ending the spread.
    checkOptions('reconnectNow()', options);
    const keepStartSpread =
      options.keepStartSpread !== undefined && checkBool('option keepStartSpread', options.keepStartSpread);
    const timer = this.#retryTimer;
    // A timer while 'connecting' is the start's spread: the first attempt may come now too, as
    // the next one does in a back-off (before, the call did nothing there, and the first attempt
    // waited out its draw, up to startSpread). A closed session's timer was cleared, not
    // forgotten: never an attempt behind a close.
    // 'backoff' with no timer yet: a 'state' or 'disconnect' listener, called before the wait is
    // armed. The wait then armed is the one a later call cuts short.
    const waiting = this.#_state === 'backoff' || (this.#_state === 'connecting' && !keepStartSpread);
    if (!waiting || timer === null) {
      // Never two attempts at once: this one's failure, if it comes, cuts its back-off short.
      if (this.#attempting) this.#wokeDuring = true;
      return false;
    }
    clearTimeout(timer);
    this.#retryTimer = null;
    // The opener's abort is heard by the attempt's own linked signal from now on.
    this.#retryWatch?.dispose();
    this.#retryWatch = null;
    this.logger.debug({ domain: this.opts.domain }, 'session reconnecting now');
    void this.attempt();
    return true;
  }

  /**
   * Checks the connection now, for a program with reason to think it died without a word (a laptop
   * woken from sleep, a network that changed, a NAT mapping that may have expired), which the
   * heartbeat would find only within heartbeatInterval + heartbeatTimeout + a quarter interval (its
   * check runs four times per interval), later if timers were held back or its output is backed up
   * (up to 2 × heartbeatInterval + heartbeatTimeout + a quarter after the last byte heard): pings
   * the switcher at once, and if nothing comes back within heartbeatTimeout, drops the connection
   * as the heartbeat would ('disconnect' with `liveness check: no answer within 2000 ms`), and the
   * session reconnects. Resolves true if the connection is alive; false if it was found dead, or if
   * the session was not ready (nothing to check; reconnectNow() is for a session that waits to
   * reconnect). A ping under way (a check's or the heartbeat's) is shared, and one answered within
   * the last heartbeatTimeout stands, so calls made together send one ping; a live connection is
   * left as it is.
   */
  checkNow(): Promise<boolean> {
    const node = this.#usable();
    return node === null ? Promise.resolve(false) : node.checkNow();
  }

  /**
   * Resolves once connected and admitted. Rejects with the AdmissionError of an attempt refused,
   * while it waits, for a reason waiting will not mend (a wrong password: ReadyOptions), unless
   * `untilAdmitted`; with AbortError at `signal`, TimeoutError after `timeout` ms, and the closed
   * session's ConnectionClosedError. The session keeps retrying in every case but the last.
   */
  ready(options: ReadyOptions = {}): Promise<void> {
    let untilAdmitted: boolean;
    let signal: AbortSignal | undefined;
    try {
      checkOptions('ready()', options);
      if (options.timeout !== undefined) checkDelay('option timeout', options.timeout);
      untilAdmitted = checkBool('option untilAdmitted', options.untilAdmitted ?? false);
      signal = checkSignal('option signal', options.signal);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#usable() !== null) return Promise.resolve();
    if (this.#_state === 'closed') return Promise.reject(this.#closedError());
    // An abort listener added to a signal that already fired is never called.
    if (signal?.aborted) return Promise.reject(new AbortError(READY_ABORTED, { cause: signal.reason }));
    // Heard through whenAborted: the waits sharing one signal of the caller's (a dozen dials with
    // `wait`, made while the session reconnects, wait here) share one listener on it. With a
    // listener each, eleven of them made Node.js warn of a leak.
    let unlisten: (() => void) | undefined;
    return new Promise<void>((resolve, reject) => {
      const cleanup = (): void => {
        if (timer) clearTimeout(timer);
        unlisten?.();
        this.#readyWaiters = this.#readyWaiters.filter((w) => w !== waiter);
      };
      const waiter: ReadyWaiter = {
        resolve: () => {
          cleanup();
          resolve();
        },
        reject: (e: Error) => {
          cleanup();
          reject(e);
        },
        untilAdmitted,
      };
      const onAbort = (): void => waiter.reject(new AbortError(READY_ABORTED, { cause: signal?.reason }));
      const timer =
        options.timeout !== undefined
          ? setTimeout(
              () => waiter.reject(this.#notReadyError(`session not ready after ${options.timeout} ms`)),
              options.timeout,
            )
          : null;
      if (signal !== undefined) unlisten = whenAborted(signal, onAbort);
      this.#readyWaiters.push(waiter);
    });
  }

  /**
   * Opens a stream on the current connection. With `wait` (or `waitForReady`), a dial made while
   * disconnected waits for the next connection; with `waitForTarget`, a dial refused because its
   * target is not there yet is made again until it is. Every wait counts in its `timeout`
   * (dialTimeout by default) and ends at its `signal` (SessionDialOptions).
   */
  async dial(address: string | DialTarget, options: SessionDialOptions = {}): Promise<S> {
    options = withoutNullSignal('dial()', options);
    checkWait(options.wait);
    if (options.waitForTarget === undefined || !checkBool('option waitForTarget', options.waitForTarget)) {
      return this.#dialOnce(address, options);
    }
    // Checked once, here: a bad address or option is refused at once, not dialled again.
    const target = formatTarget(parseAddress(address));
    const { timeoutMs } = dialLimits(options, this.#nodeOpts);
    return untilTarget(this.#retrying('dial', target, timeoutMs, options), (timeout, signal) =>
      this.#dialOnce(address, { ...options, timeout, signal, waitForTarget: false }),
    );
  }

  /**
   * How a dial or ping with `waitForTarget` is made again (untilTarget): later after a failure
   * that says its target is away (refused as not there, or a ping's `domain not found`); at once
   * after the loss of the connection, but only when it waits for the next connection (`wait`,
   * else waitForReady), and only while the session is reconnecting: one that failed while ready
   * did not lose its connection (made again at once, it could spin). close() ends a pause at once
   * (`stop`: the session's `abort`, which each wait follows, redial.ts): the next attempt fails
   * with the closed session's error.
   */
  #retrying(
    what: 'dial' | 'ping',
    target: string,
    timeout: number,
    options: { signal?: AbortSignal; wait?: boolean },
  ): TargetWait {
    const waits = options.wait ?? this.#waitForReady;
    return {
      what,
      target,
      timeout,
      signal: options.signal,
      stop: this.abort.signal,
      logger: this.logger,
      now: (err) => waits && connectionLost(err) && this.#_state !== 'closed' && this.#usable() === null,
    };
  }

  /**
   * One dial, on the current connection or (waiting if asked) the next one. Never the node's
   * waitForTarget (dial() gives `options` with it unset or false): the session's loop spans
   * connections, and one of the node's inside it would wait on a connection the session may have
   * lost. No copy of `options` here: a plain dial passes them through as given.
   */
  async #dialOnce(address: string | DialTarget, options: SessionDialOptions): Promise<S> {
    const ready = this.#usable();
    if (ready !== null) return ready.dial(address, options);
    // Checked before any wait, as the node would: a bad address or option waited for the
    // connection (its whole timeout, then TimeoutError, while none came) only to be refused
    // then, and without `wait` it failed with NotConnectedError as if it were fine.
    const target = formatTarget(parseAddress(address));
    const { timeoutMs } = dialLimits(options, this.#nodeOpts);
    const { node, left } = await this.current(`dial ${target}`, options.wait, options, timeoutMs);
    return node.dial(address, { ...options, timeout: left() });
  }

  /**
   * Round-trip time in ms. With `wait` (or `waitForReady`), a ping made while disconnected waits
   * for the next connection; with `waitForTarget`, a ping answered `domain not found` is made
   * again until its target is there. Every wait counts in its `timeout` (pingTimeout by default)
   * and ends at its `signal` (SessionPingOptions).
   */
  async ping(domain = '', options: SessionPingOptions = {}): Promise<number> {
    options = withoutNullSignal('ping()', options);
    checkSignal('option signal', options.signal);
    checkWait(options.wait);
    if (options.waitForTarget === undefined || !checkBool('option waitForTarget', options.waitForTarget)) {
      return this.#pingOnce(domain, options);
    }
    // Checked once, here: a bad option is refused at once, not tried again.
    const limit = checkDelay('option timeout', options.timeout ?? this.#nodeOpts.pingTimeout);
    pingPayload(domain);
    const target = pingTarget(domain);
    return untilTarget(this.#retrying('ping', target, limit, options), (timeout, signal) =>
      this.#pingOnce(domain, { ...options, timeout, signal, waitForTarget: false }),
    );
  }

  /**
   * One ping, on the current connection or (waiting if asked) the next one. Never the node's
   * waitForTarget, as dialOnce (ping() gives `options` with it unset or false).
   */
  async #pingOnce(domain: string, options: SessionPingOptions): Promise<number> {
    const ready = this.#usable();
    if (ready !== null) return ready.ping(domain, options);
    // Checked before any wait, as dialOnce's address: a domain too long to send waited for the
    // connection (its whole timeout, then TimeoutError, while none came) only to be refused then.
    const limit = checkDelay('option timeout', options.timeout ?? this.#nodeOpts.pingTimeout);
    pingPayload(domain);
    const { node, left } = await this.current(`ping ${pingTarget(domain)}`, options.wait, options, limit);
    return node.ping(domain, { ...options, timeout: left() });
  }

  /**
   * The ports of this session's listeners (listen()), in no particular order. They outlive a
   * connection: also while the session waits to reconnect, when `node` has none.
   */
  listenerPorts(): number[] {
    return [...this.listeners.keys()];
  }

  /** A listener that survives reconnections: it is served on every new connection. */
  listen(port: number, options: { backlog?: number } = {}): Listener<S> {
    if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new ConfigError(`invalid port ${port}`);
    checkOptions('listen()', options);
    if (this.#_state === 'closed') throw this.#closedError();
    if (this.listeners.has(port)) throw new ConfigError(portTaken(port, 'a listener of this session'));
    const l = new Listener<S>(port, options.backlog ?? this.#nodeOpts.backlog);
    l.onClosed = (x) => {
      this.listeners.delete(port);
      this.#_node?.dropListener(x);
    };
    // Served before it is registered: a node that refuses it (its own listener holds the port)
    // must not leave the session holding a listener the caller never got. A node whose
    // connection is going serves it no more; the next connection will.
    if (this.#_node !== null && !this.#_node.closed) this.#_node.adoptListener(l);
    this.listeners.set(port, l);
    return l;
  }

  /**
   * Stops reconnecting, closes listeners and the current connection gracefully. Every call
   * resolves once that is done.
   */
  close(): Promise<void> {
    if (this.closing === null) {
      // Held before shutdown() runs: its 'state' event ('closed') comes first, and a listener
      // that called close() from it (a cleanup shared with other exits) found no close under
      // way, and shut down a second time: 'close' was emitted twice, and the outer call, finding
      // the node gone, resolved before the node had closed.
      let settle!: { resolve: () => void; reject: (e: unknown) => void };
      this.closing = new Promise<void>((resolve, reject) => {
        settle = { resolve, reject };
      });
      this.shutdown().then(settle.resolve, settle.reject);
    }
    return this.closing;
  }

  /**
   * The opener's signal fired while the session waited to try again: it closes now, not at the
   * next attempt (up to backoffMax later). Listened to only during that wait; an attempt in flight
   * hears it through its linked signal. Also called where the signal is found aborted already
   * (before a wait, or when a connection that lasted drops).
   */
  readonly #onOpenerAbort = (): void => {
    this.#closeFor(
      new AbortError('the signal the session was opened with aborted', {
        cause: this.#bounds.signal?.reason,
      }),
    );
  };

  /** Closes the session because of `err`, which later calls are told of as their error's cause. */
  #closeFor(err: Error): void {
    this.#closeCause ??= err;
    void this.close();
  }

  /**
   * What an operation on the closed session fails with: the failure that closed it, if it closed
   * itself, as the cause (a bare 'session closed' hid a wrong URL or password from ready()).
   */
  #closedError(): ConnectionClosedError {
    const cause = this.#closeCause;
    if (cause === undefined) return new ConnectionClosedError('session closed');
    return new ConnectionClosedError(`session closed: ${cause.message}`, { cause });
  }

  /**
   * What a wait for readiness that ran out fails with: `head` (what ran out, and after how long),
   * then the last failure, named in the message and kept as the cause (a bare 'session not ready
   * in time' hid a wrong password or a switcher that is down, told only to 'disconnect'
   * listeners; and, without the time, a caller such as `flexmux ping` rewrote it to say that).
   */
  #notReadyError(head: string): TimeoutError {
    const cause = this.#lastFailure;
    if (cause === undefined) return new TimeoutError(head);
    return new TimeoutError(`${head}; last attempt: ${cause.message}`, { cause });
  }

  private async shutdown(): Promise<void> {
    this.#setState('closed');
    this.#retryWatch?.dispose();
    this.#retryWatch = null;
    this.abort.abort();
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    for (const l of [...this.listeners.values()]) l.close();
    const err = this.#closedError();
    for (const w of this.#readyWaiters.slice()) w.reject(err);
    const node = this.#_node;
    this.#_node = null;
    // Awaited also without a node: 'close' comes after the 'disconnect' that a failure which
    // closes the session (reconnect: false) emits right behind closeFor().
    await node?.close();
    this.emit('close');
  }

  /**
   * The node once the session is ready (waiting if asked, at most `limit` ms) and what is left of
   * `limit`, for `what` ("dial bob:80", "ping bob").
   */
  private async current(
    what: string,
    wait: boolean | undefined,
    o: { signal?: AbortSignal },
    limit: number,
  ): Promise<{ node: BaseNode<S>; left: () => number }> {
    if (this.#_state === 'closed') throw this.#closedError();
    if (!(wait ?? this.#waitForReady)) {
      // What to do, not only the state: a dial right after connect() is what most people try first.
      const doing = this.#_state === 'backoff' ? 'waiting to reconnect' : this.#_state;
      throw new NotConnectedError(
        `not connected: the session is ${doing} (await session.ready() first, or pass { wait: true })`,
      );
    }
    // Monotonic: with the wall clock, a step back while waiting (NTP, a resumed VM) gave the dial
    // or ping that much more time.
    const start = now();
    const left = (): number => Math.max(1, limit - (now() - start));
    // Through refusals, as before ready() gave up on them: a dial or ping that waits is bounded by
    // its own timeout, which names the refusal as its cause. Again while the admission it woke for
    // is gone by its turn (a switcher that drops a node as soon as it is in: a kick, a takeover,
    // a shutdown): failing then with NotConnectedError broke the promise to wait for the next
    // connection. No spin: with no node, or one that is closing, ready() waits (usable()).
    for (;;) {
      try {
        await this.ready({ signal: o.signal, timeout: left(), untilAdmitted: true });
      } catch (err) {
        // Named for the dial or ping it ended, as the node names its own ("dial bob:80 aborted"),
        // not as the wait inside it ("wait for the session to be ready aborted"): a shutdown that
        // ends several forwarded connections' dials must say which in its log.
        if (err instanceof AbortError && o.signal?.aborted) {
          throw new AbortError(`${what} aborted`, { cause: o.signal.reason });
        }
        // Likewise, with its whole wait: `ping alice timed out after 10000 ms waiting for the
        // switcher`, as the node names a ping that got no answer in time.
        if (err instanceof TimeoutError) {
          throw this.#notReadyError(`${what} timed out after ${limit} ms waiting for the switcher`);
        }
        throw err;
      }
      const node = this.#usable();
      if (node !== null) return { node, left };
    }
  }

  /**
   * The node when the session is ready and its connection takes dials and pings, else null. Not
   * one whose graceful close has begun (`session.node.close()`): the session stays 'ready' until
   * that close finishes, and a dial or ping made meanwhile with `wait` failed on it with
   * NotConnectedError ('node is closed') instead of waiting for the next connection, as it does
   * through a connection dropped at once. ready() waits on through it too (no spin in current()).
   */
  #usable(): BaseNode<S> | null {
    const node = this.#_node;
    return this.#_state === 'ready' && node !== null && !node.going ? node : null;
  }

  #setState(s: SessionState): void {
    if (this.#_state === s) return;
    this.#_state = s;
    this.emit('state', s);
  }

  get #isClosed(): boolean {
    return this.#_state === 'closed';
  }

  private async attempt(): Promise<void> {
    if (this.#isClosed) return;
    this.#setState('connecting');
    // A 'state' handler may have closed the session as the attempt begins: the connector would be
    // called with the closed session's signal, aborted already (one that does not heed it connects
    // for nothing, only for the connection to be dropped).
    if (this.#isClosed) return;
    // The session's signal (its close) and the opener's, for the whole attempt: one that covered
    // the dial alone left an abort during admission unheard until admissionTimeout. Linked in the
    // try: a throw here (a signal that is not one) fails the attempt, not attempt()'s promise.
    let opener: LinkedSignal | undefined;
    let linked: LinkedSignal | undefined;
    const started = now();
    // Only from here: a 'state' listener that called reconnectNow() on every 'connecting' would
    // otherwise make each failure retry at once.
    this.#attempting = true;
    this.#wokeDuring = false;
    try {
      opener = this.#followOpener();
      linked = eitherSignal(this.abort.signal, opener?.signal);
      const transport = await this.connector(linked.signal);
      if (this.#isClosed) {
        this.#attempting = false;
        transport.destroy();
        return;
      }
      const left = this.#admissionLimit(started);
      if (left <= 0) {
        // The dial used the whole attempt: fail it now rather than send the admission request
        // with a token timeout (it could even be admitted after the attempt's deadline).
        transport.destroy();
        throw new TimeoutError(`connection attempt not admitted within ${this.#bounds.timeout} ms`);
      }
      const admitted = await admit(transport, {
        password: this.opts.password,
        domain: this.opts.domain,
        mac: this.opts.mac,
        timeout: left,
        clock: this.opts.clock,
        signal: linked.signal,
      });
      this.#attempting = false;
      if (this.#isClosed) {
        admitted.transport.destroy();
        return;
      }
      this.#onAdmitted(admitted.transport, admitted.ip);
    } catch (err) {
      // Read before anyone hears of the failure: a 'disconnect' listener's reconnectNow() is no wake.
      const woke = this.#wokeDuring;
      this.#attempting = false;
      this.#wokeDuring = false;
      if (this.#isClosed) return;
      const e = err instanceof Error ? err : new Error(String(err));
      this.#lastFailure = e;
      // With the runtime's reason under flexmux's code, when there is one: a certificate this
      // client does not trust (DEPTH_ZERO_SELF_SIGNED_CERT) or a refused connection (ECONNREFUSED)
      // is FLEX_ERR_CONNECTION_CLOSED alike, and only `cause` says which (for grep and for alerts).
      const fields = errorFields(e);
      // A configuration problem (bad URL, no Web Crypto) will not fix itself by retrying, and an
      // attempt aborted by the caller's signal (the session's own abort closed it already) would
      // fail the same way at once every time. Without reconnect there is no retry either, nor
      // once the opener aborted, whatever the attempt then failed with (a connector that does not
      // heed its signal). The session closes before 'disconnect', whose listeners see its final
      // state.
      const openerGone = this.#bounds.signal?.aborted === true;
      if (!this.reconnect || e instanceof ConfigError || e instanceof AbortError || openerGone) {
        this.logger.warn(fields, 'session attempt failed');
        if (openerGone && !(e instanceof AbortError)) this.#onOpenerAbort();
        else this.#closeFor(e);
        this.emit('disconnect', e);
        return;
      }
      // The line says when the next attempt comes (ms), or an operator cannot tell a back-off
      // of 30 s from a node that gave up. (After a wake, at once: the back-off still doubles.)
      const retryIn = this.#nextDelay();
      this.logger.warn({ ...fields, retryIn: woke ? 0 : retryIn }, 'session attempt failed');
      // A first program's `await session.ready()` waited for ever on a wrong password, told of it
      // only by a log that is silent by default. The waits of now hear of it; the session retries
      // regardless (a password fixed on the switcher admits it), and a ready() made from a
      // 'disconnect' handler below waits for the next attempt.
      if (refusedForGood(e)) {
        for (const w of this.#readyWaiters.slice()) if (!w.untilAdmitted) w.reject(e);
      }
      // No longer 'connecting' by the time anyone hears of the failure, as after a lost
      // connection: 'backoff', the wait it goes on with, or still 'connecting' when the next
      // attempt comes at once (a wake during this one). Before, 'disconnect' listeners found
      // 'connecting' here but 'backoff' after a lost connection, and 'backoff' followed them.
      if (!woke) this.#setState('backoff');
      this.emit('disconnect', e);
      // A handler may have closed the session (say, on a wrong password): no retry then.
      if (this.#isClosed) return;
      if (!woke) {
        this.#scheduleRetry(e, retryIn);
        return;
      }
      this.logger.debug({ domain: this.opts.domain }, 'session reconnecting now');
      // As after a connection that worked with no spread: the opener's abort closes the session.
      if (this.#bounds.signal?.aborted) this.#onOpenerAbort();
      else void this.attempt();
    } finally {
      // (Not `attempting`: the reconnectNow() above may have begun the next attempt already.)
      linked?.dispose();
      opener?.dispose();
    }
  }

  /**
   * A follower of the opener's signal (followSignal), for one attempt or one wait: the sessions
   * a program opens with one signal (its shutdown's) share one listener on it. With a listener
   * each, a dozen sessions connecting or backing off at once made Node.js warn of a leak
   * (MaxListenersExceededWarning, past 10). None without an opener's signal.
   */
  #followOpener(): LinkedSignal | undefined {
    return this.#bounds.signal === undefined ? undefined : followSignal(this.#bounds.signal);
  }

  /**
   * admissionTimeout, or what the opener's attempt timeout has left if that is shorter: 0 or
   * less when nothing is left.
   */
  #admissionLimit(started: number): number {
    const own = this.admissionTimeout;
    if (this.#bounds.timeout === undefined) return own;
    return Math.min(own, this.#bounds.timeout - (now() - started));
  }

  #onAdmitted(transport: Transport, ip: number): void {
    const { password: _p, mac: _m, reconnect: _r, ...nodeOptions } = this.opts;
    let node: BaseNode<S>;
    try {
      node = this.makeNode(transport, { ...nodeOptions, ip, domain: this.opts.domain });
    } catch (err) {
      // Nobody else holds the admitted connection: drop it, or the switcher keeps the domain.
      transport.destroy(err as Error);
      throw err;
    }
    node.closeLoggedByOwner = true;
    this.#_node = node;
    this.connections++;
    this.#lastFailure = undefined;
    // Monotonic, or a wall-clock step back made a connection that lasted look like a failed one.
    const admittedAt = now();
    for (const l of this.listeners.values()) node.adoptListener(l);
    node.once('close', (err) => {
      if (this.#_node === node) this.#_node = null;
      if (this.#_state === 'closed') return;
      const e = err ?? new ConnectionClosedError('connection closed');
      this.#lastFailure = e;
      const remote = node.transport.remoteAddress;
      // The opener aborted while we were connected: this loss ends the session, as without
      // reconnect. Before, 'disconnect' listeners found it backing off (or connecting), the log
      // line gave a `retryIn` for an attempt that never came, and 'backoff' preceded 'closed'.
      const openerGone = this.#bounds.signal?.aborted === true;
      if (!this.reconnect || openerGone) {
        this.logger.info({ ...errorFields(e), remote }, 'session disconnected');
        // Closed before anyone hears of the loss: 'disconnect' listeners see the final state.
        if (openerGone) this.#onOpenerAbort();
        else this.#closeFor(e);
        this.emit('disconnect', e);
        return;
      }
      // A connection that worked reconnects after a random wait of up to reconnectSpread (Go: at
      // once, 8.8): when a switcher restarts, all its nodes lose their connections in the same
      // instant, and reconnecting at once they all arrived together, to be turned away beyond
      // maxPendingAdmissions. Back-off is for failed attempts. A connection dropped within
      // backoffInitial of its admission did not work: a switcher or a path that drops every
      // connection at once must not get a reconnect storm. The back-off starts over only after a
      // connection that lasted.
      const lasted = Math.round(now() - admittedAt);
      const worked = lasted >= this.#initialDelay;
      if (worked) {
        this.#shortLived = 0;
        this.delay = this.#initialDelay;
      } else {
        // Counted from the connections dropped at once in a row, not from the failed attempts
        // before this admission, which it proved over: carried over, a switcher down for half a
        // minute and restarted again right after a node got back in left that node waiting
        // 24-30 s (backoffMax) while the switcher was up again within a second.
        // (nextDelay caps it at backoffMax; the exponent is bounded so it stays a finite number.)
        this.delay = this.#initialDelay * 2 ** Math.min(this.#shortLived, 31);
        this.#shortLived++;
      }
      // The line says when the next attempt comes, as 'session attempt failed' does: a switcher
      // restarted twice in a row left its nodes silent for the doubled back-off (2 s, 4 s, ... up
      // to backoffMax), the operator unable to tell a wait from a node that gave up.
      const retryIn = worked ? spreadDelay(this.spread) : this.#nextDelay();
      // `cause` tells a switcher that went away (ECONNRESET, EPIPE) from one that ended the
      // connection in the protocol, both FLEX_ERR_CONNECTION_CLOSED.
      this.logger.info({ ...errorFields(e), remote, lasted, retryIn }, 'session disconnected');
      // No longer 'ready' by the time anyone hears of the loss: a dial that waits for the session,
      // made from a 'disconnect' handler, waits for the next connection.
      const wait = !worked || retryIn > 0;
      this.#setState(wait ? 'backoff' : 'connecting');
      this.emit('disconnect', e);
      if (this.#isClosed) return;
      // The wait is a back-off's: close() and the opener's abort end it at once.
      if (wait) {
        this.#scheduleRetry(e, retryIn);
        return;
      }
      // The opener aborted while we were connected: close, as scheduleRetry does after a
      // connection that did not last, instead of an attempt that calls the connector with the
      // aborted signal (one that does not heed it connects for nothing) only to fail it.
      if (this.#bounds.signal?.aborted) this.#onOpenerAbort();
      else void this.attempt();
    });
    this.#setState('ready');
    // A 'state' handler may have closed the session (and this connection), or dropped just this
    // connection (`session.node.destroy()`), whose loss has been told ('disconnect') and whose
    // retry is under way: not ready after all. Before, 'ready' followed that 'disconnect' with the
    // session backing off, and ready() resolved with no connection to use.
    if (this.#isClosed || this.#_node !== node) return;
    this.logger.info({ ip, domain: this.opts.domain }, 'session ready');
    this.emit('ready', ip);
    // A 'ready' handler may have dropped the connection as well: the waits are for one to use.
    if (this.#_node !== node) return;
    for (const w of this.#readyWaiters.slice()) w.resolve();
  }

  /** The next back-off, with jitter, in ms; doubles the one after it (up to backoffMax). */
  #nextDelay(): number {
    const jitter = this.jitter;
    const max = this.#maxDelay;
    // Never above backoffMax, the longest delay: a backoffInitial above it was waited in full
    // first, and the jitter pushed a delay at the cap up to (1 + jitter) times it (36 s for the
    // documented 30 s). A draw past the cap is reflected below it rather than cut to it: cut, half
    // of the nodes waiting at the cap would retry exactly backoffMax apart, in step with each
    // other, which is what the jitter is for. Capped at the longest timer delay too: a longer one
    // would run after 1 ms, a reconnect loop without back-off.
    const base = Math.min(this.delay, max);
    const jittered = Math.round(base * (1 + (Math.random() * 2 - 1) * jitter));
    const capped = jittered > max ? 2 * max - jittered : jittered;
    // Never below a tenth of the delay it spreads (1 ms at least): with backoffJitter 1 a draw (or
    // a reflection at the cap) came to 0 ms or nearly, a retry at once, which is what the back-off
    // is there to prevent. Reflected above the floor rather than cut to it, for the same reason as
    // at the cap; still within backoffMax.
    const floor = Math.max(1, Math.round(base / 10));
    const ms = clampDelay(Math.min(max, capped < floor ? 2 * floor - capped : capped));
    this.delay = Math.min(this.delay * 2, max);
    return ms;
  }

  /**
   * Waits the back-off after `failure` (a failed attempt, a connection lost at once), or `ms` if
   * the caller drew the wait already (also the spread after a connection that worked), then
   * retries.
   */
  #scheduleRetry(failure: Error, ms?: number): void {
    if (!this.reconnect) {
      this.#closeFor(failure);
      return;
    }
    this.#setState('backoff');
    if (this.#isClosed) return;
    this.#attemptAfter(ms ?? this.#nextDelay());
  }

  /**
   * The next attempt in `ms` (a back-off, a spread, or the start's spread). close() clears the
   * timer, and the opener's abort closes the session at once rather than at the attempt.
   */
  #attemptAfter(ms: number): void {
    if (this.#bounds.signal?.aborted) {
      this.#onOpenerAbort();
      return;
    }
    const watch = this.#followOpener();
    watch?.signal.addEventListener('abort', this.#onOpenerAbort, { once: true });
    this.#retryWatch = watch ?? null;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#retryWatch = null;
      watch?.dispose();
      void this.attempt();
    }, ms);
  }
}
