import { AbortError, ConfigError, TimeoutError } from '../errors.js';
import { checkSignal } from '../util/check.js';
import { whenAborted } from '../util/signals.js';
import { checkDelayOption } from './defaults.js';

/** What every dialer accepts on top of its own options. */
export interface DialOptions {
  /**
   * Aborting rejects the dial with AbortError and tears the half-open connection down. `null`
   * counts as none, as for connect()'s `signal` (`controller?.signal ?? null`); anything else
   * that is not an AbortSignal is a ConfigError.
   */
  signal?: AbortSignal | null;
  /** ms until the dial rejects with TimeoutError (connect and any handshake); none by default. */
  timeout?: number;
}

/** guardDial's options: a dialer's, and what its timeout's message adds when it comes. */
interface GuardOptions extends DialOptions {
  timeoutHint?: () => string;
}

export interface DialAttempt<T> {
  /** False when the attempt already lost to the abort or the deadline: dispose of `value`. */
  resolve(value: T): boolean;
  reject(err: Error): void;
}

/**
 * Runs one connection attempt under `signal` and `timeout`. `start` begins the attempt and returns
 * a `cancel` that must tear it down; cancel runs when the abort or the deadline wins, so a late
 * connect never leaks a socket. Runtime-neutral: AbortSignal and setTimeout are globals everywhere.
 */
export function guardDial<T>(
  what: string,
  options: GuardOptions,
  start: (attempt: DialAttempt<T>) => () => void,
): Promise<T> {
  // 0 ms would fail every attempt before it began (and a session would retry that for ever).
  checkDelayOption('timeout', options.timeout, 1);
  // Checked as every other call checks one: a string or a plain object failed the dial with a
  // TypeError from inside ("signal?.addEventListener is not a function"), no FlexError.
  const signal = checkSignal('option signal', options.signal);
  const { timeout } = options;
  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AbortError(`${what} aborted`, { cause: signal.reason }));
      return;
    }
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let cancel: () => void = () => {};
    // Heard through whenAborted: dials sharing one signal of the caller's (a program's shutdown
    // signal) share one listener on it; with a listener each, eleven made Node.js warn of a leak.
    let unlisten: (() => void) | undefined;
    const finish = (): boolean => {
      if (settled) return false;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      unlisten?.();
      return true;
    };
    const onAbort = (): void => {
      if (!finish()) return;
      cancel();
      reject(new AbortError(`${what} aborted`, { cause: signal?.reason }));
    };
    if (signal !== undefined) unlisten = whenAborted(signal, onAbort);
    if (timeout !== undefined) {
      timer = setTimeout(() => {
        if (!finish()) return;
        // Read before cancel(), which tears down what the hint looks at.
        const hint = options.timeoutHint?.() ?? '';
        cancel();
        reject(new TimeoutError(`${what} timed out after ${timeout} ms${hint}`));
      }, timeout);
    }
    const attempt: DialAttempt<T> = {
      resolve: (value) => {
        if (!finish()) return false;
        resolve(value);
        return true;
      },
      reject: (err) => {
        if (finish()) reject(err);
      },
    };
    try {
      cancel = start(attempt);
    } catch (err) {
      // Thrown before anything was opened: an option the runtime refuses (tls.connect's minVersion,
      // a key that does not parse, a URL ws will not take). Settle here, or the deadline and the
      // abort listener outlive the dial; retrying would fail the same way, hence ConfigError.
      const message = err instanceof Error ? err.message : String(err);
      if (finish()) reject(new ConfigError(`${what}: ${message}`, { cause: err }));
    }
  });
}
