import type { ClientCounters, ClientInfo, StreamInfo } from '../switcher/client.js';
import type { Switcher, SwitcherStats } from '../switcher/switcher.js';
import { cursorOf, cutPage, type Page } from './http.js';
import { Rate, RateBook, round, type SeriesJSON } from './rates.js';

/**
 * What the admin shows of a switcher: JSON views of its clients with rates computed from samples,
 * the total throughput history, and the snapshots pushed to the dashboard. Everything here is
 * read through the switcher's public API (`clients()`, `client()`, `clientCount`, `eachClient()`, `stats()`).
 *
 * Sampling and totals read every client's counters (`eachClient()`), never a full ClientInfo;
 * a snapshot builds views of the clients it returns only: with 10,000 clients it used to build
 * all of them every second to keep the first `maxSnapshotItems`.
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

/** The switcher's totals, as the admin API shows them: sums over the clients (docs/admin.md). */
export interface SwitcherTotals {
  /** Nodes admitted and connected now. */
  clients: number;
  /** Connections in admission. */
  pendingAdmissions: number;
  /** Admissions since the switcher started. */
  admitted: number;
  /** Refused connections since the switcher started. */
  refused: number;
  /** Open streams summed over clients (a stream counts at each end). */
  streams: number;
  /** Streams open, each counted once (what the dashboard shows). */
  openStreams: number;
  /** Bytes received from the nodes. */
  bytesIn: number;
  /** Bytes written to the nodes. */
  bytesOut: number;
  /** Bytes/s received over the last sample interval. */
  rateIn: number;
  /** Bytes/s written over the last sample interval. */
  rateOut: number;
  /** Frames forwarded from one node to another. */
  forwarded: number;
  /** Frames dropped. */
  dropped: number;
  /** Frames dropped because their source IP was not the sender's own. */
  spoofed: number;
  /** Frames addressed to the switcher itself that it does not handle. */
  ignored: number;
  /** Bytes waiting to be written to the nodes, those leaving included until their connection ends. */
  queuedBytes: number;
}

/** One sample of a switcher, as an SSE snapshot event carries it. */
export interface SwitcherSnapshot {
  /** Unix ms of the sample. */
  t: number;
  /** The switcher's totals. */
  totals: SwitcherTotals;
  /** Its clients (at most `maxSnapshotItems`). */
  clients: ClientView[];
  /** Clients left out of `clients` by the snapshot limit. */
  omitted: number;
}

/** The streams of one client, as a page of `GET /api/v1/streams` on a switcher lists them. */
export interface ClientStreamsView {
  /** The client's domain. */
  domain: string;
  /** The client's virtual IP. */
  ip: number;
  /** Its streams open now. */
  streams: number;
  /** Streams opened with it at one end. */
  streamsOpened: number;
  /** Bytes waiting to be written to it. */
  queuedBytes: number;
  /** True while its reading is paused by backpressure. */
  paused: boolean;
  /** Open streams with this client at one end (a page of them). */
  list: StreamInfo[];
  /** Its open streams not in `list`. */
  omitted: number;
}

/** One page of `GET /api/v1/clients`. */
export interface ClientsPage {
  /** Clients in all. */
  count: number;
  /** The cursor of the next page (`?cursor=`), or null when this one is the last. */
  next: string | null;
  clients: ClientView[];
}

/** One page of `GET /api/v1/streams` on a switcher. */
export interface StreamsPage {
  /** Clients in all (1 with `?domain=`). */
  count: number;
  /** The cursor of the next page (`?cursor=`), or null when this one is the last. */
  next: string | null;
  clients: ClientStreamsView[];
}

/** Clients read for the first batch of a page of streams (SwitcherView.streams). */
const FIRST_BATCH = 16;

function streamsRow(c: ClientInfo, list: StreamInfo[]): ClientStreamsView {
  return {
    domain: c.domain,
    ip: c.ip,
    streams: c.streams,
    streamsOpened: c.streamsOpened,
    queuedBytes: c.queuedBytes,
    paused: c.paused,
    list,
    omitted: Math.max(0, c.streams - list.length),
  };
}

export class SwitcherView {
  private readonly book: RateBook<number, Rate>;
  private readonly total: Rate;
  private lastT = Date.now();
  /** Sample time of the tick in progress, for `sampleClient` (bound once, not per tick). */
  private mono = 0;
  private wall = 0;
  private readonly sampleClient = (c: ClientCounters): void => {
    this.book.sample(c.id, this.mono, this.wall, c.bytesIn, c.bytesOut);
  };

  constructor(
    readonly switcher: Switcher,
    historySize: number,
    itemHistory: number,
    /** Clients that keep a sparkline history: the first this many, those a snapshot lists. */
    historyItems = Number.POSITIVE_INFINITY,
  ) {
    this.book = new RateBook(itemHistory, historyItems);
    this.total = new Rate(historySize);
  }

  /** Takes one sample of every counter. */
  tick(mono: number, wall: number): void {
    this.lastT = wall;
    const s = this.switcher.stats();
    this.total.sample(mono, wall, s.bytesIn, s.bytesOut);
    this.mono = mono;
    this.wall = wall;
    this.book.begin();
    this.switcher.eachClient(this.sampleClient);
    this.book.end();
  }

  /** Views of every client (a page of them: clientsPage()). */
  clients(): ClientView[] {
    return this.switcher.clients().map((c) => this.view(c));
  }

