/** A signal for one operation, and what to call once the operation settled. */
export interface LinkedSignal {
  signal: AbortSignal;
  /** Detaches from the source signals (the fallback's listeners); call once the operation settled. */
  dispose(): void;
}

const noop = (): void => {};

type AnyFn = (signals: AbortSignal[]) => AbortSignal;

/**
 * A signal that aborts when `a` or `b` does, with the reason of the first. AbortSignal.any where
 * the runtime has it (Node 20.3+, current browsers) and both are its own; elsewhere listeners on
 * both, which `dispose` removes, so a long-lived caller's signal does not collect one per operation.
 */
export function eitherSignal(a: AbortSignal, b: AbortSignal | undefined): LinkedSignal {
  if (b === undefined || b === a) return { signal: a, dispose: noop };
  const any = (AbortSignal as unknown as { any?: AnyFn }).any;
  // Node's AbortSignal.any takes a look-alike (a polyfill's or another realm's signal, which the
  // session accepts) without a word and never hears its abort: those get listeners.
  if (typeof any === 'function' && a instanceof AbortSignal && b instanceof AbortSignal) {
    return { signal: any.call(AbortSignal, [a, b]), dispose: noop };
  }
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
