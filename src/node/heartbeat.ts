import { ConnectionClosedError, LimitError, TimeoutError } from '../errors.js';
import { interval, now, type TimerHandle, timeout } from '../util/timers.js';

/**
 * Go's keep-alive (PROTOCOL.md 6.4): when nothing was written for one interval, ping the switcher
 * and close the connection if no answer comes in time. Unlike Go, an interval in which nothing
 * was received pings too, however much was written; and any answer counts as alive, even an
 * error text, so a direct link to a peer that says `domain not match` stays up, and so
 * does any byte received while the ping was out. A ping that cannot go out (every ping id in
 * use: LimitError) is no answer: only bytes heard within the timeout then prove the peer alive. The check runs four times per interval, so a
 * dead peer is found within interval + timeout (+ a quarter); while our own output is backed up,
 * bytes heard in the last 2 × interval + timeout still count as alive (a deep, slow path), so it
 * can take up to that long (+ a quarter) after the last byte heard.
 */
export class Heartbeat {
  private readonly timer: ReturnType<typeof setInterval>;
  private lastWritten = -1;
  // Monotonic times (util/timers now()): with the wall clock, a step back (NTP, a resumed VM)
  // stopped the pings until the clock caught up, and a dead peer went unnoticed that long.
  private lastChange = now();
  private lastReceived = -1;
  private lastHeard = now();
  private inFlight = false;
  private stopped = false;
  /** The wait that judges a ping no id was free for (or that timed out): cleared by stop(). */
  private judgeTimer: TimerHandle | undefined;

  constructor(
    intervalMs: number,
    timeoutMs: number,
    written: () => number,
    received: () => number,
    backlogged: () => boolean,
    ping: (timeoutMs: number) => Promise<number>,
    onDead: (err: Error) => void,
  ) {
    this.timer = interval(
      () => {
        const t = now();
        const r = received();
        if (r !== this.lastReceived) {
          this.lastReceived = r;
          this.lastHeard = t;
        }
        const w = written();
        if (w !== this.lastWritten) {
          this.lastWritten = w;
          this.lastChange = t;
        }
        // Go pings after an interval without writes. Our writes prove nothing about the peer,
        // though: a node that keeps writing to a path gone dark (an application's own pings, dials
        // retried on timeout) would never ping. So an interval in which nothing was heard pings too.
        if (this.inFlight || (t - this.lastChange < intervalMs && t - this.lastHeard < intervalMs)) return;
        this.inFlight = true;
        const atPing = received();
        const settle = (): void => {
          this.inFlight = false;
          // The ping itself is not activity.
          this.lastWritten = written();
          this.lastChange = now();
        };
        const judge = (err: Error, excusedBefore = false): void => {
          // Bytes heard since the ping prove the peer alive. So do bytes heard lately while our
          // own output is backed up: the ping then waits behind our bulk data on a deep, slow
          // path while the peer's ACKs trickle in.
          const r = received();
          if (this.stopped || r !== atPing) {
            settle();
            return;
          }
          if (r !== this.lastReceived) this.lastHeard = now();
          const backed = backlogged();
          // Our output drained while the ping was excused: the ping may have only just gone out,
          // behind it. A new one (sent at the next check) gets a whole timeout of its own.
          if (excusedBefore && !backed) {
            settle();
            return;
          }
          const excused = this.lastHeard + 2 * intervalMs + timeoutMs - now();
          if (backed && excused > 0) {
            // Judged again at each check until that excuse runs out (alive as soon as anything is
            // heard), not left to the next ping: that one was sent a check later and judged a
            // timeout after, so a dead peer went unnoticed up to a timeout past the bound (with
            // an interval and a timeout of 1 s each, 4.25 s after the last byte instead of 3.25 s;
            // 7.5 s instead of 5.25 s with a timeout of 3 s).
            this.judgeTimer = timeout(
              () => judge(err, true),
              Math.min(excused, Math.max(25, intervalMs >>> 2)),
            );
            return;
          }
          settle();
          onDead(new ConnectionClosedError(`heartbeat: no answer within ${timeoutMs} ms`, { cause: err }));
        };
        ping(timeoutMs).then(settle, (err: unknown) => {
          if (!this.stopped && err instanceof LimitError) {
            // No ping id free (outstanding pings, or ids kept out of use after their timeout): no
            // ping went out, and that is no answer. Bytes heard within the timeout still prove the
            // peer alive; else it is dead, as after a ping that timed out.
            this.judgeTimer = timeout(() => judge(err), timeoutMs);
            return;
          }
          if (this.stopped || !(err instanceof TimeoutError)) {
            settle();
            return;
          }
          // After the event loop stalled (a long synchronous job), the expired ping timer runs
          // before the answer that waits in the socket is read. A timer set now runs only after
          // the loop has polled for input: judge then.
          this.judgeTimer = timeout(() => judge(err), 0);
        });
      },
      Math.max(25, intervalMs >>> 2),
    );
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.judgeTimer);
  }
}
