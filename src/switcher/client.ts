import { LimitError, type ProtocolError, TimeoutError } from '../errors.js';
import { hungUp } from '../transport/defaults.js';
import type { Transport } from '../transport/types.js';
import { errorFields } from '../util/cause.js';
import { IdIndex } from '../util/id-index.js';
import type { Logger } from '../util/logger.js';
import { interval, now, type TimerHandle, timeout } from '../util/timers.js';
import { Caps, Cmd, cmdName, HEADER_SIZE, LOCAL_IP, SWITCHER_IP } from '../wire/constants.js';
import { EMPTY, type Frame, header } from '../wire/frame.js';
import { encodeOpenError, OpenErrorText } from '../wire/open.js';
import { encodePing, encodePingAck, PingErrorText } from '../wire/ping.js';
import type { FrameSink } from './admission.js';
import type { ResolvedSwitcherOptions } from './config.js';
import { Liveness } from './liveness.js';
import {
  addOrphan,
  closePlan,
  GONE_RESET,
  type Orphans,
  peerOf,
  resetPlan,
  SHUTDOWN_RESET,
} from './orphans.js';
import { Outbox, ReadGate } from './outbox.js';

/**
 * One admitted node as the switcher sees it (PROTOCOL.md 7.1): its transport, the frames waiting
 * for it (outbox.ts), the gate on its reading that destinations close when it sends faster than
 * they take, its liveness pings, and its counters.
 */

/**
 * Every reason a client may leave, at run time too: the admin's departure counter starts each at
 * 0, so the first departure for a reason is an increase Prometheus can see.
 */
export const LEAVE_REASONS = [
  'closed',
  'reset',
  'error',
  'kicked',
  'evicted',
  'shutdown',
  'idle',
  'unresponsive',
  'protocol',
  'overflow',
  'stalled',
] as const;

/** Why a client left the switcher: the `reason` of `clientLeft` (docs/manual.md, section 5). */
export type LeaveReason = (typeof LEAVE_REASONS)[number];

/** A snapshot of one client for stats and admin. */
export interface ClientInfo {
  /** The client's id: one per connection, ascending in the order of admission. */
  id: number;
  /** The domain it was admitted with. */
  domain: string;
  /** Its virtual IP (1..65534). */
  ip: number;
  /** The MAC it sent in its admission request. */
  mac: string;
  /** Its address, as the transport names it. */
  remoteAddress: string;
  /** Unix ms. */
  connectedAt: number;
  /** Streams open through the switcher with this node at one end (successful opens minus closes). */
  streams: number;
  /** Successful opens this node took part in, in total. */
  streamsOpened: number;
  /** Early-data routes its domain dials hold now (docs/protocol.md 8; at most 16,384). */
  earlyRoutes: number;
  /** Bytes of the frames received from it (headers included). */
  bytesIn: number;
  /** Bytes written to it (headers included; the admission reply aside). */
  bytesOut: number;
  /** Frames received from it. */
  framesIn: number;
  /** Frames queued for it. */
  framesOut: number;
  /** Received frames by command name. */
  framesByCmd: Record<string, number>;
  /**
   * Frames from this node that went nowhere (unknown or invalid destination, refused, ignored, or
   * dropped at a leave, its own or its acceptor's), and other nodes' frames queued for it when it
   * leaves or its connection is found closed (not the switcher's own frames: its replies and pings, nor the closes, resets and
   * refusals it queued in another node's place); the switcher counts them too, in `dropped`, or
   * in `ignored` for frames to the switcher it ignored.
   */
  dropped: number;
  /** Frames from this node whose source IP was not its own (12.1.2), dropped. */
  spoofed: number;
  /** Bytes waiting to be written to this node. */
  queuedBytes: number;
  /** True while its reading is paused by backpressure. */
  paused: boolean;
  /** Round trip of the last liveness ping in ms, or null if none was answered. */
  rtt: number | null;
}

/**
 * The counters of one client that change between samples, read without the rest of ClientInfo
 * (its frame counts by command cost an object per client): what `Switcher.eachClient()` gives.
 */
export type ClientCounters = Pick<
  ClientInfo,
  'id' | 'bytesIn' | 'bytesOut' | 'streams' | 'queuedBytes' | 'rtt'
> & {
  /**
   * Of its open streams, those it accepted. Every stream has one acceptor, so these sum over the
   * clients to the streams open, each counted once (`streams` sums to twice that).
   */
  streamsAccepted: number;
};

export interface ClientInit {
  id: number;
  ip: number;
  domain: string;
  mac: string;
  connectedAt: number;
}

/** What a client needs from its switcher. */
export interface ClientHost {
  readonly options: ResolvedSwitcherOptions;
  readonly logger: Logger;
  route(from: SwitcherClient, f: Frame): void;
  /** A bug of ours threw while a frame from `from` was handled (outside `route`'s own guard). */
  failed(from: SwitcherClient, err: unknown): void;
  /**
   * A bug of ours threw while `c` left or was torn down: reported, never thrown (it runs inside
   * the transport's handlers and timers), and the rest of the leave or teardown goes on.
   */
  teardownFailed(c: SwitcherClient, err: unknown): void;
  /**
   * A bug of ours threw in one of `c`'s timers (its pings, its idle check): reported, never
   * thrown (in a timer or a promise's callback it ended the process), and the timer goes on.
   */
  timerFailed(c: SwitcherClient, err: unknown, timer: 'ping' | 'idle check'): void;
  /** Stop routing to `c` (it is closing). */
  detach(c: SwitcherClient): void;
  /**
   * `n` frames from `from` went nowhere, dropped by the client itself rather than the router (at
   * a leave): counted as the router counts a drop, in `from`'s stats and the switcher's, which
   * outlive a departed `from`.
   */
  dropped(from: SwitcherClient, n: number, reason: string): void;
  /** A liveness ping of `c` (keep-alive or takeover probe) was answered after `ms`. */
  rtt(c: SwitcherClient, ms: number): void;
  /** `c` is gone. Called once. */
  left(c: SwitcherClient, reason: LeaveReason, err: Error | undefined): void;
}

/** Closes awaiting their close-ACK kept per client (SwitcherClient.closing). */
const MAX_CLOSING = 1024;

/**
 * A v3 close whose close-ACK is still owed: an entry of its closer's `closing` (under `key`, the
 * stream's key) and of its peer's `owes`. The close's ports, from which that close-ACK is built.
 */
export interface ClosingStream {
  closer: SwitcherClient;
  peer: SwitcherClient;
  key: string;
  srcPort: number;
  dstPort: number;
}

/** A stream the switcher saw open between two of its clients; both clients hold the same one. */
export interface LinkedStream {
  /** The client that accepted the stream (sent the OpenStream ACK), and the one that dialled. */
  acceptorClient: SwitcherClient;
  dialerClient: SwitcherClient;
  /** The acceptor's and the dialer's (IP, port). */
  acceptor: readonly [number, number];
  dialer: readonly [number, number];
  /** Extensions the stream negotiated (PROTOCOL.md 14.1). */
  caps: number;
  /** Unix ms when the OpenStream ACK passed. */
  since: number;
  /** StreamInfo.id. */
  id: number;
  /** FINs seen: 1 from the dialer, 2 from the acceptor. */
  fins: number;
}

