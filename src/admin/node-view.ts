import { indexStreamsBySerial } from '../node/serial-index.js';
import type { StreamAddress, StreamCore, StreamState } from '../stream/core.js';
import { normalizeDomain } from '../wire/domain.js';
import type { AdminNode, InspectableNode, InspectableSession } from './config.js';
import { cutPage, type Page } from './http.js';
import type { RttProbe } from './node-rtt.js';
import { Rate, RateBook, round, type SeriesJSON } from './rates.js';

// The admin pages through a node's streams by cursor: by binary search, whatever the entry point.
indexStreamsBySerial();

/**
 * What the admin shows of one node: its streams with rates, its listeners, and totals that stay
 * monotonic across the reconnections of a session (each new connection is a new BaseNode whose
 * counters start at zero).
 */

/** A stream as the admin API shows it (docs/admin.md, "Endpoints": a **Stream**). */
export interface StreamView {
  /**
   * The node's key for it: unique among its open streams, but a later stream between the same
   * ports gets it again, and a rebind (a dial answered from another address) changes it.
   */
  id: number;
  /**
   * StreamCore.serial: greater for each stream opened later in the process, never reused nor
   * changed. What deltas, sparkline histories (as a string) and page cursors know a stream by.
   */
  serial: number;
  /** This end: `{ip, port, domain}`. */
  local: StreamAddress;
  /** The other end: `{ip, port, domain}`. */
  remote: StreamAddress;
  /** True if this node opened the stream. */
  dialed: boolean;
  /** 'open', 'closing' or 'closed'. */
  state: StreamState;
  /** Negotiated window, bytes. */
  window: number;
  /** Bytes this end may still send before the peer acknowledges more. */
  sendCredit: number;
  /** True if the half-close extension was negotiated. */
  halfClose: boolean;
  /** True if the reset extension was negotiated. */
  reset: boolean;
  /** Received bytes not yet read by the application. */
  receiveBuffered: number;
  /** Written bytes not yet handed to the connection. */
  writeBuffered: number;
  /** Payload received from the peer, whether the application has read it or not. */
  bytesRead: number;
  /** Payload handed to the connection. */
  bytesWritten: number;
  /** Bytes/s of `bytesRead` over the last sample interval. */
  rateIn: number;
  /** Bytes/s of `bytesWritten` over the last sample interval. */
  rateOut: number;
  /** RFC 3339. */
  createdAt: string;
  /** RFC 3339: when data was last written or received. */
  lastActivity: string;
  /** RTT of the admin's last ping to the remote domain, ms; null if none answered. */
  rttMs: number | null;
}

/**
 * A node's totals, as the admin API shows them (`totals` in the info and each snapshot); they stay
 * monotonic across a session's reconnections.
 */
export interface NodeTotals {
  /** True while the node (or the session's current node) is connected. */
  connected: boolean;
  /** Open streams. */
  streams: number;
  /** Ports listened on. */
  listeners: number;
  /** Bytes received, over every connection of a session. */
  bytesIn: number;
  /** Bytes written, over every connection of a session. */
  bytesOut: number;
  /** Bytes/s received over the last sample interval. */
  rateIn: number;
  /** Bytes/s written over the last sample interval. */
  rateOut: number;
  /** Frames received. */
  framesIn: number;
  /** Frames received and dropped. */
  dropped: number;
  /** Streams dialled whose open was accepted. */
  streamsOpened: number;
  /** Streams opened by the peer and accepted. */
  streamsAccepted: number;
  /** Bytes received and not yet read, summed over the streams. */
  receiveBuffered: number;
  /** Bytes written and not yet sent, summed over the streams. */
  writeBuffered: number;
  /** Control frames (ACKs, opens, pings) waiting for the connection. */
  controlQueue: number;
  /** RTT of the admin's last ping over the connection, ms. */
  rttMs: number | null;
}

/** One sample of a node, as an SSE `snapshot` event carries it. */
export interface NodeSnapshot {
  /** Unix ms of the sample. */
  t: number;
  /** The node's totals. */
  totals: NodeTotals;
  /** Its streams (at most `maxSnapshotItems`). */
  streams: StreamView[];
  /** Streams left out of `streams` by the snapshot limit. */
  omitted: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();

type Counters = Pick<
  NodeTotals,
  'bytesIn' | 'bytesOut' | 'framesIn' | 'dropped' | 'streamsOpened' | 'streamsAccepted'
>;

const ZERO: Counters = {
  bytesIn: 0,
  bytesOut: 0,
  framesIn: 0,
  dropped: 0,
  streamsOpened: 0,
  streamsAccepted: 0,
};

/** Counters of a node's connections that /metrics serves and the API's totals do not. */
interface MoreCounters {
  openRefused: number;
  internalErrors: number;
}

/** What totals() reads of a stream. */
type Buffered = Pick<StreamView, 'receiveBuffered' | 'writeBuffered'>;

export class NodeView {
  private readonly book: RateBook<StreamCore>;
  private readonly total: Rate;
  private base: Counters = { ...ZERO };
  /** Counters of the connections before the current one that the API's totals do not show. */
  private baseMore: MoreCounters = { openRefused: 0, internalErrors: 0 };
  private lastNode: InspectableNode | null = null;
  private lastT = Date.now();
  /** The last count of streams by peer (countTo()), and the node's streams as they were then. */
  private domainCount: {
    node: InspectableNode;
    domain: string;
    added: number;
    size: number;
    count: number;
  } | null = null;

