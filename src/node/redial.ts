import {
  AbortError,
  type DialRefusal,
  DialRefusedError,
  DialTimeoutError,
  PingError,
  TimeoutError,
} from '../errors.js';
import { errorFields } from '../util/cause.js';
import type { Logger } from '../util/logger.js';
import { followSignal } from '../util/signals.js';
import { now } from '../util/timers.js';
import { PingErrorText } from '../wire/ping.js';
import { clipText } from '../wire/utf8.js';

/**
 * Dialling (or pinging) again while the target is away. After a switcher restart every node comes
 * back on its own jittered back-off, so for a few seconds a dial reaches a switcher that does not
 * know its target yet ('resolve domain failed', a ping 'domain not found'), or a node that is back
 * but not listening again. A dial or ping that may wait (a session's `waitForTarget`, a `flexmux
 * node --forward` connection) is made again until its timeout runs out, instead of failing at the
 * first refusal. One loop for all of them, so that the library and the CLI back off, bound and
 * report the same way.
 */

/** Refusals that say the target is not there (yet), rather than that the dial is wrong or too many. */
const AWAY: ReadonlySet<DialRefusal> = new Set<DialRefusal>(['unknown-domain', 'unknown-ip', 'no-listener']);

/** Whether `err` is a refusal because the target's node or its listener is not there (yet). */
export function targetAway(err: unknown): err is DialRefusedError {
  return err instanceof DialRefusedError && AWAY.has(err.reason);
}

/** Whether `err` is a ping's answer that its target's domain is not registered (yet). */
export function pingTargetAway(err: unknown): err is PingError {
  return err instanceof PingError && err.remoteText === PingErrorText.DOMAIN_NOT_FOUND;
}

/** Whether `err` says the dialer's (or pinger's) own connection was lost (or is not there) under it. */
export function connectionLost(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'FLEX_ERR_CONNECTION_CLOSED' || code === 'FLEX_ERR_NOT_CONNECTED';
}

/**
 * One dial or ping of the loop: `timeout` is what is left of the whole wait, `signal` (when the
 * caller gave one) what the attempt must heed in its place.
 */
export type Attempt<R> = (timeout: number, signal: AbortSignal | undefined) => Promise<R>;

/** First pause after a refusal, ms; each one after doubles it, up to REDIAL_MAX. */
export const REDIAL_FIRST = 100;
/** Longest pause between two dials, ms: short next to a node's reconnect back-off (1 s at first). */
export const REDIAL_MAX = 1_000;

/**
 * What to do after a failed dial or ping: `'later'` makes it again after the next pause (the
 * target is not there yet: the last such failure is what running out names), `'now'` at once (the
 * next one waits for something itself, a reconnecting session), `false` gives up with it.
 */
export type Redo = 'later' | 'now' | false;

export interface RedialOptions {
  /** What is dialled (`domain:port`) or pinged (a domain, `the switcher`), named in the final error. */
  target: string;
  /** ms all attempts and the pauses between them may take together. */
  timeout: number;
  /**
   * Aborting ends a pause at once with AbortError; an attempt in flight must heed the signal it
   * is given, which follows this one (followSignal: one listener on it, however many wait).
   */
  signal?: AbortSignal;
  /**
   * The owner's own end (a session's close): it cuts a pause short, and the next attempt, made at
   * once, fails as the owner's state says (a closed session's ConnectionClosedError). Followed as
   * `signal` is: an owner passes one signal for all its waits, which add no listener to it each.
   */
  stop?: AbortSignal;
  /** Whether, and when, to try again after `err`. */
  redo(err: unknown): Redo;
  /** Called before each pause: what was refused and how long until the next attempt (ms). */
  onRetry?(err: unknown, pause: number): void;
}