/**
 * A dial in flight through the switcher, from the dialer's port: where its open went, so that the
 * dial is refused at once if that client leaves before answering (SwitcherClient.unroute).
 *
 * One that offered early data (`early`) also routes the frames the dialer sends to FFFF from that
 * port (early data). After the ACK the stream's link owns it: it goes when the link is forgotten
 * (unlink) or either client leaves. Any other dial's route goes with its ACK, and only the fields
 * up to `ended` mean something for it.
 */
export interface OpeningRoute {
  to: SwitcherClient;
  /** The dial offered early data: the route carries it (else it only tracks the dial). */
  early: boolean;
  /** An IP dial (refused from the target's IP, as an IP no node holds), not a domain dial. */
  byIp: boolean;
  /** The dialer's port (the route's key in its `opening`). */
  port: number;
  /** The acceptor's port (the open's destination port). */
  dstPort: number;
  /** Whether the acceptor's ACK has passed. */
  acked: boolean;
  /** Before the ACK: a FIN from the dialer passed (1, as LinkedStream.fins counts it). */
  fins: number;
  /** Before the ACK: a close or reset from the dialer passed, so no link is made. */
  ended: boolean;
  /**
   * Early frames held until the ACK: the acceptor has not shown yet that it takes early data (it
   * took the domain over since the dialer learnt it, and may be a Go node). Null when none.
   */
  held: Frame[] | null;
  /** What `held` costs, headers and FRAME_COST per frame included (against MAX_HELD_EARLY). */
  heldBytes: number;
  /** Some early frames of this dial were dropped: its ACK must not say EARLY_ROUTED. */
  dropped: boolean;
}

/** A ping the switcher passed on from `pinger` to `target` (SwitcherClient.pingsOut). */
export interface PingOut {
  pinger: SwitcherClient;
  target: SwitcherClient;
  /** The ping id: the pinger's source port, its answer's destination port. */
  id: number;
  /** The request's destination port, the source port of an answer the switcher makes. */
  dstPort: number;
  /**
   * Sent to FFFF naming a domain (Router.ping), not to the target's IP: only such a ping is
   * answered when the target leaves. A ping to an IP nobody holds is dropped (as in Go), so one
   * by IP gets no answer when that IP's node leaves either.
   */
  byDomain: boolean;
}

/** Early frames a dialer may have held at the switcher at once, over all its routes. */
export const MAX_HELD_EARLY = 1024 * 1024;

/** Open routes a client may hold at once; a domain dial offering early data beyond it is refused. */
export const MAX_OPENING_ROUTES = 16_384;

/**
 * Other dials (no early data) a client may have tracked at once; beyond it a dial is not tracked
 * and, if its target leaves before answering, waits out the dialer's timeout as in Go.
 */
export const MAX_DIAL_ROUTES = 16_384;

/** Pings in flight a client may have tracked at once (SwitcherClient.pingsOut); the oldest go first. */
export const MAX_PINGS_OUT = 4096;

/** A new route for a dial from `f`'s source port to `to` (see OpeningRoute). */
export function openingRoute(to: SwitcherClient, f: Frame, early: boolean, byIp: boolean): OpeningRoute {
  return {
    to,
    early,
    byIp,
    port: f.srcPort,
    dstPort: f.dstPort,
    acked: false,
    fins: 0,
    ended: false,
    held: null,
    heldBytes: 0,
    dropped: false,
  };
}

/** One stream between two clients, as `Switcher.streams()` lists it. */
export interface StreamInfo {
  /**
   * The switcher's number for the stream, greater for each stream linked after it (across all
   * clients): what a page of streams resumes after (`Switcher.streams()`, `after`).
   */
  id: number;
  /** The end that opened the stream. */
  dialer: {
    /** The dialer's domain. */
    domain: string;
    /** The dialer's virtual IP. */
    ip: number;
    /** The stream's port at the dialer. */
    port: number;
  };
  /** The end that accepted it. */
  acceptor: {
    /** The acceptor's domain. */
    domain: string;
    /** The acceptor's virtual IP. */
    ip: number;
    /** The stream's port at the acceptor. */
    port: number;
  };
  /** Negotiated extensions: 1 half-close, 2 reset, 4 release on FIN (0: plain v3). */
  caps: number;
  /** Unix ms when the stream opened. */
  since: number;
}

/** Refusal of a domain dial: the domain does not resolve (or its holder left before answering). */
export const RESOLVE_FAILED: Uint8Array = encodeOpenError(OpenErrorText.RESOLVE_DOMAIN_FAILED);
/** Text of the OpenStream error ACK for an IP dial to an IP no client holds (flexmux only). */
export const NO_NODE_AT_IP = 'no node holds the ip';
/** Refusal of an IP dial: no client holds the IP (or its holder left before answering). */
export const NO_NODE: Uint8Array = encodeOpenError(NO_NODE_AT_IP);

/** A ping's answer for a domain nobody holds (PROTOCOL.md 6.2). */
const NOT_FOUND = encodePingAck(PingErrorText.DOMAIN_NOT_FOUND);