  constructor(
    readonly target: AdminNode,
    readonly rtt: RttProbe | null,
    historySize: number,
    itemHistory: number,
    /** Streams that keep a sparkline history: the first this many, those a snapshot lists. */
    historyItems = Number.POSITIVE_INFINITY,
  ) {
    this.book = new RateBook<StreamCore>(itemHistory, historyItems);
    this.total = new Rate(historySize);
    // Each connection is seen only where the counters are read: read them at every change of
    // state too, or a connection admitted and lost between two samples would count for nothing.
    this.session?.on('state', this.onState);
  }

  /** Stops following the session's connections. */
  close(): void {
    this.session?.off('state', this.onState);
  }

  private readonly onState = (): void => {
    this.counters();
  };

  /** The node of the current connection, or null while a session is disconnected. */
  get current(): InspectableNode | null {
    return isNode(this.target) ? this.target : this.target.node;
  }

  get session(): InspectableSession | null {
    return isNode(this.target) ? null : this.target;
  }

  /** Counters summed over every connection seen so far. */
  counters(): Counters {
    const n = this.current;
    if (n !== this.lastNode) {
      // The old node's counters are final now, and may have moved since they were last read:
      // add what it holds, not the last reading, or its last moments would be lost for good.
      if (this.lastNode !== null) {
        this.base = add(this.base, read(this.lastNode));
        const s = this.lastNode.stats;
        this.baseMore = {
          openRefused: this.baseMore.openRefused + (s.openRefused ?? 0),
          internalErrors: this.baseMore.internalErrors + (s.internalErrors ?? 0),
        };
      }
      this.lastNode = n;
    }
    return n === null ? { ...this.base } : add(this.base, read(n));
  }

  /**
   * Counters /metrics serves besides those of counters(), summed over every connection seen so
   * far the same way: opens refused, and bugs of flexmux's that closed a connection (each closes
   * the node it happened in, so a session's count lives on in the nodes it replaced).
   */
  moreCounters(): MoreCounters {
    this.counters();
    const s = this.current?.stats;
    return {
      openRefused: this.baseMore.openRefused + (s?.openRefused ?? 0),
      internalErrors: this.baseMore.internalErrors + (s?.internalErrors ?? 0),
    };
  }

  tick(mono: number, wall: number): void {
    this.lastT = wall;
    const c = this.counters();
    this.total.sample(mono, wall, c.bytesIn, c.bytesOut);
    this.book.begin();
    for (const s of this.current?.streamList() ?? [])
      this.book.sample(s, mono, wall, s.bytesRead, s.bytesWritten);
    this.book.end();
  }

  /**
   * Every stream, or with `domain` (normalised) those whose peer is that domain; `count` of
   * them, and views of one page only: 10,000 streams made a single answer of 3.9 MB that held
   * the event loop for 36 ms. Pages follow the streams' serial numbers (creation order): one
   * starts after the cursor's serial (`page.after`, the `next` of the page before), so streams
   * that close or open between two pages skip or repeat none that stayed open (by offset, each
   * stream that closed before the offset made the next page skip one), or after the first
   * `offset`. The node finds where a page resumes by binary search (streamPage()): a page costs
   * the streams it steps over from the cursor on, where it copied every stream before, and a
   * walk of 16,384 page by page cost the square of that. With `domain` the count is kept until a
   * stream opens or ends (countTo()).
   */
  streams(
    domain: string | undefined,
    page: Page,
  ): { count: number; next: string | null; streams: StreamView[] } {
    const n = this.current;
    if (n === null) return { count: 0, next: null, streams: [] };
    const keep = domain === undefined ? undefined : peerIs(domain);
    const shown = n.streamPage(page.after ?? 0, page.offset, page.limit + 1, keep);
    const next = cutPage(shown, page.limit, (s) => s.serial);
    const count = domain === undefined ? n.streamCount : this.countTo(n, domain);
    return { count, next, streams: shown.map((s) => this.view(s)) };
  }