  /**
   * One page of clients and the cursor of the next: the id of its last client, after which the
   * next page resumes whoever joined or left meanwhile (an offset would skip one client for each
   * that left before it). One client more than the page is read, to tell whether one follows.
   */
  clientsPage(page: Page): ClientsPage {
    const list = this.switcher.clients(page.limit + 1, page.offset, page.after);
    const next = cutPage(list, page.limit, (c) => c.id);
    // clientCount, not stats(): its byte totals walk every client, and made each page cost them all.
    return { count: this.switcher.clientCount, next, clients: list.map((c) => this.view(c)) };
  }

  client(domain: string): ClientView | undefined {
    const c = this.switcher.client(domain);
    return c === undefined ? undefined : this.view(c);
  }

  /**
   * Per-client stream counts and the streams themselves, one page: at most `limit` stream
   * entries and `limit` clients. Without `domain` the page holds the clients after the cursor's
   * (or after the first `offset`) and ends where the entries run out (the last client's list may
   * be cut: `omitted`), `next` being the cursor of its last client; with `domain` it holds that
   * client's streams after the cursor's stream (or its first `offset`). Cursors are ids, of a
   * client or a stream, so clients or streams that come or go between two pages shift nothing.
   * Only the page's clients and streams are read: 1,000 clients with 10 streams each made an
   * unpaged answer of 2.7 MB that held the event loop for 27 ms.
   */
  streams(domain: string | undefined, page: Page): StreamsPage | undefined {
    if (domain !== undefined) {
      const c = this.switcher.client(domain);
      if (c === undefined) return undefined;
      const list =
        this.switcher.streams(c.domain, { offset: page.offset, limit: page.limit + 1, after: page.after }) ??
        [];
      const next = cutPage(list, page.limit, (s) => s.id);
      return { count: 1, next, clients: [streamsRow(c, list)] };
    }
    const clients: ClientStreamsView[] = [];
    let budget = page.limit;
    let last = 0;
    let more = false;
    // Clients read in batches, each resuming after the last, growing up to one client more
    // than the page can hold (to tell whether one follows): the entries usually run out after
    // a few clients, and one batch of `limit + 1` built a record of each (1,001 for the first
    // 100 of a switcher whose clients have 10 streams each).
    let want = Math.min(page.limit + 1, FIRST_BATCH);
    let batch = this.switcher.clients(want, page.offset, page.after);
    read: for (;;) {
      for (const c of batch) {
        if (budget === 0 || clients.length === page.limit) {
          more = true;
          break read;
        }
        const list = this.switcher.streams(c.domain, { limit: budget }) ?? [];
        budget -= list.length;
        clients.push(streamsRow(c, list));
        last = c.id;
      }
      if (batch.length < want) break;
      want = Math.min(2 * want, page.limit + 1);
      batch = this.switcher.clients(want, 0, last);
    }
    return { count: this.switcher.clientCount, next: more ? cursorOf(last) : null, clients };
  }

  /** Per-client rate history for sparklines, by client id (the key of a delta's items). */
  clientHistory(clients: readonly ClientView[]): Record<string, SeriesJSON> {
    const out: Record<string, SeriesJSON> = {};
    for (const c of clients) {
      const r = this.book.get(c.id);
      if (r?.series != null) out[String(c.id)] = r.series.toJSON();
    }
    return out;
  }

  history(): SeriesJSON {
    return this.total.history();
  }

  totals(s: SwitcherStats = this.switcher.stats()): SwitcherTotals {
    // clientTotals(), not eachClient(): it counts the clients still leaving too, whose queues
    // are held until their connection ends (a kicked one that does not read).
    const { streams, openStreams, queuedBytes } = this.switcher.clientTotals();
    return {
      clients: s.clients,
      pendingAdmissions: s.pendingAdmissions,
      admitted: s.admitted,
      refused: s.refused,
      streams,
      openStreams,
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
    const totals = this.totals();
    const clients = this.switcher.clients(limit).map((c) => this.view(c));
    return { t: this.lastT, totals, clients, omitted: totals.clients - clients.length };
  }

  /**
   * Field by field, not `{ ...rest }` of a destructured ClientInfo: object rest and spread cost
   * about 3 µs per client (3.7 ms per snapshot of 1,000), this about a tenth of it. The keys keep
   * the order rest and spread gave (ClientInfo's, then the view's own); a test checks it, and the
   * compiler rejects a literal that misses a field ClientInfo gains.
   */
  private view(c: ClientInfo): ClientView {
    const r = this.book.get(c.id);
    return {
      id: c.id,
      domain: c.domain,
      ip: c.ip,
      mac: c.mac,
      remoteAddress: c.remoteAddress,
      streams: c.streams,
      streamsOpened: c.streamsOpened,
      earlyRoutes: c.earlyRoutes,
      bytesIn: c.bytesIn,
      bytesOut: c.bytesOut,
      framesIn: c.framesIn,
      framesOut: c.framesOut,
      framesByCmd: c.framesByCmd,
      dropped: c.dropped,
      spoofed: c.spoofed,
      queuedBytes: c.queuedBytes,
      paused: c.paused,
      connectedAt: new Date(c.connectedAt).toISOString(),
      rateIn: round(r?.rateIn ?? 0),
      rateOut: round(r?.rateOut ?? 0),
      rttMs: c.rtt === null ? null : round(c.rtt),
    };
  }
}