export class SwitcherClient implements FrameSink {
  /** Streams linked so far, by every switcher of the process: the last StreamInfo.id. */
  private static linked = 0;
  readonly id: number;
  readonly ip: number;
  readonly domain: string;
  readonly mac: string;
  readonly connectedAt: number;
  readonly transport: Transport;
  readonly gate: ReadGate;
  readonly outbox: Outbox<SwitcherClient>;
  /** Its pings: each answered one's round trip goes to the host (ClientHost.rtt). */
  readonly liveness = new Liveness((ms) => this.host.rtt(this, ms));
  state: 'open' | 'closing' | 'closed' = 'open';
  readonly stats = { bytesIn: 0, framesIn: 0, dropped: 0, spoofed: 0, streamsOpened: 0 };
  readonly cmdCounts = new Array<number>(256).fill(0);
  /**
   * The command bytes counted so far, ascending: `info()` reads these few counters rather than
   * scanning all 256 (with 10,000 clients that scan walked 10 MB, most of a scrape's time).
   */
  private readonly cmdSeen: number[] = [];
  /** Live streams with this node at one end: key -> the other end and the stream's addresses. */
  readonly streams = new Map<string, LinkedStream>();
  /**
   * `streams` by id, for pages of streamInfos(), made at the first page asked for and dropped with
   * the last stream: a switcher nobody pages through pays nothing for it (kept from the start, it
   * cost ~75 B of heap per open stream in `bench/scale.mjs`, and an array push per stream end).
   */
  private byId: IdIndex<string, LinkedStream> | null = null;
  /** Of `streams`, those this client accepted (ClientCounters.streamsAccepted). */
  accepted = 0;
  /**
   * Streams this node began a v3 close of, the close passed on and the stream forgotten (unlink),
   * whose close-ACK has not come back yet: key -> the other end and the close's ports, from
   * which the close-ACK it owes is built. An access reload that keeps the two apart answers the
   * close in that end's place (revoke.ts answerForbiddenCloses): the router drops the real one.
   * At most MAX_CLOSING, the oldest forgotten first (an end that never answers leaves its closer
   * to its own close timeout, as before). Forgotten too when either end leaves (unroute), and
   * answered there if the peer left.
   */
  readonly closing = new Map<string, ClosingStream>();
  /**
   * The reverse of other clients' `closing`: the kept closes whose close-ACK this client owes.
   * When it leaves each is answered in its place and goes from its closer's `closing` (unroute),
   * or the closer waited out its close timeout, kept the departed client reachable, and a later
   * reload answered in the place of a client that is gone.
   * Kept here so that a leave costs the closes it owed, not a walk over every client.
   */
  readonly owes = new Set<ClosingStream>();
  /** Dials of this client in flight, and early-data routes, by its source port (OpeningRoute). */
  readonly opening = new Map<number, OpeningRoute>();
  /**
   * Pings of this node the switcher passed on, by ping id (their source port): the client each
   * went to, the only one whose answer may reach us (a pinger matches an answer by id
   * alone, PROTOCOL.md 6.1). An entry goes with its answer, when its id is reused, past
   * MAX_PINGS_OUT (the oldest first: that ping is long timed out), or when either client leaves.
   */
  readonly pingsOut = new Map<number, PingOut>();
  /**
   * The reverse of other clients' `pingsOut`: pings passed on to this client and not answered.
   * When it leaves, each that named a domain is answered `domain not found` in its place, as the
   * switcher answers a ping of a domain nobody holds: the pinger no longer waits out its timeout
   * (a dial there is refused at once likewise, routesIn).
   */
  readonly pingsIn = new Set<PingOut>();
  /** How many of `opening` offered early data (OpeningRoute.early). */
  earlyRoutes = 0;
  /**
   * Source ports of this client's dials that went untracked (past MAX_DIAL_ROUTES), one bit per
   * port (8 KiB, only while there are any): an ACK to such a port answers none of its routes but
   * may answer that dial, so it still makes a stream (Router.track). Each is forgotten with its
   * first ACK or a new dial from its port, so the ACK-origin check is whole again for every other
   * port, and the record gone once none is left.
   */
  private untracked: Uint8Array | null = null;
  /** How many ports `untracked` marks. */
  untrackedDials = 0;
  /** Bytes of early frames of this client's dials held at the switcher (OpeningRoute.held). */
  heldEarly = 0;
  /**
   * This client answered a dial that offered early data with a caps byte: it is a flexmux node
   * and takes early data, so early frames to it need not wait for its ACK.
   */
  takesEarly = false;
  /**
   * Routes of other clients' dials holding early frames for this client, by their dialer: when
   * this client leaves, their frames can go nowhere and stop counting against the dialer's
   * MAX_HELD_EARLY (its dial fails there without a frame the switcher would see).
   */
  readonly heldFor = new Map<OpeningRoute, SwitcherClient>();
  /**
   * Routes of other clients' dials to this client, by their dialer: when this client leaves, those
   * it had not answered are refused at once and all are forgotten. Else each dial would wait out
   * the dialer's timeout, and each route stay in its `opening` until the dialer left, so that a
   * long-lived dialer whose acceptors come and go would run out of routes.
   */
  readonly routesIn = new Map<OpeningRoute, SwitcherClient>();
  private readonly host: ClientHost;
  /** Destinations holding a queue of this client's frames. */
  private readonly feeds = new Set<SwitcherClient>();
  /**
   * The reverse: sources that hold us in their `feeds`. When we leave they let go of us, or a
   * long-lived source kept every departed client it once sent to (transport and all) reachable.
   */
  private readonly feeders = new Set<SwitcherClient>();
  private leaveReason: LeaveReason | undefined;
  private leaveError: Error | undefined;
  private lastFrameAt = now();
  private idleTimer: TimerHandle | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private missedPings = 0;

  constructor(host: ClientHost, transport: Transport, init: ClientInit) {
    this.host = host;
    this.transport = transport;
    this.id = init.id;
    this.ip = init.ip;
    this.domain = init.domain;
    this.mac = init.mac;
    this.connectedAt = init.connectedAt;
    this.gate = new ReadGate(transport);
    this.outbox = new Outbox<SwitcherClient>(
      transport,
      host.options,
      this.gate,
      (held) => {
        const s = host.options.stallTimeout / 1000;
        this.destroy(
          'stalled',
          new LimitError(`took nothing for ${s} s while ${held} other node(s) waited to send to it`),
        );
      },
      (src) => {
        // Its queue here is gone: neither end needs the other to find it when it leaves (teardown).
        src.feeds.delete(this);
        this.feeders.delete(src);
      },
      () => this.idle,
      () => this.transportLost(),
    );
    // Last, and undone if one fails: a constructor that throws leaves no client for its caller
    // (the admission) to close, and a timer armed before the failure ran on that orphan for good,
    // checking and pinging a client that was never admitted.
    try {
      if (host.options.idleTimeout > 0) this.armIdle(host.options.idleTimeout);
      if (host.options.pingInterval > 0) this.startPings(host.options.pingInterval);
    } catch (err) {
      this.stopTimers();
      throw err;
    }
  }

  private stopTimers(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    if (this.pingTimer !== undefined) clearInterval(this.pingTimer);
    this.idleTimer = this.pingTimer = undefined;
  }

  get paused(): boolean {
    return this.gate.paused;
  }

  /**
   * Paused because what it sends piles up at its destinations: it is busy sending, and its
   * answers to our pings cannot be read. Not so a client paused only because it holds others
   * back (it takes nothing of what we write): that is the sign of a dead or stuck node, which
   * its pings must still judge, or with stallTimeout 0 it kept its domain for ever.
   */
  get busySending(): boolean {
    return this.gate.pausedBesides(this.outbox.ownPause);
  }

  // ------------------------------------------------------------------ inbound (FrameSink)

  frame(f: Frame): void {
    if (this.state !== 'open') return;
    this.stats.framesIn++;
    this.stats.bytesIn += HEADER_SIZE + f.payload.length;
    if (this.cmdCounts[f.cmd]++ === 0) this.seen(f.cmd);
    this.lastFrameAt = now();
    this.host.route(this, f);
  }

  drain(): void {
    this.outbox.scheduler.drain();
  }

  closed(err?: Error): void {
    this.teardown(err);
  }

  malformed(err: ProtocolError): void {
    this.destroy('protocol', err);
  }

  failed(err: unknown): void {
    this.host.failed(this, err);
  }

  // ------------------------------------------------------------------ outbound

  /** Queues a frame the switcher made (a reply or a ping) ahead of forwarded traffic. */
  sendControl(h: Uint8Array, payload?: Uint8Array): void {
    if (this.state !== 'open') return;
    try {
      this.outbox.control(h, payload);
    } catch (err) {
      // A node that lets its replies pile up is stuck or hostile; its memory stays bounded.
      if (!(err instanceof LimitError)) throw err;
      this.destroy('overflow', err);
    }
  }

