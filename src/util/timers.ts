/** Timers that never keep a Node process alive on their own; plain timers in browsers. */
export type TimerHandle = ReturnType<typeof setTimeout>;

export function unrefTimer<T>(t: T): T {
  const u = t as { unref?: () => void };
  if (typeof u.unref === 'function') u.unref();
  return t;
}

export function timeout(fn: () => void, ms: number): TimerHandle {
  return unrefTimer(setTimeout(fn, ms));
}

export function interval(fn: () => void, ms: number): ReturnType<typeof setInterval> {
  return unrefTimer(setInterval(fn, ms));
}

/** A monotonic millisecond clock. */
export const now: () => number =
  typeof performance !== 'undefined' ? () => performance.now() : () => Date.now();
