/**
 * The changes between two snapshots, for event streams that asked for them (`?delta=1`): the
 * dashboard's. A snapshot of 1,000 clients is some 345 KB of JSON every second, most of it
 * fields that did not move (domain, address, connection time, and every field of an idle client).
 * A delta carries the totals whole, and of the listed items only the fields that changed: an item
 * new to the list whole, an item that left the list by its key in `gone`.
 */

/** What a delta needs of a snapshot: its time, totals, left-out count, and items by key. */
export interface Keyed {
  t: number;
  totals: unknown;
  omitted: number;
  items: ReadonlyMap<string, Readonly<Record<string, unknown>>>;
}

export interface Delta {
  t: number;
  totals: unknown;
  omitted: number;
  /** Items new to the list (whole) or with fields that changed (those fields only), by key. */
  set: Record<string, Record<string, unknown>>;
  /** Keys of items listed before and not now. */
  gone: string[];
}

export function delta(prev: Keyed, next: Keyed): Delta {
  const set: Record<string, Record<string, unknown>> = {};
  for (const [key, item] of next.items) {
    const before = prev.items.get(key);
    if (before === undefined) {
      set[key] = { ...item };
      continue;
    }
    let changed: Record<string, unknown> | null = null;
    for (const field in item) {
      if (same(before[field], item[field])) continue;
      changed ??= {};
      changed[field] = item[field];
    }
    if (changed !== null) set[key] = changed;
  }
  const gone: string[] = [];
  for (const key of prev.items.keys()) if (!next.items.has(key)) gone.push(key);
  return { t: next.t, totals: next.totals, omitted: next.omitted, set, gone };
}

/**
 * Equal as JSON would show them, for the values a view holds: numbers, strings, booleans, null,
 * and flat objects of those (`framesByCmd`, a stream's `local` and `remote`).
 */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let n = 0;
  for (const k in x) {
    if (x[k] !== y[k]) return false;
    n++;
  }
  for (const _ in y) n--;
  return n === 0;
}