  /** Queues a frame from `from` behind that source's earlier frames to this client. */
  forward(from: SwitcherClient, h: Uint8Array, payload: Uint8Array): boolean {
    if (this.state !== 'open') return false;
    this.fedBy(from);
    // False once our transport was lost (transportLost): the router counts the frame dropped.
    return this.outbox.forward(from, h, payload);
  }

  /**
   * Queues a frame the switcher made as if from `from` (a close, reset or refusal in its place)
   * behind `from`'s earlier frames to this client. Not a forwarded frame: lost at our leave, it is
   * no drop (Outbox.sendAs).
   */
  sendAs(from: SwitcherClient, h: Uint8Array, payload: Uint8Array): boolean {
    if (this.state !== 'open') return false;
    this.fedBy(from);
    this.outbox.sendAs(from, h, payload);
    return true;
  }

  /** `from` queues frames here: each end can find the other when it leaves. */
  private fedBy(from: SwitcherClient): void {
    if (from.feeds.has(this)) return;
    from.feeds.add(this);
    this.feeders.add(from);
  }

  // ------------------------------------------------------------------ liveness (6.3)

  /**
   * Pings this node for `domain` from (0xFFFF, k): true on any answer, false on timeout or leave.
   * A node whose frames kept coming while the ping was out is alive too: a busy node's answer can
   * wait behind bulk data on a deep or slow path, past the timeout (the node heartbeat's rule,
   * heartbeat.ts). So is one busy sending (busySending), whose answer we are not reading; and one
   * paused because it holds others back if it took bytes meanwhile (a slow reader, whose answer
   * we do not read either), but not one that took nothing: it is not reading at all.
   */
  probe(domain: string, timeoutMs: number): Promise<boolean> {
    // A transport found lost (transportLost) takes no ping.
    if (this.state !== 'open' || this.outbox.closed) return Promise.resolve(false);
    const payload = encodePing(domain);
    const sentAt = now();
    const holding = this.outbox.held > 0;
    const answer = this.liveness.start(
      (k) => this.sendControl(header(Cmd.PING, this.ip, 0, SWITCHER_IP, k, payload.length), payload),
      timeoutMs,
    );
    // Holding others back, its queue waits on its reading: the ping is queued behind, so bytes
    // written from now on are bytes it took.
    const mark = this.outbox.bytesOut;
    return answer.then((ok) => {
      if (ok) return true;
      if (this.state !== 'open') return false;
      if (this.lastFrameAt >= sentAt || this.busySending) return true;
      return (holding || this.outbox.held > 0) && this.outbox.bytesOut !== mark;
    });
  }

  /**
   * The other end (`goneClient`) of `orphans` left without closing: each stream is ended here in
   * one batch, as if from it (orphans.ts). Plain v3 streams alone get their CloseStreams queued
   * behind what it sent first; with streams that negotiated reset, its queue here is rewritten in
   * one pass (resetPlan). Queued so, the ends still leave when the departed client's queue here
   * is forgotten at its teardown (Outbox.forget keeps what is queued). The same ends the streams
   * that new access rules no longer allow, `goneClient` staying then (revoke.ts, with its `reset`
   * and `why`, the reason its dropped frames are counted under).
   */
  endOrphans(
    orphans: Orphans,
    goneClient: SwitcherClient,
    // Left because the switcher is closing: say so, not that the node at the other end left.
    reset: Uint8Array = goneClient.leaveReason === 'shutdown' ? SHUTDOWN_RESET : GONE_RESET,
    why = reset === SHUTDOWN_RESET ? 'reset as the switcher shuts down' : 'reset as their sender left',
  ): void {
    if (this.state !== 'open') return;
    this.fedBy(goneClient);
    if (orphans.links.length === 0) {
      this.outbox.sendAllAs(goneClient, closePlan(orphans, goneClient));
      return;
    }
    const dropped = this.outbox.requeue(goneClient, (frames) =>
      resetPlan(frames, orphans, goneClient, reset),
    );
    if (dropped > 0) this.host.dropped(goneClient, dropped, `frames of streams ${why}`);
  }

  /**
   * This client's streams; with `acceptorOnly`, those it accepted (to list each stream once);
   * of those, the `limit` after the first `offset`, of those whose id is greater than `afterId`.
   */
  streamInfos(acceptorOnly = false, offset = 0, limit = Number.POSITIVE_INFINITY, afterId = 0): StreamInfo[] {
    // By id (util/id-index.ts): a page after `afterId` costs its own streams, where a walk of `streams`
    // cost every stream before it too (up to maxStreamsPerClient of them, for each page).
    const keep = acceptorOnly ? (link: LinkedStream) => link.acceptorClient === this : undefined;
    this.byId ??= IdIndex.of(this.streams, (link) => link.id);
    return this.byId.page(afterId, offset, limit, this.streams.size, keep).map((link) => {
      const acc = link.acceptorClient;
      const dial = link.dialerClient;
      return {
        id: link.id,
        dialer: { domain: dial.domain, ip: link.dialer[0], port: link.dialer[1] },
        acceptor: { domain: acc.domain, ip: link.acceptor[0], port: link.acceptor[1] },
        caps: link.caps,
        since: link.since,
      };
    });
  }

  /** A PingDomain ACK addressed to the switcher: completes the liveness ping with that id. */
  completeProbe(id: number): boolean {
    return this.liveness.complete(id);
  }

  // ------------------------------------------------------------------ streams statistic

  /**
   * Whether one more stream of `a` and `b` would be one too many for either (the router refuses
   * it then, so that every stream that passes is linked, and ended when an end leaves).
   */
  static overLimit(a: SwitcherClient, b: SwitcherClient, max: number): boolean {
    return a.streams.size >= max || b.streams.size >= max;
  }

  /**
   * Records a stream between `a` and `b` (a successful OpenStream ACK passed), within the limit
   * the router checked (overLimit).
   */
  static link(a: SwitcherClient, b: SwitcherClient, key: string, ack?: Frame, caps = 0, fins = 0): void {
    if (a.streams.has(key)) return;
    // `a` sent the OpenStream ACK: it is the acceptor, its address is the ACK's source.
    const acceptor = [ack?.srcIP ?? a.ip, ack?.srcPort ?? 0] as const;
    const dialer = [ack?.dstIP ?? b.ip, ack?.dstPort ?? 0] as const;
    const since = Date.now();
    const id = ++SwitcherClient.linked;
    const link: LinkedStream = {
      acceptorClient: a,
      dialerClient: b,
      acceptor,
      dialer,
      caps,
      since,
      id,
      fins,
    };
    a.streams.set(key, link);
    b.streams.set(key, link);
    a.byId?.push(id, key, a.streams.size);
    if (b !== a) b.byId?.push(id, key, b.streams.size);
    // The addresses are a new stream's: a close of an earlier one on them was answered or is lost.
    // Dropped once the stream is recorded, so that neither end looks idle (trimIfIdle) meanwhile.
    if (a.closing.size !== 0) SwitcherClient.dropClose(a, key);
    if (b.closing.size !== 0) SwitcherClient.dropClose(b, key);
    a.accepted++;
    a.stats.streamsOpened++;
    if (b !== a) b.stats.streamsOpened++;
  }

