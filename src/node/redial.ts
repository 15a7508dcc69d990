import { AbortError, type DialRefusal, DialRefusedError, DialTimeoutError } from '../errors.js';
import { now } from '../util/timers.js';

/**
 * Dialling again while the target is away. After a switcher restart every node comes back on its
 * own jittered back-off, so for a few seconds a dial reaches a switcher that does not know its
 * target yet ('resolve domain failed'), or a node that is back but not listening again. A dial
 * that may wait (a session's `waitForTarget`, a `flexmux node --forward` connection) is made again
 * until its timeout runs out, instead of failing at the first refusal. One loop for both, so that
 * the library and the CLI back off, bound and report the same way.
 */

/** Refusals that say the target is not there (yet), rather than that the dial is wrong or too many. */
const AWAY: ReadonlySet<DialRefusal> = new Set<DialRefusal>(['unknown-domain', 'unknown-ip', 'no-listener']);

/** Whether `err` is a refusal because the target's node or its listener is not there (yet). */
export function targetAway(err: unknown): err is DialRefusedError {
  return err instanceof DialRefusedError && AWAY.has(err.reason);
}

/** Whether `err` says the dialer's own connection was lost (or is not there) under the dial. */
export function connectionLost(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'FLEX_ERR_CONNECTION_CLOSED' || code === 'FLEX_ERR_NOT_CONNECTED';
}

/** First pause after a refusal, ms; each one after doubles it, up to REDIAL_MAX. */
export const REDIAL_FIRST = 100;
/** Longest pause between two dials, ms: short next to a node's reconnect back-off (1 s at first). */
export const REDIAL_MAX = 1_000;

/**
 * What to do after a failed dial: `'later'` dials again after the next pause, `'now'` at once
 * (the next dial waits for something itself, a reconnecting session), `false` gives up with it.
 */
export type Redo = 'later' | 'now' | false;

export interface RedialOptions {
  /** What is dialled (`domain:port`), named in the final error. */
  target: string;
  /** ms all dials and the pauses between them may take together. */
  timeout: number;
  /** Aborting ends a pause at once with AbortError; a dial in flight must heed it itself. */
  signal?: AbortSignal;
  /**
   * The owner's own end (a session's close): it cuts a pause short, and the next dial, made at
   * once, fails as the owner's state says (a closed session's ConnectionClosedError).
   */
  stop?: AbortSignal;
  /** Whether, and when, to dial again after `err`. */
  redo(err: unknown): Redo;
  /** Called before each pause: what was refused and how long until the next dial (ms). */
  onRetry?(err: unknown, pause: number): void;
}

/**
 * Calls `dial` with what is left of `o.timeout` until it resolves, or fails in a way `o.redo`
 * does not retry, or the time runs out. Running out after a refusal fails with a
 * DialTimeoutError that names the last refusal and keeps it as its cause: a bare timeout would
 * hide that the target was never there.
 */
export async function redial<S>(dial: (timeout: number) => Promise<S>, o: RedialOptions): Promise<S> {
  const deadline = now() + o.timeout;
  let pause = REDIAL_FIRST;
  let refused: DialRefusedError | undefined;
  for (;;) {
    try {
      // Whole ms, at least 1: a dial's timeout is a timer delay, which 0 would not be.
      return await dial(Math.max(1, Math.ceil(deadline - now())));
    } catch (err) {
      const redo = o.redo(err);
      if (redo === false) throw refused === undefined || !timedOut(err) ? err : outOfTime(o, refused, err);
      if (err instanceof DialRefusedError) refused = err;
      const wait = redo === 'later' ? Math.min(pause, Math.max(0, deadline - now())) : 0;
      if (redo === 'later') pause = Math.min(pause * 2, REDIAL_MAX);
      if (wait > 0) {
        o.onRetry?.(err, wait);
        await sleep(wait, o.signal, o.stop);
      }
      // The pause took what was left: the next dial would get a token timeout and fail with a
      // DialTimeoutError of its own, which says less than this.
      if (deadline - now() < 1) throw refused === undefined ? err : outOfTime(o, refused);
    }
  }
}

/** A dial's own timeout (no ACK in time, or no connection in time to dial on). */
function timedOut(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'FLEX_ERR_DIAL_TIMEOUT' || code === 'FLEX_ERR_TIMEOUT';
}

function outOfTime(o: RedialOptions, refused: DialRefusedError, last?: unknown): DialTimeoutError {
  // The last dial's own timeout is worth naming only when it is not just the dial's (no
  // connection to dial on, say): the refusal before it is what the caller needs to hear.
  const then =
    last !== undefined && (last as { code?: unknown }).code !== 'FLEX_ERR_DIAL_TIMEOUT'
      ? `; then ${(last as Error).message}`
      : '';
  // The refusal's whole message: a reader that prints the cause after a message that does not
  // contain it (the CLI) would say it twice otherwise.
  return new DialTimeoutError(
    `dial ${o.target} timed out after ${o.timeout} ms waiting for its target; last refusal: ${refused.message}${then}`,
    { cause: refused },
  );
}

/** Resolves after `ms` or once `stop` fires; rejects with AbortError as soon as `signal` fires. */
function sleep(ms: number, signal: AbortSignal | undefined, stop: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AbortError('dial aborted', { cause: signal.reason }));
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
      reject(new AbortError('dial aborted', { cause: signal?.reason }));
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
