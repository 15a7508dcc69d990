import { ConnectionClosedError, LimitError, TimeoutError } from '../errors.js';
import { interval, now, type TimerHandle, timeout } from '../util/timers.js';
import type { PingAgain } from './pinger.js';

/**
 * Go's keep-alive (PROTOCOL.md 6.4): when nothing was written for one interval, ping the switcher
 * and close the connection if no answer comes in time. Unlike Go, an interval in which nothing was
 * received pings too, however much was written; and any answer counts as alive, even an error text,
 * so a direct link to a peer that says `domain not match` stays up, and so does any byte received
 * while the ping was out. A ping that cannot go out (every ping id in use: LimitError) is no
 * answer: only bytes heard within the timeout then prove the peer alive. The check runs four times
 * per interval, so a dead peer is found within interval + timeout (+ a quarter); while our own
 * output is backed up, bytes heard in the last 2 × interval + timeout still count as alive (a deep,
 * slow path), so it can take up to that long (+ a quarter) after the last byte heard. A check that
 * runs more than an interval late (after a sleep) pings at once, what was heard before the sleep no
 * longer recent (catchUp(): bytes heard after the wake, before that check, still are): a dead peer
 * is then found a timeout later (with our output backed up, up to 2 × interval + timeout + a
 * quarter after the last byte heard, the sleep counted, if later). A shorter sleep is not singled
 * out: the peer is found within the bound above, counted from the wake. No verdict of dead is given
 * before the loop has polled for input, so an event loop stalled by a synchronous job never makes a
 * live peer dead: the bytes that came during the stall are read first.
 */