  /**
   * A FIN passed from `from`. A stream that negotiated FIN_RELEASE ends without a close once both
   * ends sent one (docs/protocol.md), so that is when it is forgotten.
   */
  static noteFin(from: SwitcherClient, to: SwitcherClient, key: string, f: Frame): void {
    const link = from.streams.get(key);
    if (link === undefined || to.streams.get(key) !== link) return;
    link.fins |= f.srcIP === link.dialer[0] && f.srcPort === link.dialer[1] ? 1 : 2;
    const release = Caps.HALF_CLOSE | Caps.FIN_RELEASE;
    if (link.fins === 3 && (link.caps & release) === release) SwitcherClient.unlink(from, to, key);
  }

  /**
   * Forgets a stream (a close or reset passed, or both FINs of a releasing stream); whether it was
   * linked. `close`, a v3 close from `a` to `b`, is kept for its close-ACK (noteClose) before
   * either end is found idle: kept after, it left both ends trimming their queues (trimIfIdle)
   * while still owed that ACK.
   */
  static unlink(a: SwitcherClient, b: SwitcherClient, key: string, close?: Frame): boolean {
    const link = a.streams.get(key);
    if (link === undefined || b.streams.get(key) !== link) return false;
    a.streams.delete(key);
    b.streams.delete(key);
    SwitcherClient.forgetIds(a);
    SwitcherClient.forgetIds(b);
    link.acceptorClient.accepted--;
    SwitcherClient.forgetRoute(link);
    if (close !== undefined) SwitcherClient.noteClose(a, b, key, close);
    SwitcherClient.trimIfIdle(a);
    SwitcherClient.trimIfIdle(b);
    return true;
  }

  /**
   * `c`'s last stream is gone: its page index (byId), if a page made one, goes with it. Kept, it
   * held the ids and keys of the streams that ended until they outnumbered the live
   * (util/id-index.ts), which a node with a few streams at a time never reached: ~150 B per
   * stream it had had (`bench/scale.mjs`: 215 B of switcher heap per closed stream, 65 B before).
   */
  private static forgetIds(c: SwitcherClient): void {
    if (c.streams.size === 0) c.byId = null;
  }

  /**
   * `c` has no stream, dial or close in flight through the switcher: its outbox may forget the
   * queues of the nodes it talked to (Outbox.trimSoon), as their frames have gone out.
   */
  private static trimIfIdle(c: SwitcherClient): void {
    if (c.idle) c.outbox.trimSoon();
  }

  /**
   * Open, with no stream, dial, kept close or owed close-ACK through the switcher (trimIfIdle; the
   * outbox asks again when its deferred trim runs).
   */
  private get idle(): boolean {
    if (this.state !== 'open' || this.streams.size !== 0 || this.opening.size !== 0) return false;
    return this.closing.size === 0 && this.owes.size === 0;
  }

  /**
   * The dial of `dialer` to `acceptor` ended without a stream (refused, given up by the dialer, or
   * forbidden by new access rules) and its route is gone: the dialer may have nothing in flight
   * now, and the acceptor (never made busy by the dial) holds the queue the open came through.
   * Each that is idle lets go of its empty queues (trimIfIdle), as both ends of an unlink do.
   * Not in dropRoute itself: the router drops an answered dial's route just before linking its
   * stream, and a check there would find the dialer idle just before it is busy again.
   */
  static dialEnded(dialer: SwitcherClient, acceptor: SwitcherClient): void {
    SwitcherClient.trimIfIdle(dialer);
    if (acceptor !== dialer) SwitcherClient.trimIfIdle(acceptor);
  }

  /**
   * A v3 close `f` of a linked stream passed from `closer` to `peer`: its close-ACK, as `peer`
   * would send it, is kept until it passes (dropClose) or an access reload sends it instead. The
   * key should have no close kept (link() cleared it, and only the first close or reset of a link
   * unlinks it); one kept all the same is replaced at both its ends. Only overwritten in
   * `closing`, it stayed in its peer's `owes`: that peer never looked idle again, and at its leave
   * answered the stale close and forgot the closer's newer one (kept under the same key).
   */
  static noteClose(closer: SwitcherClient, peer: SwitcherClient, key: string, f: Frame): void {
    if (closer === peer) return;
    // No lookup for a closer with no close kept (most closes).
    const old = closer.closing.size === 0 ? undefined : closer.closing.get(key);
    if (old !== undefined) {
      // Deleted, not overwritten, so that the new close is the newest for MAX_CLOSING.
      closer.closing.delete(key);
      old.peer.owes.delete(old);
      if (old.peer !== peer) SwitcherClient.trimIfIdle(old.peer);
    } else if (closer.closing.size >= MAX_CLOSING) {
      const oldest = closer.closing.values().next().value;
      if (oldest !== undefined) SwitcherClient.forgetClose(oldest);
    }
    // Ports only: the close-ACK's header is built in the rare reload that sends it, not per close.
    const kept: ClosingStream = { closer, peer, key, srcPort: f.srcPort, dstPort: f.dstPort };
    closer.closing.set(key, kept);
    peer.owes.add(kept);
  }

  /** Forgets `closer`'s kept close of stream `key`, if any (its close-ACK passed, or it is over). */
  static dropClose(closer: SwitcherClient, key: string): void {
    const kept = closer.closing.get(key);
    if (kept !== undefined) SwitcherClient.forgetClose(kept);
  }

  /** Forgets the kept close `kept`, at its closer and at its peer. */
  static forgetClose(kept: ClosingStream): void {
    kept.closer.closing.delete(kept.key);
    kept.peer.owes.delete(kept);
    SwitcherClient.trimIfIdle(kept.closer);
    SwitcherClient.trimIfIdle(kept.peer);
  }

  /**
   * Sends the close-ACK of the kept close `kept` to its closer, as its peer would send it (the
   * peer left, or an access reload keeps the two apart). The caller forgets `kept`.
   */
  static answerClose(kept: ClosingStream): void {
    const ack = header(Cmd.CLOSE_ACK, kept.closer.ip, kept.srcPort, kept.peer.ip, kept.dstPort, 0);
    kept.closer.sendAs(kept.peer, ack, EMPTY);
  }

  /** Forgets the early frames held on `route` (a route of `dialer`); the caller sent or dropped them. */
  static releaseHeld(dialer: SwitcherClient, route: OpeningRoute): void {
    if (route.held === null) return;
    route.to.heldFor.delete(route);
    dialer.heldEarly -= route.heldBytes;
    route.heldBytes = 0;
    route.held = null;
  }

  /**
   * Records `route`, a dial of `dialer` in flight. The port has none: every open first ends the
   * route its port had (Router.route).
   */
  static addRoute(dialer: SwitcherClient, route: OpeningRoute): void {
    dialer.opening.set(route.port, route);
    if (route.early) dialer.earlyRoutes++;
    route.to.routesIn.set(route, dialer);
  }

