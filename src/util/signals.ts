/** A signal for one operation, and what to call once the operation settled. */
export interface LinkedSignal {
  signal: AbortSignal;
  /** Detaches from the source signals (removes the listeners); call once the operation settled. */
  dispose(): void;
}

const noop = (): void => {};

/**
 * A signal that aborts when `a` or `b` does, with the reason of the first, through a listener on
 * each that `dispose` removes. Not AbortSignal.any: Node 20's keeps every signal it made for as
 * long as a source lives (nodejs/node#55351), and a session links the opener's long-lived signal
 * once per connection attempt, so one that reconnects for days would collect them. Listeners also
 * hear a look-alike signal (a polyfill's, another realm's), which Node's AbortSignal.any ignores.
 */
export function eitherSignal(a: AbortSignal, b: AbortSignal | undefined): LinkedSignal {
  if (b === undefined || b === a) return { signal: a, dispose: noop };
  const ac = new AbortController();
  const first = a.aborted ? a : b.aborted ? b : null;
  if (first !== null) {
    ac.abort(first.reason);
    return { signal: ac.signal, dispose: noop };
  }
  const dispose = (): void => {
    a.removeEventListener('abort', onA);
    b.removeEventListener('abort', onB);
  };
  const onA = (): void => {
    dispose();
    ac.abort(a.reason);
  };
  const onB = (): void => {
    dispose();
    ac.abort(b.reason);
  };
  a.addEventListener('abort', onA, { once: true });
  b.addEventListener('abort', onB, { once: true });
  return { signal: ac.signal, dispose };
}

/** The operations following one source signal (whenAborted, followSignal), and its one listener. */
interface Fan {
  followers: Set<() => void>;
  onAbort: () => void;
}

const fans = new WeakMap<AbortSignal, Fan>();

/**
 * Calls `fn` once when `source` aborts (never if it has already: as a listener added then), until
 * the returned dispose is called. All the operations waiting on one source share one listener on
 * it, so that a caller's signal shared by a dozen operations in flight (a program's shutdown
 * signal given to every dial, ping or accept) does not make Node.js warn of a leak (past 10
 * listeners), as a listener per operation would. The last one disposed removes that listener: a
 * long-lived source keeps nothing of them.
 */
export function whenAborted(source: AbortSignal, fn: () => void): () => void {
  if (source.aborted) return noop;
  let fan = fans.get(source);
  if (fan === undefined) {
    const followers = new Set<() => void>();
    const onSourceAbort = (): void => {
      fans.delete(source);
      const all = [...followers];
      followers.clear();
      for (const f of all) f();
    };
    fan = { followers, onAbort: onSourceAbort };
    fans.set(source, fan);
    source.addEventListener('abort', onSourceAbort, { once: true });
  }
  const joined = fan;
  // A function of its own: the same `fn` given twice is two operations.
  const entry = (): void => fn();
  joined.followers.add(entry);
  return () => {
    if (!joined.followers.delete(entry) || joined.followers.size > 0) return;
    source.removeEventListener('abort', joined.onAbort);
    if (fans.get(source) === joined) fans.delete(source);
  };
}

/**
 * A signal that aborts when `source` does, with its reason, for an operation that may listen to it
 * again and again or hand it on (a dial or ping waiting for its target: each attempt and each
 * pause): listening to the returned signal instead, it adds nothing to `source` (whenAborted).
 */
export function followSignal(source: AbortSignal): LinkedSignal {
  const c = new AbortController();
  if (source.aborted) {
    c.abort(source.reason);
    return { signal: c.signal, dispose: noop };
  }
  return { signal: c.signal, dispose: whenAborted(source, () => c.abort(source.reason)) };
}
