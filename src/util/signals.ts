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