  /**
   * The dialer gave up an early dial before its ACK: the route carries no early data any more and
   * stops counting against MAX_OPENING_ROUTES, but still tracks the dial as an ordinary one, so
   * that its late ACK (which the dialer answers with a close) still makes the stream.
   */
  static endEarly(dialer: SwitcherClient, route: OpeningRoute): void {
    SwitcherClient.releaseHeld(dialer, route);
    if (!route.early) return;
    route.early = false;
    route.ended = true;
    dialer.earlyRoutes--;
  }

  /**
   * `pinger`'s ping `f` goes to `target`: its answer will be let through (pingsOut), and the
   * ping answered if `target` leaves first when it named a domain (`byDomain`, pingsIn). The
   * router has ended the ping that had its id before (pingIdReused, for every ping it reads).
   */
  static notePing(pinger: SwitcherClient, f: Frame, target: SwitcherClient, byDomain: boolean): void {
    const pings = pinger.pingsOut;
    const ping: PingOut = { pinger, target, id: f.srcPort, dstPort: f.dstPort, byDomain };
    pings.set(ping.id, ping);
    target.pingsIn.add(ping);
    if (pings.size > MAX_PINGS_OUT) SwitcherClient.forgetPing(pings.values().next().value as PingOut);
  }

  /**
   * `pinger` sent a new ping with id `id`: the one it had in flight with that id, if any, is over
   * for it (timed out), and is forgotten. Else the leave of that ping's target answered the new
   * one, whoever it went to (a pinger matches answers by id alone), say a ping of the switcher
   * itself, which Go nodes make with ids from the same pool as their other pings.
   */
  static pingIdReused(pinger: SwitcherClient, id: number): void {
    const old = pinger.pingsOut.size === 0 ? undefined : pinger.pingsOut.get(id);
    if (old !== undefined) SwitcherClient.forgetPing(old);
  }

  /** Forgets `ping` at both its ends. */
  private static forgetPing(ping: PingOut): void {
    ping.pinger.pingsOut.delete(ping.id);
    ping.target.pingsIn.delete(ping);
  }

  /**
   * Answers `ping`, which its target will not answer (it left, or the access rules now drop its
   * answer), as the switcher answers a ping of a domain nobody holds, behind what the target sent
   * first, as its answer would have come. Only a ping that named a domain (PingOut.byDomain).
   */
  static answerPingNotFound(ping: PingOut): void {
    if (!ping.byDomain) return;
    const h = header(Cmd.PING_ACK, ping.pinger.ip, ping.id, SWITCHER_IP, ping.dstPort, NOT_FOUND.length);
    ping.pinger.sendAs(ping.target, h, NOT_FOUND);
  }

  /**
   * Forgets and answers (answerPingNotFound) each ping passed on to `target` whose pinger
   * `mayTalk` keeps apart from it now (Switcher.setAccess): the router drops the target's answer.
   * Returns how many it answered.
   */
  static answerForbiddenPings(target: SwitcherClient, mayTalk: (a: string, b: string) => boolean): number {
    let answered = 0;
    for (const ping of [...target.pingsIn]) {
      if (ping.pinger === target || mayTalk(ping.pinger.domain, target.domain)) continue;
      SwitcherClient.forgetPing(ping);
      SwitcherClient.answerPingNotFound(ping);
      if (ping.byDomain) answered++;
    }
    return answered;
  }

  /** Whether `from`'s answer to ping `id` of `pinger` answers a ping that went to it; forgets it if so. */
  static takePing(pinger: SwitcherClient, id: number, from: SwitcherClient): boolean {
    const ping = pinger.pingsOut.get(id);
    if (ping?.target !== from) return false;
    SwitcherClient.forgetPing(ping);
    return true;
  }

  /** `dialer`'s dial from `port` goes untracked (Router.trackDial). */
  static noteUntracked(dialer: SwitcherClient, port: number): void {
    dialer.untracked ??= new Uint8Array(65536 / 8);
    const bit = 1 << (port & 7);
    if ((dialer.untracked[port >> 3] & bit) !== 0) return;
    dialer.untracked[port >> 3] |= bit;
    dialer.untrackedDials++;
  }

  /**
   * Forgets `dialer`'s untracked dial from `port` (answered, or replaced by a new dial from the
   * port); whether there was one.
   */
  static takeUntracked(dialer: SwitcherClient, port: number): boolean {
    const bits = dialer.untracked;
    const bit = 1 << (port & 7);
    if (bits === null || (bits[port >> 3] & bit) === 0) return false;
    bits[port >> 3] &= ~bit;
    if (--dialer.untrackedDials === 0) dialer.untracked = null;
    return true;
  }

  /** Forgets the route of `dialer`'s dial from `port`, if any, with the frames it holds. */
  static dropRoute(dialer: SwitcherClient, port: number): void {
    const route = dialer.opening.get(port);
    if (route === undefined) return;
    SwitcherClient.releaseHeld(dialer, route);
    dialer.opening.delete(port);
    if (route.early) dialer.earlyRoutes--;
    route.to.routesIn.delete(route);
  }

  /** The route of a linked stream's dial, if it still has one, ends with it. */
  private static forgetRoute(link: LinkedStream): void {
    const dialer = link.dialerClient;
    if (dialer.opening.size === 0) return;
    const route = dialer.opening.get(link.dialer[1]);
    if (route?.to === link.acceptorClient && route.dstPort === link.acceptor[1]) {
      SwitcherClient.dropRoute(dialer, link.dialer[1]);
    }
  }

  // ------------------------------------------------------------------ lifecycle

  /** Graceful: stop routing, flush what is queued, then close the transport. */
  close(reason: LeaveReason, err?: Error): void {
    if (this.state !== 'open') return;
    // The switcher's own verdicts on a silent client are logged when made: the client is routed
    // no more and its domain is free now, while 'client left' waits for its connection to end,
    // which for a peer that went dark can take the transport's close timeout. (A kick and an
    // eviction have their own lines.)
    if (reason === 'unresponsive' || reason === 'idle') {
      // Its failure kept in (the switcher's logger is a containedLogger): this runs in a timer, where a logger that throws (a closed pipe)
      // ended the process, and the silent client was never closed.
      this.host.logger.warn(
        { domain: this.domain, ip: this.ip, reason, ...(err && errorFields(err)) },
        'closing client',
      );
    }
    if (reason === 'shutdown') this.step(() => this.resetOwnStreams());
    this.leave(reason, err);
    // A node the switcher stops is healthy, and its queue holds the resets of its streams: it
    // gets all of it. Any other is being dropped (stuck, silent, kicked): what it had not taken
    // is lost with it and counted so, at its teardown.
    this.step(() => {
      if (reason === 'shutdown') this.outbox.flushAll();
      else this.outbox.scheduler.flush();
    });
    // Read on until the peer's end so unread bytes never turn our FIN into a reset.
    this.gate.shutDown();
    this.transport.resumeReading();
    this.transport.close();
  }