export class Heartbeat {
  /** The periodic check; none with an interval of 0 (checkNow() works all the same). */
  private readonly timer: ReturnType<typeof setInterval> | undefined;
  #lastWritten = -1;
  // Monotonic times (util/timers now()): with the wall clock, a step back (NTP, a resumed VM)
  // stopped the pings until the clock caught up, and a dead peer went unnoticed that long.
  #lastChange = now();
  #lastReceived = -1;
  #lastHeard = now();
  /** When the last bytes came, by the wall clock (heard()); never, for a caller that does not say. */
  #heardWall = Number.NEGATIVE_INFINITY;
  /** The check's period, a quarter interval (25 ms at least). */
  readonly #period: number;
  /** When the last check ran, by both clocks: a check far behind its time follows a sleep. */
  #lastTick = now();
  #lastTickWall = Date.now();
  private inFlight = false;
  /** Counts the pings sent: a ping whose number is no longer this one was dropped (a wake's). */
  #pingNo = 0;
  /** Sends the ping out now again under its id, answered only by what is heard from now on. */
  #askAgain: (() => boolean) | undefined;
  private stopped = false;
  /** The wait that judges a ping no id was free for (or that timed out): cleared by stop(). */
  private judgeTimer: TimerHandle | undefined;
  /** checkNow() callers, told how the ping out now ends: true alive, false dead or stopped. */
  #waiters: ((alive: boolean) => void)[] = [];
  /** The deadline of the checkNow() callers waiting, a timeout after the first of them. */
  #checkTimer: TimerHandle | undefined;
  /** The bytes received when the first of the checkNow() callers waiting began. */
  #checkMark = 0;
  /**
   * When a ping last proved the peer alive, by both clocks: checkNow() lets that stand for one
   * timeout (a wake's `online` and `visibilitychange` together make one check, not two). Both,
   * because neither alone tells how long ago that was across a sleep: the monotonic clock may not
   * count the time suspended (Linux's does not), so an answer heard just before hours of sleep
   * looked fresh on waking; the wall clock counts it, but may step back (then a check goes out).
   */
  #aliveAt = Number.NEGATIVE_INFINITY;
  #aliveAtWall = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    private readonly written: () => number,
    private readonly received: () => number,
    private readonly backlogged: () => boolean,
    /** Sends a ping; `again.resend`, when set, sends its request again (see repingAfterWake()). */
    private readonly ping: (timeoutMs: number, again: PingAgain) => Promise<number>,
    private readonly onDead: (err: Error) => void,
  ) {
    this.#period = Math.max(25, intervalMs >>> 2);
    this.timer = intervalMs > 0 ? interval(() => this.tick(), this.#period) : undefined;
  }

  /** The periodic check: pings when an interval passed without writes, or without anything heard. */
  private tick(): void {
    if (this.#catchUp() && this.inFlight) {
      this.#repingAfterWake();
      return;
    }
    const t = this.#observe();
    // Go pings after an interval without writes. Our writes prove nothing about the peer, though:
    // a node that keeps writing to a path gone dark (an application's own pings, dials retried on
    // timeout) would never ping. So an interval in which nothing was heard pings too.
    const { intervalMs } = this;
    if (this.inFlight || (t - this.#lastChange < intervalMs && t - this.#lastHeard < intervalMs)) return;
    this.probe('heartbeat');
  }

  /**
   * A check that ran more than an interval behind its time (the machine slept, the runtime held
   * its timers back): bytes heard before it are no proof of a live peer now. At waking, the
   * bytes received before the sleep but not yet counted were stamped with the time of waking,
   * and with the monotonic clock, which does not count a suspend on Linux, those counted before
   * looked moments old too: "heard lately", they delayed the first ping by an interval and, with
   * our output backed up (an upload cut off by the sleep), excused it for 2 × interval + timeout,
   * about 32 s before a dead connection was dropped. Now bytes not yet counted date from when the
   * last of them came by the wall clock (heard()), which counts the sleep, or, when that is not
   * known (or the wall clock stepped back), from the previous check, the earliest they can have
   * come; and the time the monotonic clock missed (the wall clock's gap beyond its own) is added
   * to the age of everything heard: the check pings at once, and a silent peer is found a timeout
   * later. Bytes that came after the wake, before this check (on Linux it runs up to a quarter
   * interval after it), are recent, and no ping goes out for them: dated from the previous check,
   * they passed for heard before the sleep, and the check pinged a peer just heard from. A wall
   * clock stepped forward by more than an interval costs one early ping at most. Returns true when
   * it found the check late so.
   */
  #catchUp(): boolean {
    const t = now();
    const wall = Date.now();
    const gap = t - this.#lastTick;
    const wallGap = wall - this.#lastTickWall;
    this.#lastTick = t;
    this.#lastTickWall = wall;
    const late = Math.max(gap, wallGap);
    if (late - this.#period <= this.intervalMs) return false;
    this.#lastHeard -= Math.max(0, wallGap - gap);
    const r = this.received();
    if (r !== this.#lastReceived) {
      this.#lastReceived = r;
      const age = wall - this.#heardWall;
      // Unknown if not within the gap, or if the wall clock stepped back (beyond a quarter interval).
      const known = wallGap + this.#period >= gap && age >= 0 && age <= wallGap;
      this.#lastHeard = Math.max(this.#lastHeard, t - (known ? age : late));
    }
    return true;
  }

  /** Bytes were received now (called with each chunk, as they are counted in `received`). */
  heard(): void {
    this.#heardWall = Date.now();
  }

  /**
   * A ping was out across a sleep (found by catchUp()): the bytes heard since it was sent may all
   * have come before the sleep, and they were its answer, so a connection that died in the sleep
   * passed for alive until the next ping failed (that ping was sent at the next check, up to a
   * quarter interval later: 5 s after the wake in the test with the defaults, instead of 3.25 s).
   * Now the ping goes out again at once, with a timeout of its own: only what is heard from now
   * on answers it (a pong too, if the connection lives), so a dead peer is found a timeout after
   * the wake was noticed (backed up, up to 2 × interval + timeout + a quarter after the last byte
   * heard, if later). One still waiting for its answer is sent again under its own id (askAgain):
   * dropped for a new ping, it kept its id in use until its timeout, beside the new one's. One
   * already over (timed out, no id free) is followed by a new ping. A checkNow() caller waiting on
   * the old ping waits on this one, within its own deadline as before.
   */
  #repingAfterWake(): void {
    clearTimeout(this.judgeTimer);
    this.judgeTimer = undefined;
    if (this.#askAgain?.() === true) return;
    this.inFlight = false;
    this.probe('heartbeat');
  }

  /**
   * Checks the peer now (a page woken from sleep, a network that changed): pings it unless a ping
   * is out already, whose verdict this shares, or one proved it alive within the last timeout.
   * Resolves true if it is alive; false if it was found dead (onDead was called, with `liveness
   * check: no answer within N ms`) or the heartbeat was stopped. Any byte heard counts as an
   * answer, as for the heartbeat's own pings; unlike them, a check is answered within the timeout
   * even while our output is backed up: nothing heard by then, and the peer is dead.
   */
  checkNow(): Promise<boolean> {
    if (this.stopped) return Promise.resolve(false);
    this.#observe();
    if (!this.inFlight) {
      const sinceWall = Date.now() - this.#aliveAtWall;
      if (now() - this.#aliveAt < this.timeoutMs && sinceWall >= 0 && sinceWall < this.timeoutMs) {
        return Promise.resolve(true);
      }
      this.probe('liveness check');
    }
    const answer = new Promise<boolean>((resolve) => this.#waiters.push(resolve));
    // Its own deadline, whatever the ping's verdict waits for: a ping stuck behind our backed-up
    // output (an upload in flight) is excused for 2 × interval + timeout after the last byte
    // heard, and a check waited that long (32 s by default; the whole of it after a sleep that the
    // monotonic clock did not count), which is the wait it is there to cut short.
    if (this.#checkTimer === undefined) {
      this.#checkMark = this.received();
      this.#checkTimer = timeout(() => this.#checkDue(false), this.timeoutMs);
    }
    return answer;
  }

  /**
   * A check's deadline: anything heard since the check began (checkMark, the bytes received then)
   * proves the peer alive; nothing, and it is dead, backed-up output or not. Judged after the loop
   * has polled for input (`last`), as a ping that timed out is: after a stall, an answer waiting
   * in the socket is read only then.
   */
  #checkDue(last: boolean): void {
    this.#checkTimer = undefined;
    if (this.stopped || this.#waiters.length === 0) return;
    if (this.received() !== this.#checkMark) {
      this.answer(true);
      return;
    }
    if (!last) {
      this.#checkTimer = timeout(() => this.#checkDue(true), 0);
      return;
    }
    const err = new ConnectionClosedError(`liveness check: no answer within ${this.timeoutMs} ms`);
    // Tells the callers (false) and ends the ping's excuse: one verdict, one onDead.
    this.stop();
    this.onDead(err);
  }

  /** Tells the checkNow() callers; an alive verdict stands for a timeout (aliveAt). */
  private answer(alive: boolean): void {
    clearTimeout(this.#checkTimer);
    this.#checkTimer = undefined;
    if (alive) {
      this.#aliveAt = now();
      this.#aliveAtWall = Date.now();
    }
    for (const w of this.#waiters.splice(0)) w(alive);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.judgeTimer);
    this.answer(false);
  }

  /** Takes note of the traffic since the last look; returns the time of this one. */
  #observe(): number {
    const t = now();
    const r = this.received();
    if (r !== this.#lastReceived) {
      this.#lastReceived = r;
      this.#lastHeard = t;
    }
    const w = this.written();
    if (w !== this.#lastWritten) {
      this.#lastWritten = w;
      this.#lastChange = t;
    }
    return t;
  }

  /** Pings and judges the answer; `what` names the ping in the error of a peer found dead. */
  private probe(what: string): void {
    const { intervalMs, timeoutMs, received } = this;
    this.inFlight = true;
    const no = ++this.#pingNo;
    let atPing = received();
    const again: PingAgain = {};
    this.#askAgain = () => {
      if (no !== this.#pingNo || again.resend?.(timeoutMs) !== true) return false;
      atPing = received();
      return true;
    };
    /** Ends the ping: alive or not, or no verdict (undefined) when it may not have gone out yet. */
    const settle = (alive: boolean | undefined): void => {
      // Dropped after a wake: the ping sent then has the say.
      if (no !== this.#pingNo) return;
      this.inFlight = false;
      // The ping itself is not activity.
      this.#lastWritten = this.written();
      this.#lastChange = now();
      if (alive === undefined) {
        // A checkNow() caller gets a ping of its own now, not the next check's (there may be none).
        if (this.#waiters.length > 0) this.probe('liveness check');
        return;
      }
      this.answer(alive);
    };
    /** `polled`: run from a timer set in the timers phase, so after the loop polled for input. */
    const judge = (err: Error, excusedBefore = false, polled = false): void => {
      if (no !== this.#pingNo) return;
      // The first timer after a sleep may be this one, not the check's.
      if (!this.stopped && this.#catchUp()) {
        this.#repingAfterWake();
        return;
      }
      // Bytes heard since the ping prove the peer alive. So do bytes heard lately while our
      // own output is backed up: the ping then waits behind our bulk data on a deep, slow
      // path while the peer's ACKs trickle in.
      const r = received();
      if (this.stopped || r !== atPing) {
        // Not to a check that joined this ping after them, when nothing came since: heard before
        // the machine slept, with the ping sent before it, they made a wake's check find the dead
        // connection alive. That check gets a ping of its own instead.
        const stale = this.#waiters.length > 0 && r === this.#checkMark;
        settle(this.stopped ? false : stale ? undefined : true);
        return;
      }
      if (r !== this.#lastReceived) this.#lastHeard = now();
      const backed = this.backlogged();
      // Our output drained while the ping was excused: the ping may have only just gone out,
      // behind it. A new one (sent at the next check) gets a whole timeout of its own.
      if (excusedBefore && !backed) {
        settle(undefined);
        return;
      }
      const excused = this.#lastHeard + 2 * intervalMs + timeoutMs - now();
      if (backed && excused > 0) {
        // Judged again at each check until that excuse runs out (alive as soon as anything is
        // heard), not left to the next ping: that one was sent a check later and judged a
        // timeout after, so a dead peer went unnoticed up to a timeout past the bound (with
        // an interval and a timeout of 1 s each, 4.25 s after the last byte instead of 3.25 s;
        // 7.5 s instead of 5.25 s with a timeout of 3 s).
        this.judgeTimer = timeout(() => judge(err, true), Math.min(excused, this.#period));
        return;
      }
      if (!polled) {
        // Dead, but not before the loop has polled for input: after a stall (a long synchronous
        // job) this timer runs before the bytes that came meanwhile are read, and a live peer
        // was dropped at the end of an excuse or a LimitError's wait that the stall outlasted.
        this.judgeTimer = timeout(() => judge(err, excusedBefore, true), 0);
        return;
      }
      settle(false);
      this.onDead(new ConnectionClosedError(`${what}: no answer within ${timeoutMs} ms`, { cause: err }));
    };
    this.ping(timeoutMs, again).then(
      () => settle(!this.stopped),
      (err: unknown) => {
        if (no !== this.#pingNo) return;
        if (!this.stopped && err instanceof LimitError) {
          // No ping id free (outstanding pings, or ids kept out of use after their timeout): no
          // ping went out, and that is no answer. Bytes heard within the timeout still prove the
          // peer alive; else it is dead, as after a ping that timed out.
          this.judgeTimer = timeout(() => judge(err), timeoutMs);
          return;
        }
        // Any other answer (an error text: `domain not match`) is one; a stopped heartbeat's
        // ping failed with its connection.
        if (this.stopped || !(err instanceof TimeoutError)) {
          settle(!this.stopped);
          return;
        }
        // After the event loop stalled (a long synchronous job), the expired ping timer runs
        // before the answer that waits in the socket is read. A timer set now runs only after
        // the loop has polled for input: judge then.
        this.judgeTimer = timeout(() => judge(err, false, true), 0);
      },
    );
  }
}
