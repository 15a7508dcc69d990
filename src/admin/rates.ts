/**
 * Rates from counter samples. The switcher and nodes keep byte counters; the admin samples them
 * every `sampleInterval` and derives bytes/s from the two newest samples, keeping a short history
 * of rates for charts. Counters that go backwards (a session reconnected, a client came back
 * under the same key) restart the rate instead of producing a negative one.
 */

export interface SeriesJSON {
  /** Unix ms of each sample, oldest first. */
  t: number[];
  /** Bytes/s received in each interval. */
  in: number[];
  /** Bytes/s sent in each interval. */
  out: number[];
}

/** One item's history in a hello: its times are the hello's `itemTimes` (see shareTimes). */
export interface ItemSeriesJSON {
  in: number[];
  out: number[];
  /** Only for an item whose sample times are not the last of `itemTimes` (none should be). */
  t?: number[];
}

/**
 * Item histories with their sample times sent once. Every item is sampled in the same rounds, so
 * its times are the last of those of the longest history, and were the same numbers again per
 * item: with 1,000 clients and 60 samples, 840 KB of a 1.2 MB hello. An item whose times do not
 * line up keeps its own `t`.
 */
export function shareTimes(items: Record<string, SeriesJSON>): {
  itemTimes: number[];
  itemHistory: Record<string, ItemSeriesJSON>;
} {
  let t: number[] = [];
  for (const s of Object.values(items)) if (s.t.length > t.length) t = s.t;
  const out: Record<string, ItemSeriesJSON> = {};
  for (const [key, s] of Object.entries(items)) {
    const from = t.length - s.t.length;
    let aligned = true;
    for (let i = 0; i < s.t.length && aligned; i++) aligned = s.t[i] === t[from + i];
    out[key] = aligned ? { in: s.in, out: s.out } : s;
  }
  return { itemTimes: t, itemHistory: out };
}

/**
 * A fixed-size ring of (time, rate in, rate out) points, in one buffer: times as 64-bit floats
 * (Unix ms), rates as 32-bit floats, 16 bytes a point. Three 64-bit arrays held 24 bytes a point
 * and three array objects; a rate needs no more than the 7 significant digits of a 32-bit float
 * for a sparkline (1,234,567.9 B/s reads back as 1,234,568).
 */
export class Series {
  private readonly t: Float64Array;
  /** Rate in at 2i, rate out at 2i + 1. */
  private readonly r: Float32Array;
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    const buffer = new ArrayBuffer(capacity * 16);
    this.t = new Float64Array(buffer, 0, capacity);
    this.r = new Float32Array(buffer, capacity * 8, 2 * capacity);
  }

  get size(): number {
    return this.count;
  }

  push(t: number, a: number, b: number): void {
    this.t[this.head] = t;
    this.r[2 * this.head] = a;
    this.r[2 * this.head + 1] = b;
    this.head = (this.head + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  toJSON(): SeriesJSON {
    const out: SeriesJSON = { t: [], in: [], out: [] };
    const start = (this.head - this.count + this.capacity) % this.capacity;
    for (let i = 0; i < this.count; i++) {
      const j = (start + i) % this.capacity;
      out.t.push(this.t[j]);
      out.in.push(round(this.r[2 * j]));
      out.out.push(round(this.r[2 * j + 1]));
    }
    return out;
  }
}

/** One decimal place, as every admin number is shown. */
export function round(x: number): number {
  return Math.round(x * 10) / 10;
}

/** The rate of one thing (a client, a stream, a total), with or without a history of it. */
export class Rate {
  rateIn = 0;
  rateOut = 0;
  /** Rates of past samples; null for a thing no dashboard can show (RateBook's historyItems). */
  series: Series | null;
  /** The sampling round that last saw this thing. */
  round = 0;
  private lastMono = Number.NaN;
  private lastIn = 0;
  private lastOut = 0;

  constructor(
    private readonly historySize: number,
    history = true,
  ) {
    this.series = history ? new Series(historySize) : null;
  }

  /** Starts keeping a history (empty) or drops it. */
  keepHistory(on: boolean): void {
    if (on && this.series === null) this.series = new Series(this.historySize);
    else if (!on) this.series = null;
  }

  /** The history as JSON; empty when none is kept. */
  history(): SeriesJSON {
    return this.series?.toJSON() ?? { t: [], in: [], out: [] };
  }

  /** `mono`: a monotonic ms clock for intervals; `wall`: Unix ms for the chart. */
  sample(mono: number, wall: number, bytesIn: number, bytesOut: number): void {
    if (!Number.isNaN(this.lastMono) && mono > this.lastMono) {
      const dt = (mono - this.lastMono) / 1000;
      this.rateIn = bytesIn >= this.lastIn ? (bytesIn - this.lastIn) / dt : 0;
      this.rateOut = bytesOut >= this.lastOut ? (bytesOut - this.lastOut) / dt : 0;
      this.series?.push(wall, this.rateIn, this.rateOut);
    }
    this.lastMono = mono;
    this.lastIn = bytesIn;
    this.lastOut = bytesOut;
  }
}

/**
 * Rates of a changing set of things; things not seen in a round are forgotten. Only the first
 * `historyItems` things sampled in a round keep a history: the dashboard shows the first
 * `maxSnapshotItems` clients or streams, in the order they are sampled, and every other thing's
 * history was never read. With 10,000 clients that was 18 MB of sparklines nobody could see
 * (1.8 KB each); now it is at most `historyItems` histories, whatever the number of clients.
 */
export class RateBook<K, R extends Rate = Rate> {
  private readonly rates = new Map<K, R>();
  private currentRound = 0;
  /** Distinct keys sampled this round: when they are all the book holds, none is stale. */
  private seen = 0;

  constructor(
    private readonly historySize: number,
    private readonly historyItems = Number.POSITIVE_INFINITY,
    /** Makes the entry of a new key; a book of a Rate subclass (more per thing) must pass it. */
    private readonly make: (historySize: number) => R = (h) => new Rate(h, false) as R,
  ) {}

  /** Starts a sampling round. */
  begin(): void {
    this.currentRound++;
    this.seen = 0;
  }

  sample(key: K, mono: number, wall: number, bytesIn: number, bytesOut: number): R {
    let r = this.rates.get(key);
    if (r === undefined) {
      r = this.make(this.historySize);
      this.rates.set(key, r);
    }
    if (r.round !== this.currentRound) {
      r.round = this.currentRound;
      this.seen++;
      // A thing that moved up into the first historyItems starts an empty history.
      r.keepHistory(this.seen <= this.historyItems);
    }
    r.sample(mono, wall, bytesIn, bytesOut);
    return r;
  }

  /** Ends a round: forgets what it did not sample (a walk of the book only if something left). */
  end(): void {
    if (this.seen === this.rates.size) return;
    for (const [k, r] of this.rates) if (r.round !== this.currentRound) this.rates.delete(k);
  }

  get(key: K): R | undefined {
    return this.rates.get(key);
  }

  get size(): number {
    return this.rates.size;
  }
}
