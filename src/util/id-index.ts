/**
 * Items in ascending id order, for the admin's lists paged by cursor (a switcher's clients and
 * a client's streams, a node's streams): a page that resumes after an id finds its place by
 * binary search, so it costs the log of the list and its own length. Walked from the start, as
 * a Map must be, each page cost the items before it too, and a walk of 10,000 clients or of
 * 16,384 streams page by page cost the square of that.
 *
 * The owner keeps its own table of the items by key; this keeps each item's id and key only, and
 * `find(key)` gives the live item (one whose id, `idOf`, is the one kept). An item costs an array
 * push when it is added and nothing when it ends: the dead are skipped when read and dropped all
 * at once when they outnumber the live (O(1) amortised per item, and a read never steps over more
 * dead than there are live, plus a few), or all together when the owner's table empties (clear).
 * Ids and keys, not the items: a dead item kept here (a stream, which holds its buffers, or a
 * switcher's stream, which holds both its clients) would keep it from being collected.
 */
export class IdIndex<K, T> {
  private readonly ids: number[] = [];
  private readonly keys: K[] = [];
  /** Items ever pushed. */
  private pushed = 0;

  constructor(
    private readonly find: (key: K) => T | undefined,
    private readonly idOf: (item: T) => number,
  ) {}

  /**
   * An index of the items of `table` now, made when the first page is asked for (an owner that
   * nobody pages through keeps none): sorted once, as a table's order need not be the ids'.
   */
  static of<K, T>(table: ReadonlyMap<K, T>, idOf: (item: T) => number): IdIndex<K, T> {
    const index = new IdIndex<K, T>((key) => table.get(key), idOf);
    const entries = [...table].sort((a, b) => idOf(a[1]) - idOf(b[1]));
    for (const [key, item] of entries) index.push(idOf(item), key, table.size);
    return index;
  }

  /** Items added so far (each once): unchanged, with the same live count, none came or went. */
  get added(): number {
    return this.pushed;
  }

  /** Ids kept, the dead among them included (for tests of what is let go of). */
  get kept(): number {
    return this.ids.length;
  }

  /** Adds the item `key` names, whose id is `id`. `size`: live items now. */
  push(id: number, key: K, size: number): void {
    this.compact(size);
    this.pushed++;
    const { ids, keys } = this;
    // Ids come in order where items are made in the turn they are added; in case one ever does
    // not, it goes where its id sorts rather than breaking the search.
    if (ids.length === 0 || ids[ids.length - 1] < id) {
      ids.push(id);
      keys.push(key);
      return;
    }
    const i = this.search(id);
    ids.splice(i, 0, id);
    keys.splice(i, 0, key);
  }

  /** The item with id `id` is found under `key` from now on (its key changed). */
  rekey(id: number, key: K): void {
    const i = this.search(id - 1);
    if (this.ids[i] === id) this.keys[i] = key;
  }

  /**
   * The live items whose id is greater than `after` (and that `keep`, if given), ascending,
   * after the first `skip` of them, at most `limit`. `size`: live items now.
   */
  page(after: number, skip: number, limit: number, size: number, keep?: (item: T) => boolean): T[] {
    this.compact(size);
    const { ids, keys } = this;
    const out: T[] = [];
    for (let i = this.search(after); i < ids.length && out.length < limit; i++) {
      const item = this.find(keys[i]);
      if (item === undefined || this.idOf(item) !== ids[i] || (keep !== undefined && !keep(item))) continue;
      if (skip > 0) skip--;
      else out.push(item);
    }
    return out;
  }

  /** Forgets every item (the owner's table emptied), in place: some empty it at each close. */
  clear(): void {
    this.ids.length = 0;
    this.keys.length = 0;
  }

  /** The index of the first id greater than `after`. */
  private search(after: number): number {
    const ids = this.ids;
    let lo = 0;
    let hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ids[mid] <= after) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private compact(size: number): void {
    const { ids, keys } = this;
    if (ids.length <= 2 * size + 32) return;
    let n = 0;
    for (let i = 0; i < ids.length; i++) {
      const item = this.find(keys[i]);
      if (item === undefined || this.idOf(item) !== ids[i]) continue;
      ids[n] = ids[i];
      keys[n] = keys[i];
      n++;
    }
    ids.length = n;
    keys.length = n;
  }
}
