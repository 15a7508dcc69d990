import type { ClientInfo, StreamInfo } from '../switcher/client.js';
import type { Switcher, SwitcherStats } from '../switcher/switcher.js';
import { Rate, RateBook, round, type SeriesJSON } from './rates.js';

/**
 * What the admin shows of a switcher: JSON views of its clients with rates computed from samples,
 * the total throughput history, and the snapshots pushed to the dashboard. Everything here is
 * read through the switcher's public API (`clients()`, `client()`, `stats()`).
 */

/** A client as the admin API shows it: the switcher's snapshot with ISO times, rates and ms. */
export interface ClientView extends Omit<ClientInfo, 'connectedAt' | 'rtt'> {
  /** RFC 3339. */
  connectedAt: string;
  /** Bytes/s received from this node over the last sample interval. */
  rateIn: number;
  /** Bytes/s sent to this node over the last sample interval. */
  rateOut: number;
  /** Round trip of the switcher's last liveness ping to this node, ms; null if none was answered. */
  rttMs: number | null;
}

export interface SwitcherTotals {
  clients: number;
  pendingAdmissions: number;
  admitted: number;
  refused: number;
  /** Open streams summed over clients (a stream counts at each end). */
  streams: number;
  bytesIn: number;
  bytesOut: number;
  rateIn: number;
  rateOut: number;
  forwarded: number;
  dropped: number;
  spoofed: number;
  ignored: number;
  queuedBytes: number;
}

export interface SwitcherSnapshot {
  /** Unix ms of the sample. */
  t: number;
  totals: SwitcherTotals;
  clients: ClientView[];
  /** Clients left out of `clients` by the snapshot limit. */
  omitted: number;
}

export interface ClientStreamsView {
  domain: string;
  ip: number;
  streams: number;
  streamsOpened: number;
  queuedBytes: number;
  paused: boolean;
  /** Each open stream with this client at one end. */
  list: StreamInfo[];
}

export class SwitcherView {
  /** Called with each newly measured client RTT, in seconds. */
  onRtt: ((seconds: number) => void) | null = null;
  private readonly book: RateBook<number>;
  private readonly total: Rate;
  private readonly lastRtt = new Map<number, number | null>();
  private lastT = Date.now();

  constructor(
    readonly switcher: Switcher,
    historySize: number,
    itemHistory: number,
  ) {
    this.book = new RateBook<number>(itemHistory);
    this.total = new Rate(historySize);
  }

  /** Takes one sample of every counter. */
  tick(mono: number, wall: number): void {
    this.lastT = wall;
    const s = this.switcher.stats();
    this.total.sample(mono, wall, s.bytesIn, s.bytesOut);
    this.book.begin();
    for (const c of this.switcher.clients()) {
      this.book.sample(c.id, mono, wall, c.bytesIn, c.bytesOut);
      const before = this.lastRtt.get(c.id);
      if (c.rtt !== null && c.rtt !== before) this.onRtt?.(c.rtt / 1000);
      this.lastRtt.set(c.id, c.rtt);
    }
    this.book.end();
    for (const id of this.lastRtt.keys()) if (this.book.get(id) === undefined) this.lastRtt.delete(id);
  }

  clients(): ClientView[] {
    return this.switcher.clients().map((c) => this.view(c));
  }

  client(domain: string): ClientView | undefined {
    const c = this.switcher.client(domain);
    return c === undefined ? undefined : this.view(c);
  }

  /** Per-client stream counts and the streams themselves. */
  streams(domain?: string): ClientStreamsView[] | undefined {
    let list: ClientInfo[];
    if (domain === undefined) list = this.switcher.clients();
    else {
      const c = this.switcher.client(domain);
      if (c === undefined) return undefined;
      list = [c];
    }
    return list.map((c) => ({
      domain: c.domain,
      ip: c.ip,
      streams: c.streams,
      streamsOpened: c.streamsOpened,
      queuedBytes: c.queuedBytes,
      paused: c.paused,
      list: this.switcher.streams(c.domain) ?? [],
    }));
  }

  /** Per-client rate history for sparklines, by domain. */
  clientHistory(clients: readonly ClientView[]): Record<string, SeriesJSON> {
    const out: Record<string, SeriesJSON> = {};
    for (const c of clients) {
      const r = this.book.get(c.id);
      if (r !== undefined) out[c.domain] = r.series.toJSON();
    }
    return out;
  }

  history(): SeriesJSON {
    return this.total.series.toJSON();
  }

  totals(
    clients: readonly ClientView[] = this.clients(),
    s: SwitcherStats = this.switcher.stats(),
  ): SwitcherTotals {
    let streams = 0;
    let queuedBytes = 0;
    for (const c of clients) {
      streams += c.streams;
      queuedBytes += c.queuedBytes;
    }
    return {
      clients: s.clients,
      pendingAdmissions: s.pendingAdmissions,
      admitted: s.admitted,
      refused: s.refused,
      streams,
      bytesIn: s.bytesIn,
      bytesOut: s.bytesOut,
      rateIn: round(this.total.rateIn),
      rateOut: round(this.total.rateOut),
      forwarded: s.forwarded,
      dropped: s.dropped,
      spoofed: s.spoofed,
      ignored: s.ignored,
      queuedBytes,
    };
  }

  snapshot(limit: number): SwitcherSnapshot {
    const all = this.clients();
    const clients = all.length > limit ? all.slice(0, limit) : all;
    return { t: this.lastT, totals: this.totals(all), clients, omitted: all.length - clients.length };
  }

  private view(c: ClientInfo): ClientView {
    const r = this.book.get(c.id);
    const { connectedAt, rtt, ...rest } = c;
    return {
      ...rest,
      connectedAt: new Date(connectedAt).toISOString(),
      rateIn: round(r?.rateIn ?? 0),
      rateOut: round(r?.rateOut ?? 0),
      rttMs: rtt === null ? null : round(rtt),
    };
  }
}
