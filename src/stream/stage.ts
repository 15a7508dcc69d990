/**
 * Where a face gathers small inbound payloads while its reader is backlogged. An inbound payload
 * is a zero-copy view of the read buffer it arrived in (up to 64 KiB, src/wire/decoder.ts):
 * queued as it is for a reader that does not take it, a one-byte payload keeps that whole buffer
 * alive, and every queued chunk costs ~100 bytes of objects besides, so a peer sending tiny
 * frames would make a node hold far more than the window and maxReceiveBuffer say. Payloads under
 * COPY_BELOW that must wait are copied into a stage instead, handed over as one chunk when it
 * fills (STAGE_SIZE), before a larger payload, when the reader has taken what was queued before,
 * and before the end. Larger payloads are never copied: the read buffer such a view keeps alive is
 * at most 64 KiB, four times the view.
 */

/** Payloads at least this long are queued as they are (zero-copy), backlog or not. */
export const COPY_BELOW = 16 * 1024;
/** A stage is handed over when it holds this much. */
export const STAGE_SIZE = 64 * 1024;
/** Smallest stage buffer; it doubles as it fills, so it is never more than twice what it holds. */
const STAGE_MIN = 256;

export class Stage {
  private buf: Uint8Array | null = null;
  /** Bytes staged. */
  length = 0;

  /**
   * Copies `chunk` (shorter than COPY_BELOW) in after what is staged. Returns the full STAGE_SIZE
   * bytes when that filled the stage (the rest of `chunk`, if any, starts the next fill), else null.
   */
  add(chunk: Uint8Array): Uint8Array | null {
    const used = this.length;
    const end = used + chunk.length;
    if (end < STAGE_SIZE) {
      this.room(end).set(chunk, used);
      this.length = end;
      return null;
    }
    const full = this.room(STAGE_SIZE);
    const k = STAGE_SIZE - used;
    full.set(k === chunk.length ? chunk : chunk.subarray(0, k), used);
    this.buf = null;
    this.length = 0;
    if (k < chunk.length) {
      const rest = chunk.subarray(k);
      this.room(rest.length).set(rest, 0);
      this.length = rest.length;
    }
    return full;
  }

  /** What is staged, in one chunk (null when empty); the stage starts afresh. */
  take(): Uint8Array | null {
    const buf = this.buf;
    const n = this.length;
    this.buf = null;
    this.length = 0;
    if (buf === null || n === 0) return null;
    return n === buf.length ? buf : buf.subarray(0, n);
  }

  /** The stage buffer, grown (by doubling) to hold at least `need` bytes. */
  private room(need: number): Uint8Array {
    const buf = this.buf;
    if (buf !== null && buf.length >= need) return buf;
    let size = buf === null ? STAGE_MIN : buf.length * 2;
    while (size < need) size *= 2;
    const grown = new Uint8Array(Math.min(size, STAGE_SIZE));
    if (buf !== null && this.length > 0) grown.set(buf.subarray(0, this.length), 0);
    this.buf = grown;
    return grown;
  }
}
