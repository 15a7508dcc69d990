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

/** A fixed-size ring of (time, rate in, rate out) points. */
export class Series {
  private readonly t: Float64Array;
  private readonly a: Float64Array;
  private readonly b: Float64Array;
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.t = new Float64Array(capacity);
    this.a = new Float64Array(capacity);
    this.b = new Float64Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  push(t: number, a: number, b: number): void {
    this.t[this.head] = t;
    this.a[this.head] = a;
    this.b[this.head] = b;
    this.head = (this.head + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  toJSON(): SeriesJSON {
    const out: SeriesJSON = { t: [], in: [], out: [] };
    const start = (this.head - this.count + this.capacity) % this.capacity;
    for (let i = 0; i < this.count; i++) {
      const j = (start + i) % this.capacity;
      out.t.push(this.t[j]);
      out.in.push(round(this.a[j]));
      out.out.push(round(this.b[j]));
    }
    return out;
  }
}

/** One decimal place, as every admin number is shown. */
export function round(x: number): number {
  return Math.round(x * 10) / 10;
}

/** The rate of one thing (a client, a stream, a total). */
export class Rate {
  rateIn = 0;
  rateOut = 0;
  readonly series: Series;
  /** The sampling round that last saw this thing. */
  round = 0;
  private lastMono = Number.NaN;
  private lastIn = 0;
  private lastOut = 0;

  constructor(historySize: number) {
    this.series = new Series(historySize);
  }

  /** `mono`: a monotonic ms clock for intervals; `wall`: Unix ms for the chart. */
  sample(mono: number, wall: number, bytesIn: number, bytesOut: number): void {
    if (!Number.isNaN(this.lastMono) && mono > this.lastMono) {
      const dt = (mono - this.lastMono) / 1000;
      this.rateIn = bytesIn >= this.lastIn ? (bytesIn - this.lastIn) / dt : 0;
      this.rateOut = bytesOut >= this.lastOut ? (bytesOut - this.lastOut) / dt : 0;
      this.series.push(wall, this.rateIn, this.rateOut);
    }
    this.lastMono = mono;
    this.lastIn = bytesIn;
    this.lastOut = bytesOut;
  }
}

/** Rates of a changing set of things; things not seen in a round are forgotten. */
export class RateBook<K> {
  private readonly rates = new Map<K, Rate>();
  private currentRound = 0;

  constructor(private readonly historySize: number) {}

  /** Starts a sampling round. */
  begin(): void {
    this.currentRound++;
  }

  sample(key: K, mono: number, wall: number, bytesIn: number, bytesOut: number): Rate {
    let r = this.rates.get(key);
    if (r === undefined) {
      r = new Rate(this.historySize);
      this.rates.set(key, r);
    }
    r.round = this.currentRound;
    r.sample(mono, wall, bytesIn, bytesOut);
    return r;
  }

  /** Ends a round: forgets what it did not sample. */
  end(): void {
    for (const [k, r] of this.rates) if (r.round !== this.currentRound) this.rates.delete(k);
  }

  get(key: K): Rate | undefined {
    return this.rates.get(key);
  }

  get size(): number {
    return this.rates.size;
  }
}
