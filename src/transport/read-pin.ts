/**
 * Keeps each socket's latest received chunk alive until the next one arrives (or until the socket
 * has been quiet for a sweep or two), so that the C heap under Node's read buffers is not handed
 * back to the kernel between garbage collections.
 *
 * Why: Node reads a socket into 64 KiB buffers taken with `malloc`. The garbage collector frees a
 * batch of dead ones at once; when they were the top of glibc's heap, `free` trims that memory
 * back to the kernel, and the next reads fault every page in again. A receiver of bulk data then
 * spends most of its time in page faults: in the shared benchmark's one-stream transfer the
 * receiving process took 50,000-79,000 minor faults and 1-1.5 s of system time per 512 MiB instead
 * of ~13,000 and 0.4 s, and ran at a half or a third of its speed (docs/performance.md, "S1's
 * slow runs are page faults in the receiver"). The newest read buffer is the one most likely to
 * sit at the top of the heap: while it lives, nothing below it can be trimmed.
 *
 * Cost: one field write per chunk, and at most one received chunk (up to 64 KiB) held per socket
 * that received data within the last one to two sweep intervals.
 */

/** What holds a chunk: a transport. */
export interface PinHolder {
  /** The latest chunk, or null. */
  pinned: Uint8Array | null;
  /** Chunks since the last sweep. */
  reads: number;
}

/** How often quiet holders let go of their chunk, ms. */
export const PIN_SWEEP_MS = 1000;

const holders = new Set<PinHolder>();
let sweeper: ReturnType<typeof setInterval> | null = null;

/** Records `chunk` as `holder`'s latest read. */
export function pin(holder: PinHolder, chunk: Uint8Array): void {
  holder.reads++;
  if (holder.pinned === null) {
    holders.add(holder);
    if (sweeper === null) {
      sweeper = setInterval(sweep, PIN_SWEEP_MS);
      sweeper.unref();
    }
  }
  holder.pinned = chunk;
}

/** Lets go of `holder`'s chunk (its socket closed). */
export function unpin(holder: PinHolder): void {
  holder.pinned = null;
  holders.delete(holder);
  if (holders.size === 0) stopSweeper();
}

/** Holders that read nothing since the last sweep let go; the others start counting again. */
export function sweep(): void {
  for (const h of holders) {
    if (h.reads === 0) {
      h.pinned = null;
      holders.delete(h);
    } else {
      h.reads = 0;
    }
  }
  if (holders.size === 0) stopSweeper();
}

/** How many holders keep a chunk now (tests). */
export function pinnedCount(): number {
  return holders.size;
}

function stopSweeper(): void {
  if (sweeper !== null) clearInterval(sweeper);
  sweeper = null;
}