  /**
   * The streams of `n` to `domain`: counted anew only when a stream opened or ended since the
   * last count (to that domain), not on every page: a walk of a node's streams to one peer page
   * by page would otherwise cost every stream for each page.
   */
  private countTo(n: InspectableNode, domain: string): number {
    const c = this.domainCount;
    if (c?.node === n && c.domain === domain && c.added === n.streamsAdded && c.size === n.streamCount) {
      return c.count;
    }
    const keep = peerIs(domain);
    let count = 0;
    for (const s of n.streamList()) if (keep(s)) count++;
    this.domainCount = { node: n, domain, added: n.streamsAdded, size: n.streamCount, count };
    return count;
  }

  listeners(): { port: number }[] {
    return this.listenerPorts().map((port) => ({ port }));
  }

  /**
   * Ports listened on, ascending: a session's own listeners, which it keeps while it waits to
   * reconnect (read from its node alone, they were none then), and any the current connection's
   * node has besides (one opened on `session.node` directly).
   */
  listenerPorts(): number[] {
    const n = this.current;
    const ports = new Set(this.session?.listenerPorts());
    if (n !== null && !n.closed) for (const p of n.listenerPorts()) ports.add(p);
    return [...ports].sort((a, b) => a - b);
  }

  /** Totals over `streams` (views, or the node's streams themselves: only their buffers are read). */
  totals(streams: readonly Buffered[] = this.current?.streamList() ?? []): NodeTotals {
    const n = this.current;
    let receiveBuffered = 0;
    let writeBuffered = 0;
    for (const s of streams) {
      receiveBuffered += s.receiveBuffered;
      writeBuffered += s.writeBuffered;
    }
    return {
      connected: n !== null && !n.closed,
      streams: streams.length,
      listeners: this.listenerPorts().length,
      ...this.counters(),
      rateIn: round(this.total.rateIn),
      rateOut: round(this.total.rateOut),
      receiveBuffered,
      writeBuffered,
      controlQueue: n?.scheduler.controlLength ?? 0,
      rttMs: this.rtt?.link == null ? null : round(this.rtt.link),
    };
  }

  history(): SeriesJSON {
    return this.total.history();
  }

  streamHistory(streams: readonly StreamView[]): Record<string, SeriesJSON> {
    const out: Record<string, SeriesJSON> = {};
    // A set, not a search of `streams` per stream: with thousands of streams that was quadratic.
    const shown = new Set(streams.map((v) => v.serial));
    for (const s of this.current?.streamList() ?? []) {
      const r = this.book.get(s);
      if (r?.series != null && shown.has(s.serial)) out[String(s.serial)] = r.series.toJSON();
    }
    return out;
  }

  /** The first `limit` streams as views, totals over all of them: views only of those shown. */
  snapshot(limit: number): NodeSnapshot {
    const all = this.current?.streamList() ?? [];
    const shown = all.length > limit ? all.slice(0, limit) : all;
    return {
      t: this.lastT,
      totals: this.totals(all),
      streams: shown.map((s) => this.view(s)),
      omitted: all.length - shown.length,
    };
  }

  private view(s: StreamCore): StreamView {
    const r = this.book.get(s);
    const peerRtt = this.rtt?.peers.get(s.remote.domain);
    return {
      id: s.key,
      serial: s.serial,
      local: { ...s.local },
      remote: { ...s.remote },
      dialed: s.dialed,
      state: s.state,
      window: s.window,
      sendCredit: s.sendCredit,
      halfClose: s.halfCloseNegotiated,
      reset: s.resetNegotiated,
      receiveBuffered: s.receiveBuffered,
      writeBuffered: s.writeBuffered,
      bytesRead: s.bytesRead,
      bytesWritten: s.bytesWritten,
      rateIn: round(r?.rateIn ?? 0),
      rateOut: round(r?.rateOut ?? 0),
      createdAt: iso(s.createdAt),
      lastActivity: iso(s.lastActivity),
      rttMs: peerRtt == null ? null : round(peerRtt),
    };
  }
}

/** Whether a stream's peer is `domain` (normalised); its remote domain is kept as given ("Bob:7"). */
function peerIs(domain: string): (s: StreamCore) => boolean {
  return (s) => normalizeDomain(s.remoteDomain) === domain;
}

function isNode(x: AdminNode): x is InspectableNode {
  return typeof (x as Partial<InspectableNode>).streamList === 'function';
}

function read(n: InspectableNode): Counters {
  const s = n.stats;
  return {
    bytesIn: s.bytesIn,
    bytesOut: n.scheduler.bytesWritten,
    framesIn: s.framesIn,
    dropped: s.dropped,
    streamsOpened: s.streamsOpened,
    streamsAccepted: s.streamsAccepted,
  };
}

function add(a: Counters, b: Counters): Counters {
  return {
    bytesIn: a.bytesIn + b.bytesIn,
    bytesOut: a.bytesOut + b.bytesOut,
    framesIn: a.framesIn + b.framesIn,
    dropped: a.dropped + b.dropped,
    streamsOpened: a.streamsOpened + b.streamsOpened,
    streamsAccepted: a.streamsAccepted + b.streamsAccepted,
  };
}
