import type { StreamCore } from '../stream/core.js';

/**
 * A node's live streams in serial order (StreamCore.serial), for the admin's pages of them: a page
 * that resumes after a serial finds its place by binary search, so it costs the log of the list
 * and its own length. Read from the node's map, every page copied all the streams (up to
 * `maxStreams`, 16,384 by default) and stepped over those before the cursor, and a walk of them
 * page by page cost the square of that. (The switcher's lists do the same: switcher/by-id.ts.)
 *
 * It keeps each stream's serial and key only, and `find(key)` gives the live stream (one whose
 * serial is the one kept): a stream costs an array push when it opens and nothing when it ends or
 * moves data. The ended are skipped when read and dropped all at once when they outnumber the
 * live, so that a read never steps over more of them than there are live streams, plus a few.
 * Keys, not the streams: an ended stream kept here would keep its buffers from being collected.
 */
export class StreamIndex {
  private serials: number[] = [];
  private keys: number[] = [];
  /** Streams ever pushed: with the live count, tells whether the set changed (none can be the same). */
  private pushed = 0;

  constructor(private readonly find: (key: number) => StreamCore | undefined) {}

  /** Streams added so far (each once): unchanged, with the same live count, no stream came or went. */
  get added(): number {
    return this.pushed;
  }

  /** Adds `core`, registered under its key now. `size`: live streams now. */
  push(core: StreamCore, size: number): void {
    this.compact(size);
    this.pushed++;
    const { serials, keys } = this;
    // A stream is registered in the turn it is made, so serials come in order; in case one ever
    // does not, it goes where its serial sorts rather than breaking the search.
    if (serials.length === 0 || serials[serials.length - 1] < core.serial) {
      serials.push(core.serial);
      keys.push(core.key);
      return;
    }
    const i = this.search(core.serial);
    serials.splice(i, 0, core.serial);
    keys.splice(i, 0, core.key);
  }

  /** `core`'s key changed (StreamCore.rebind): it is found under the new one from now on. */
  rekey(core: StreamCore): void {
    const i = this.search(core.serial - 1);
    if (this.serials[i] === core.serial) this.keys[i] = core.key;
  }

  /**
   * The live streams whose serial is greater than `after` (and that `keep`, if given), ascending,
   * after the first `skip` of them, at most `limit`. `size`: live streams now.
   */
  page(
    after: number,
    skip: number,
    limit: number,
    size: number,
    keep?: (s: StreamCore) => boolean,
  ): StreamCore[] {
    this.compact(size);
    const { serials, keys } = this;
    const out: StreamCore[] = [];
    for (let i = this.search(after); i < serials.length && out.length < limit; i++) {
      const s = this.find(keys[i]);
      if (s?.serial !== serials[i] || (keep !== undefined && !keep(s))) continue;
      if (skip > 0) skip--;
      else out.push(s);
    }
    return out;
  }

  /** Forgets every stream (the node's map was emptied). */
  clear(): void {
    this.serials = [];
    this.keys = [];
  }

  /** The index of the first serial greater than `after`. */
  private search(after: number): number {
    const serials = this.serials;
    let lo = 0;
    let hi = serials.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (serials[mid] <= after) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private compact(size: number): void {
    const { serials, keys } = this;
    if (serials.length <= 2 * size + 32) return;
    let n = 0;
    for (let i = 0; i < serials.length; i++) {
      if (this.find(keys[i])?.serial !== serials[i]) continue;
      serials[n] = serials[i];
      keys[n] = keys[i];
      n++;
    }
    serials.length = n;
    keys.length = n;
  }
}
