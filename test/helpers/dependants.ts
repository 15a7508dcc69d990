/**
 * How many signals made by AbortSignal.any a source signal keeps (Node's internal
 * kDependantSignals set; 0 where the runtime has no such set). Node 20 keeps them for as long as
 * the source lives: the leak eitherSignal must not have.
 */
export function dependants(signal: AbortSignal): number {
  const key = Object.getOwnPropertySymbols(signal).find((s) => s.description === 'kDependantSignals');
  if (key === undefined) return 0;
  const set = (signal as unknown as Record<symbol, { size?: number } | undefined>)[key];
  return set?.size ?? 0;
}