/** What waitingForTarget() makes RedialOptions from. */
export interface TargetWait {
  /**
   * What is made again, named in the log line (`dial waiting for its target`); it also says which
   * failures mean the target is away (targetAway for a dial, pingTargetAway for a ping), made
   * again after the next pause.
   */
  what: 'dial' | 'ping';
  target: string;
  timeout: number;
  signal?: AbortSignal;
  stop?: AbortSignal;
  logger: Logger;
  /** Whether `err` may be made again at once (a session's lost connection, when it waits). */
  now?(err: unknown): boolean;
  /**
   * Whether a target away may be waited for at this moment; always when not given. Asked at each
   * such failure: `flexmux node --forward` waits for one only for a while after each admission
   * of its session (unless --wait-for-target), a window that may close while a dial is waiting.
   */
  awayWaits?(): boolean;
}

/**
 * The RedialOptions of a dial or ping with `waitForTarget`, on a node or a session alike: later
 * after a failure that says its target is away (while `awayWaits` allows), at once after one
 * `now` allows, else given up; each pause logged at debug (`target`, `err`, `retryIn` in ms).
 */
export function waitingForTarget(w: TargetWait): RedialOptions {
  const { what, target, logger } = w;
  const away = what === 'dial' ? targetAway : pingTargetAway;
  return {
    target,
    timeout: w.timeout,
    signal: w.signal,
    stop: w.stop,
    redo: (err) => {
      if (away(err)) return w.awayWaits?.() !== false && 'later';
      return w.now?.(err) === true && 'now';
    },
    onRetry: (err, pause) =>
      logger.debug(
        { target, ...errorFields(err), retryIn: Math.round(pause) },
        `${what} waiting for its target`,
      ),
  };
}

/**
 * Calls `dial` with what is left of `o.timeout` until it resolves, or fails in a way `o.redo`
 * does not retry, or the time runs out. Running out after a refusal fails with a
 * DialTimeoutError that names the last refusal and keeps it as its cause: a bare timeout would
 * hide that the target was never there.
 */
export function redial<S>(dial: Attempt<S>, o: RedialOptions): Promise<S> {
  return retry(dial, o, `dial ${o.target}`, (refused, last) => dialOutOfTime(o, refused, last));
}

/**
 * redial() for a ping: running out after a `domain not found` answer fails with a TimeoutError
 * (what a ping that runs out fails with) that names that answer and keeps it as its cause.
 */
export function reping<R>(ping: Attempt<R>, o: RedialOptions): Promise<R> {
  return retry(ping, o, `ping ${o.target}`, (away, last) => pingOutOfTime(o, away, last));
}

/**
 * A dial or ping with `waitForTarget`, on a node or a session alike: `attempt` made again by
 * `w`'s rules (waitingForTarget), in redial()'s loop for a dial and reping()'s for a ping.
 */
export function untilTarget<R>(w: TargetWait, attempt: Attempt<R>): Promise<R> {
  const o = waitingForTarget(w);
  return w.what === 'dial' ? redial(attempt, o) : reping(attempt, o);
}

/**
 * The loop of redial() and reping(). `verb` names what a pause's AbortError ends; `outOfTime`
 * makes the final error from the last failure that said the target is away (`'later'`) and, when
 * the last attempt ran out of time itself, that attempt's error.
 */
async function retry<S>(
  attempt: Attempt<S>,
  o: RedialOptions,
  verb: string,
  outOfTime: (away: unknown, last?: unknown) => Error,
): Promise<S> {
  // The attempts and pauses listen to followers of the caller's signal and the owner's stop, not
  // to them: a caller (or owner) may share one among a dozen of these, and a listener each on it
  // made Node.js warn.
  const followed = o.signal === undefined ? undefined : followSignal(o.signal);
  const stop = o.stop === undefined ? undefined : followSignal(o.stop);
  try {
    return await retryFollowing(attempt, o, followed?.signal, stop?.signal, verb, outOfTime);
  } finally {
    followed?.dispose();
    stop?.dispose();
  }
}

