/**
 * Items in ascending `id` order, for lists paged by cursor (the admin's clients and streams): a
 * page that resumes after an id finds its place by binary search, so it costs the log of the
 * list and its own length. Walked from the start, as a Map must be, each page cost the items
 * before it, and walking 10,000 clients or a client's 65,536 streams page by page cost the
 * square of that.
 *
 * The owner keeps its own table of the items by key; this keeps each item's id and key only,
 * and `find(key)` gives the live item (one whose id is the one kept). Removal is lazy, so that
 * the hot path that ends items pays nothing here: the dead are skipped when read and dropped
 * all at once when they outnumber the live (each removal costs O(1) amortised, and a read never
 * steps over more dead than there are live, plus a few). Ids and keys, not the items: a dead
 * item kept here until then (a stream, which holds both its clients) kept a departed client's
 * whole state from being collected.
 */
export class ById<K, T extends { readonly id: number }> {
  private readonly ids: number[] = [];
  private readonly keys: K[] = [];

  constructor(private readonly find: (key: K) => T | undefined) {}

  /** Adds the item `key` names; `id` is greater than any added before. `size`: live items now. */
  push(id: number, key: K, size: number): void {
    this.compact(size);
    this.ids.push(id);
    this.keys.push(key);
  }

  /**
   * The live items whose id is greater than `afterId` (and that `keep`, if given), ascending,
   * after the first `skip` of them, at most `limit`. `size`: live items now.
   */
  page(afterId: number, skip: number, limit: number, size: number, keep?: (item: T) => boolean): T[] {
    this.compact(size);
    const ids = this.ids;
    let lo = 0;
    let hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ids[mid] <= afterId) lo = mid + 1;
      else hi = mid;
    }
    const out: T[] = [];
    for (let i = lo; i < ids.length && out.length < limit; i++) {
      const item = this.find(this.keys[i]);
      if (item?.id !== ids[i] || (keep !== undefined && !keep(item))) continue;
      if (skip > 0) skip--;
      else out.push(item);
    }
    return out;
  }

  /** Forgets every item (the owner's table was emptied: nothing is live any more). */
  clear(): void {
    // In place: a node whose streams come and go one at a time empties it at each close.
    this.ids.length = 0;
    this.keys.length = 0;
  }

  /** Ids kept, the dead among them included (for tests of what is let go of). */
  get kept(): number {
    return this.ids.length;
  }

  private compact(size: number): void {
    const { ids, keys } = this;
    if (ids.length <= 2 * size + 32) return;
    let n = 0;
    for (let i = 0; i < ids.length; i++) {
      if (this.find(keys[i])?.id !== ids[i]) continue;
      ids[n] = ids[i];
      keys[n] = keys[i];
      n++;
    }
    ids.length = n;
    keys.length = n;
  }
}
