import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Heap checks for abuse and soak tests. A full GC makes "memory is back to its baseline"
 * meaningful; the test workers do not run with --expose-gc, so the flag is set at run time and
 * the gc function taken from a fresh context (where V8 installs it once the flag is on).
 */

let gcFn: (() => void) | null | undefined;

function gcFunction(): (() => void) | null {
  if (gcFn !== undefined) return gcFn;
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === 'function') {
    gcFn = g;
    return gcFn;
  }
  try {
    setFlagsFromString('--expose_gc');
    gcFn = runInNewContext('gc') as () => void;
  } catch {
    gcFn = null;
  }
  return gcFn;
}

/** True when a full GC can be forced (then heap bounds can be tight). */
export function canGc(): boolean {
  return gcFunction() !== null;
}

/** Runs full GCs (with a turn of the event loop between, so finalizers and timers settle). */
export async function settleHeap(rounds = 3): Promise<void> {
  const gc = gcFunction();
  for (let i = 0; i < rounds; i++) {
    await new Promise<void>((r) => setImmediate(r));
    gc?.();
  }
}

/** Heap used after a forced GC, in bytes. */
export async function heapUsed(): Promise<number> {
  await settleHeap();
  return process.memoryUsage().heapUsed;
}

/** Active handles and requests of this process by type ('Timeout', 'TCPSocketWrap', ...). */
export function resources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

export const MiB = 1024 * 1024;