async function retryFollowing<S>(
  attempt: Attempt<S>,
  o: RedialOptions,
  signal: AbortSignal | undefined,
  stop: AbortSignal | undefined,
  verb: string,
  outOfTime: (away: unknown, last?: unknown) => Error,
): Promise<S> {
  const deadline = now() + o.timeout;
  let pause = REDIAL_FIRST;
  let away: { err: unknown } | undefined;
  for (;;) {
    try {
      // Whole ms, at least 1: an attempt's timeout is a timer delay, which 0 would not be.
      return await attempt(Math.max(1, Math.ceil(deadline - now())), signal);
    } catch (err) {
      const redo = o.redo(err);
      if (redo === false) throw away === undefined || !timedOut(err) ? err : outOfTime(away.err, err);
      let wait = 0;
      if (redo === 'later') {
        away = { err };
        wait = Math.min(pause, Math.max(0, deadline - now()));
        pause = Math.min(pause * 2, REDIAL_MAX);
      }
      if (wait > 0) {
        o.onRetry?.(err, wait);
        await sleep(wait, verb, signal, stop);
      }
      // The pause took what was left: the next attempt would get a token timeout and fail with a
      // timeout of its own, which says less than this.
      if (deadline - now() < 1) throw away === undefined ? err : outOfTime(away.err);
    }
  }
}

/** A dial's or ping's own timeout (no answer in time, or no connection in time to use). */
function timedOut(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'FLEX_ERR_DIAL_TIMEOUT' || code === 'FLEX_ERR_TIMEOUT';
}

function dialOutOfTime(o: RedialOptions, refused: unknown, last?: unknown): DialTimeoutError {
  // The last dial's own timeout is worth naming only when it is not just the dial's (no
  // connection to dial on, say): the refusal before it is what the caller needs to hear.
  const then =
    last !== undefined && (last as { code?: unknown }).code !== 'FLEX_ERR_DIAL_TIMEOUT'
      ? `; then ${(last as Error).message}`
      : '';
  // The refusal's whole message: a reader that prints the cause after a message that does not
  // contain it (the CLI) would say it twice otherwise.
  return new DialTimeoutError(
    `dial ${o.target} timed out after ${o.timeout} ms waiting for its target; last refusal: ${(refused as Error).message}${then}`,
    { cause: refused },
  );
}

function pingOutOfTime(o: RedialOptions, away: unknown, last?: unknown): TimeoutError {
  // The target named once, at the start: the answer's text alone (its message, `ping alice
  // failed: domain not found`, named it again), and the last ping's error past its name. A ping's
  // own timeout after `domain not found` says something (the node came, and did not answer in
  // time), unlike a dial's: named too.
  const named = `ping ${o.target} `;
  const unnamed = (m: string): string => (m.startsWith(named) ? m.slice(named.length) : m);
  const answer = away instanceof PingError ? clipText(away.remoteText) : unnamed((away as Error).message);
  const then = last === undefined ? '' : `; then ${unnamed((last as Error).message)}`;
  return new TimeoutError(
    `${named}timed out after ${o.timeout} ms waiting for its target; last answer: ${answer}${then}`,
    { cause: away },
  );
}

/**
 * Resolves after `ms` or once `stop` fires; rejects with AbortError (`verb aborted`) as soon as
 * `signal` fires.
 */
function sleep(
  ms: number,
  verb: string,
  signal: AbortSignal | undefined,
  stop: AbortSignal | undefined,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AbortError(`${verb} aborted`, { cause: signal.reason }));
      return;
    }
    if (stop?.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      stop?.removeEventListener('abort', onStop);
    };
    const onAbort = (): void => {
      done();
      reject(new AbortError(`${verb} aborted`, { cause: signal?.reason }));
    };
    const onStop = (): void => {
      done();
      resolve();
    };
    const timer = setTimeout(onStop, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
    stop?.addEventListener('abort', onStop, { once: true });
  });
}
