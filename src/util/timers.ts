/** Timers that never keep a Node process alive on their own; plain timers in browsers. */
export type TimerHandle = ReturnType<typeof setTimeout>;

export function unrefTimer<T>(t: T): T {
  const u = t as { unref?: () => void };
  if (typeof u.unref === 'function') u.unref();
  return t;
}

/** The longest delay a timer takes: Node.js runs a longer one after 1 ms (browsers after 0). */
export const MAX_DELAY = 2 ** 31 - 1;

/** `ms`, shortened to what a timer can wait (a longer delay would fire at once). */
export function clampDelay(ms: number): number {
  return Math.min(ms, MAX_DELAY);
}

export function timeout(fn: () => void, ms: number): TimerHandle {
  return unrefTimer(setTimeout(fn, clampDelay(ms)));
}

export function interval(fn: () => void, ms: number): ReturnType<typeof setInterval> {
  return unrefTimer(setInterval(fn, ms));
}

/** A monotonic millisecond clock. */
export const now: () => number =
  typeof performance !== 'undefined' ? () => performance.now() : () => Date.now();
