/**
 * Items in ascending `id` order, for lists paged by cursor (the admin's clients and streams): a
 * page that resumes after an id finds its place by binary search, so it costs the log of the
 * list and its own length. Walked from the start, as a Map must be, each page cost the items
 * before it, and walking 10,000 clients or a client's 65,536 streams page by page cost the
 * square of that.
 *
 * Removal is lazy, so that the hot path that ends items pays nothing here: the owner keeps its
 * own table, `live(item)` says whether an item is still in it, and the dead ones are skipped
 * when read and dropped all at once when they outnumber the live (so each removal costs O(1)
 * amortised, and a read never steps over more dead items than there are live ones, plus a few).
 */
export class ById<T extends { readonly id: number }> {
  private items: T[] = [];

  constructor(private readonly live: (item: T) => boolean) {}

  /** Adds `item`; its id is greater than that of any item added before. `size`: live items now. */
  push(item: T, size: number): void {
    this.compact(size);
    this.items.push(item);
  }

  /**
   * The live items whose id is greater than `afterId` (and that `keep`, if given), ascending,
   * after the first `skip` of them, at most `limit`. `size`: live items now.
   */
  page(afterId: number, skip: number, limit: number, size: number, keep?: (item: T) => boolean): T[] {
    this.compact(size);
    const items = this.items;
    let lo = 0;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (items[mid].id <= afterId) lo = mid + 1;
      else hi = mid;
    }
    const out: T[] = [];
    for (let i = lo; i < items.length && out.length < limit; i++) {
      const item = items[i];
      if (!this.live(item) || (keep !== undefined && !keep(item))) continue;
      if (skip > 0) skip--;
      else out.push(item);
    }
    return out;
  }

  /** Forgets every item (the owner's table was emptied: nothing is live any more). */
  clear(): void {
    this.items = [];
  }

  private compact(size: number): void {
    if (this.items.length > 2 * size + 32) this.items = this.items.filter(this.live);
  }
}