  /**
   * The switcher is shutting down: our streams that took resets are reset here too, as if from
   * their other ends, with SHUTDOWN_RESET, ahead of what we are sent last (the other ends hear it
   * from unroute()). Without this, the ends at the client closed first failed with the bare end
   * of the connection, as after a crash, and only the others learnt the switcher was stopping.
   * Plain v3 streams are left to the end of the connection: their only end is a CloseStream,
   * which reads as a clean end and would hide what was lost.
   */
  private resetOwnStreams(): void {
    const byPeer = new Map<SwitcherClient, Orphans>();
    for (const [key, link] of this.streams) {
      const peer = peerOf(link, this);
      if (peer === this || (link.caps & Caps.RESET) === 0) continue;
      let orphans = byPeer.get(peer);
      if (orphans === undefined) {
        orphans = { keys: [], links: [], plain: [] };
        byPeer.set(peer, orphans);
      }
      orphans.keys.push(key);
      orphans.links.push(link);
    }
    for (const [peer, orphans] of byPeer) this.endOrphans(orphans, peer, SHUTDOWN_RESET);
  }

  /** Abrupt: drop the connection now. */
  destroy(reason: LeaveReason, err?: Error): void {
    if (this.state === 'closed') return;
    if (this.state === 'open') this.leave(reason, err);
    this.transport.destroy(err);
  }

  private leave(reason: LeaveReason, err: Error | undefined): void {
    this.state = 'closing';
    this.leaveReason = reason;
    this.leaveError = err;
    this.step(() => this.host.detach(this));
    this.step(() => this.outbox.releaseSources());
    this.step(() => this.unroute());
    // A ping out to us (a claimant of our domain waits on it) gets no answer we would read now:
    // settle it at once rather than at its timeout or at our connection's end.
    this.step(() => this.liveness.failAll());
  }

  private teardown(err: Error | undefined): void {
    if (this.state === 'closed') return;
    const reason = this.leaveReason ?? (err ? (hungUp(err) ? 'reset' : 'error') : 'closed');
    const error = this.leaveError ?? err;
    if (this.state === 'open') this.step(() => this.host.detach(this));
    this.state = 'closed';
    this.stopTimers();
    this.step(() => this.gate.shutDown());
    this.step(() => this.dropQueued());
    // Before our queues at the survivors are forgotten: their closes go behind our frames there.
    this.step(() => this.unroute());
    this.step(() => {
      for (const dst of this.feeds) {
        dst.outbox.forget(this);
        dst.feeders.delete(this);
      }
      this.feeds.clear();
      for (const src of this.feeders) src.feeds.delete(this);
      this.feeders.clear();
    });
    this.step(() => this.liveness.failAll());
    this.host.left(this, reason, error);
  }

  /**
   * One step of a leave or teardown. A bug of ours in one (unroute, the outbox) threw out of the
   * transport's handler, an uncaught exception that ended the process of a switcher serving
   * thousands, and skipped the rest: the registry kept the client (its IP and a `leaving` entry
   * for good, so a close waited out its timeout), survivors kept routes and queues to it, and a
   * kicked client's connection was never closed. Reported instead, and the next step runs. Once
   * per step of a leave, never per frame.
   */
  private step(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.host.teardownFailed(this, err);
    }
  }

  /** Frames other nodes sent us that had not left: lost with us, and counted as the router's are. */
  private dropQueued(): void {
    const lost = this.outbox.close();
    if (lost > 0) this.host.dropped(this, lost, 'frames queued for a node that left');
  }

  /**
   * Our transport closed under us (its peer ended its side, or it failed), found by our writer:
   * nothing queued for us can go out any more. It is let go of now, counted lost, and every
   * source it held back may read again: it stayed in memory and in the queued-bytes totals until
   * the connection ended, up to the transport's close timeout for a peer that reads no more, and
   * other nodes stayed paused on it until then. We stay routed until that end all the same:
   * frames the peer sent before its end may still be held unread (a WebSocket paused by
   * backpressure keeps its last messages), and they must still pass.
   */
  private transportLost(): void {
    if (this.state !== 'open') return;
    this.dropQueued();
    // Nor can a ping reach it: a claimant of our domain (our own next connection, say) need not
    // wait out livenessTimeout for an answer that cannot come.
    this.liveness.failAll();
  }

  /**
   * Nothing is routed from or to us any more (we are leaving, or gone): end what ran through us.
   * The other ends are told now, not when our connection ends, which can take the transport's
   * close timeout (a dead link, a node that does not read) while their frames to us go nowhere.
   * Runs at leave() and again, finding nothing left, at teardown.
   */
  private unroute(): void {
    // Our streams by survivor: each survivor's are ended in one batch (endOrphans), its resets
    // in one pass over our queue there. This runs once per stream, up to maxStreamsPerClient of
    // them in one turn: arrays per survivor, not a map per survivor.
    const ends = new Map<SwitcherClient, Orphans>();
    // Not when the switcher is shutting down (below): every other node's connection closes too.
    const inOurPlace = this.leaveReason !== 'shutdown';
    for (const [key, link] of this.streams) {
      const peer = peerOf(link, this);
      peer.streams.delete(key);
      SwitcherClient.forgetIds(peer);
      link.acceptorClient.accepted--;
      // At a shutdown a plain v3 stream ends with the connection at both ends (resetOwnStreams):
      // a CloseStream made the end closed later read a clean end where data may have been lost.
      if (peer !== this && (inOurPlace || (link.caps & Caps.RESET) !== 0)) addOrphan(ends, peer, key, link);
      SwitcherClient.forgetRoute(link);
    }
    this.streams.clear();
    this.byId = null;
    for (const [peer, orphans] of ends) peer.endOrphans(orphans, this);
    // Survivors that had a stream, close or dial in flight with us: once all of it is gone below,
    // each that has nothing left lets go of its empty queues (trimIfIdle), as after an unlink.
    // Else one kept busy only by us kept them until its outbox's sweep (every 64 new queues).
    const touched = new Set<SwitcherClient>(ends.keys());
    // Kept closes we took part in, at either end, go with us: our own, and those we owed.
    for (const kept of this.closing.values()) {
      kept.peer.owes.delete(kept);
      touched.add(kept.peer);
    }
    this.closing.clear();
    // A close we were sent and had not answered never will be: its stream was forgotten at the
    // close, so the ends above miss it, and its closer waited out its close timeout (2 s by
    // default, Go's too; PROTOCOL.md 5.2), stream and port held. It is answered here in our
    // place, behind what we sent first, as our answer would have come. A node ignores a
    // close-ACK of a stream it no longer has (PROTOCOL.md 5.4; flexmux alike), so one whose close
    // timed out meanwhile is unharmed.
    for (const kept of this.owes) {
      kept.closer.closing.delete(kept.key);
      touched.add(kept.closer);
      if (inOurPlace) SwitcherClient.answerClose(kept);
    }
    this.owes.clear();
    // Early frames held for us can go nowhere now; ours held for others are forgotten with us.
    for (const [route, dialer] of this.heldFor) {
      if (route.held !== null)
        this.host.dropped(dialer, route.held.length, 'early data for an acceptor that left');
      route.dropped = true;
      SwitcherClient.releaseHeld(dialer, route);
    }
    for (const [port, route] of [...this.opening]) {
      if (route.held !== null) this.host.dropped(this, route.held.length, 'early data of a dialer that left');
      SwitcherClient.dropRoute(this, port);
    }
    // Dials to us we did not answer never will be: refuse them as a domain that does not resolve,
    // or an IP dial as an IP that no node holds (from that IP, as the router refuses one). They
    // stand for our answers and queue with our frames: up to MAX_OPENING_ROUTES + MAX_DIAL_ROUTES
    // at once would overflow the dialer's control queue and close it. An early dial the dialer
    // ended is refused too: a reset ended its route already, so `ended` here is a v3 close, which
    // waits for the ACK (else the dialer's stream waited out its dial timeout); a dialer that gave
    // the dial up since drops a refusal it has no dial for. Not when the switcher is shutting
    // down: every dialer's connection is closed with ours, and its dial fails as a lost
    // connection, which is what happened; a refusal told it the domain did not resolve (exit 4
    // in `flexmux dial`, and no retry by a forwarding node) while its node was still there.
    for (const [route, dialer] of [...this.routesIn]) {
      if (inOurPlace && !route.acked && (!route.ended || route.early) && dialer !== this) {
        const [ip, text] = route.byIp ? [this.ip, NO_NODE] : [LOCAL_IP, RESOLVE_FAILED];
        dialer.sendAs(
          this,
          header(Cmd.OPEN_ACK, dialer.ip, route.port, ip, route.dstPort, text.length),
          text,
        );
      }
      SwitcherClient.dropRoute(dialer, route.port);
      touched.add(dialer);
    }
    // Pings to us we did not answer never will be: one that named our domain is answered as the
    // switcher answers a domain nobody holds, behind what we sent first, as our answer would have
    // come (not at a shutdown, as the dials above). Ours to others are forgotten with us.
    for (const ping of this.pingsIn) {
      ping.pinger.pingsOut.delete(ping.id);
      if (inOurPlace && ping.pinger !== this) SwitcherClient.answerPingNotFound(ping);
    }
    this.pingsIn.clear();
    for (const ping of this.pingsOut.values()) ping.target.pingsIn.delete(ping);
    this.pingsOut.clear();
    for (const c of touched) SwitcherClient.trimIfIdle(c);
  }

  /**
   * Periodic pings from the switcher: they fill `rtt`, and two unanswered in a row mean the
   * client is gone without a FIN. A client busy sending (busySending) is not judged: its answer
   * could be stuck behind data we are not reading; and a probe counts its frames as an answer.
   * One paused only because it holds others back is: it must take bytes meanwhile (probe).
   */
  private startPings(ms: number): void {
    let inFlight = false;
    let sentAt = 0;
    const wait = Math.min(ms, this.host.options.livenessTimeout);
    // A bug of ours in a ping (thrown here, or failing the ping's promise) is reported and the
    // next tick pings again: it threw out of the timer (an uncaught exception, which ends the
    // process) or was an unhandled rejection, and `inFlight`, left set, meant no ping for good.
    const failed = (err: unknown): void => this.host.timerFailed(this, err, 'ping');
    this.pingTimer = interval(() => {
      if (inFlight) return;
      try {
        if (this.state !== 'open' || this.busySending) return;
        // A frame since the last ping went out (its answer, come after the wait on a long round
        // trip) says the client lives: the next miss is the first in a row, not the second. Else a
        // client that answered every ping late was closed after two, each answer counted for none.
        if (this.missedPings > 0 && this.lastFrameAt >= sentAt) this.missedPings = 0;
        inFlight = true;
        sentAt = now();
        void this.probe(this.domain, wait)
          .then((ok) => this.pinged(ok, wait))
          .catch(failed)
          .finally(() => {
            inFlight = false;
          });
      } catch (err) {
        inFlight = false;
        failed(err);
      }
    }, ms);
  }

  /** A periodic ping's outcome: two missed in a row close the client. */
  private pinged(ok: boolean, wait: number): void {
    if (this.state !== 'open') return;
    this.missedPings = ok ? 0 : this.missedPings + 1;
    // With an error, as kicked or stalled clients have one: clientLeft listeners and the
    // admin event tell it from a clean hang-up (closing gracefully, it is not sent).
    if (this.missedPings >= 2) {
      this.close('unresponsive', new TimeoutError(`two pings in a row unanswered within ${wait} ms`));
    }
  }

  /** Checks in `ms` whether the client sent nothing for the whole idleTimeout. */
  private armIdle(ms: number): void {
    const pauses = this.gate.pauses;
    this.idleTimer = timeout(() => {
      this.idleTimer = undefined;
      if (this.state !== 'open') return;
      // Against the whole timeout, not `ms`: after a re-arm that is only what was left of it.
      const limit = this.host.options.idleTimeout;
      try {
        // Paused by backpressure (now, or since the last check), we were not reading its frames:
        // that silence is ours. A client that holds others back is the stall rule's business.
        const paused = this.gate.paused || this.gate.pauses !== pauses;
        const idle = paused ? 0 : now() - this.lastFrameAt;
        if (idle >= limit) this.close('idle', new TimeoutError(`sent nothing for ${limit / 1000} s`));
        else this.armIdle(limit - idle);
      } catch (err) {
        // A bug of ours: reported, not thrown out of the timer (which ended the process), and
        // checked again a whole timeout later, where it was never checked again.
        this.host.timerFailed(this, err, 'idle check');
        if (this.state === 'open' && this.idleTimer === undefined) this.armIdle(limit);
      }
    }, ms);
  }

  /** The first frame of command `cmd`: kept in order, so `framesByCmd` lists commands ascending. */
  private seen(cmd: number): void {
    let i = this.cmdSeen.length;
    while (i > 0 && this.cmdSeen[i - 1] > cmd) i--;
    this.cmdSeen.splice(i, 0, cmd);
  }

  /** The command bytes this client sent, ascending (those `framesByCmd` lists). */
  get commandsSeen(): readonly number[] {
    return this.cmdSeen;
  }

  counters(): ClientCounters {
    return {
      id: this.id,
      bytesIn: this.stats.bytesIn,
      bytesOut: this.outbox.bytesOut,
      streams: this.streams.size,
      queuedBytes: this.outbox.queuedBytes,
      rtt: this.liveness.rtt,
      streamsAccepted: this.accepted,
    };
  }

  info(): ClientInfo {
    const byCmd: Record<string, number> = {};
    for (const cmd of this.cmdSeen) byCmd[cmdName(cmd)] = this.cmdCounts[cmd];
    const s = this.stats;
    return {
      id: this.id,
      domain: this.domain,
      ip: this.ip,
      mac: this.mac,
      remoteAddress: this.transport.remoteAddress,
      connectedAt: this.connectedAt,
      streams: this.streams.size,
      streamsOpened: s.streamsOpened,
      earlyRoutes: this.earlyRoutes,
      bytesIn: s.bytesIn,
      bytesOut: this.outbox.bytesOut,
      framesIn: s.framesIn,
      framesOut: this.outbox.framesOut,
      framesByCmd: byCmd,
      dropped: s.dropped,
      spoofed: s.spoofed,
      queuedBytes: this.outbox.queuedBytes,
      paused: this.gate.paused,
      rtt: this.liveness.rtt,
    };
  }
}
