import { ConfigError } from '../errors.js';
import { ownBytes } from '../util/bytes.js';
import type { Logger } from '../util/logger.js';
import { Caps, Cmd, cmdName, HEADER_SIZE, LOCAL_IP, SWITCHER_IP } from '../wire/constants.js';
import { normalizeDomain } from '../wire/domain.js';
import { encodeHeader, type Frame, header } from '../wire/frame.js';
import { decodeOpen, decodeOpenAck, encodeOpenError, rewriteOpenDomain } from '../wire/open.js';
import { decodePing, encodePingAck, PingErrorText } from '../wire/ping.js';
import { encodeReset } from '../wire/reset.js';
import { clipText } from '../wire/utf8.js';
import type { AccessPolicy } from './access.js';
import {
  MAX_DIAL_ROUTES,
  MAX_HELD_EARLY,
  MAX_OPENING_ROUTES,
  NO_NODE,
  NO_NODE_AT_IP,
  type OpeningRoute,
  openingRoute,
  RESOLVE_FAILED,
  SwitcherClient,
} from './client.js';
import { PEER_GONE_CODE, pairKey, REVOKED_RESET, streamEnd } from './orphans.js';
import { FRAME_COST } from './outbox.js';
import type { Registry } from './registry.js';

/**
 * The switcher's reader-loop semantics (PROTOCOL.md 7.4), applied to every frame of an admitted
 * client, with flexmux's fixes: frames whose source IP is not the sender's are dropped (12.1.2),
 * frames to IP 0 or to nobody are dropped and counted, and the optional dial rules are enforced.
 * Everything else is forwarded byte for byte, except the two rewrites Go does: a domain dial
 * (3.3) and a domain ping (6.2).
 */

/** Text of the OpenStream error ACK for a dial the access rules forbid. */
export const DIAL_NOT_ALLOWED = 'dial not allowed';
/** Text of the OpenStream error ACK for an IP dial to an IP no client holds (flexmux only). */
export { NO_NODE_AT_IP };

/** The router's frame counters, as `switcher.stats()` reports them. */
export interface RouterCounters {
  /** Frames forwarded to another client. */
  forwarded: number;
  /**
   * Frames dropped: unknown or invalid destination, forbidden, unmatched, or left undelivered by
   * a client's leave (its frames of streams reset at a survivor, early frames held for a dial).
   */
  dropped: number;
  /** Frames dropped because their source IP was not the sender's. */
  spoofed: number;
  /** Frames for the switcher itself that it does not handle (Go ignores them too). */
  ignored: number;
}

/** Key of a stream, the same from both ends: its two (IP, port) ends in ascending order. */
export function streamKey(f: Frame): string {
  return pairKey(f.srcIP, f.srcPort, f.dstIP, f.dstPort);
}

/**
 * The end of the stream an accepting ACK `f` opened, to its acceptor as if from the dialer
 * (orphans.ts streamEnd): a reset carrying `reset` where the ACK took RESET, else a CloseStream.
 */
function acceptorEnd(f: Frame, caps: number, reset?: Uint8Array): [Uint8Array, Uint8Array] {
  return streamEnd(caps, [f.srcIP, f.srcPort], [f.dstIP, f.dstPort], reset);
}

/**
 * Whether an OpenStream ACK from `from` answers the tracked dial `route`: dialers match ACKs by
 * port alone (PROTOCOL.md 3.2), so only one from the node and port the dial went to does.
 */
function answers(route: OpeningRoute, from: SwitcherClient, f: Frame): boolean {
  return route.to === from && route.dstPort === f.srcPort;
}

/** Payload of the reset an acceptor gets for a stream refused as one too many. */
const TOO_MANY_RESET = encodeReset(PEER_GONE_CODE, 'too many streams at the switcher');
const TOO_MANY_STREAMS = encodeOpenError('too many streams');
/** Commands of a stream's life after its open: what a dialer may send early, to FFFF. */
const STREAM_CMDS = new Set<number>([Cmd.DATA, Cmd.DATA_ACK, Cmd.CLOSE, Cmd.CLOSE_ACK, Cmd.FIN, Cmd.RESET]);
/** The refusal of a dial the access rules forbid (also revoke.ts, for dials in flight). */
export const NOT_ALLOWED: Uint8Array = encodeOpenError(DIAL_NOT_ALLOWED);

export class Router {
  readonly counters: RouterCounters = { forwarded: 0, dropped: 0, spoofed: 0, ignored: 0 };

  constructor(
    private readonly registry: Registry<SwitcherClient>,
    private readonly access: AccessPolicy,
    private readonly logger: Logger,
    /** Streams one client may have open through the switcher (maxStreamsPerClient). */
    private readonly maxStreams: number,
  ) {}

  route(from: SwitcherClient, f: Frame): void {
    if (f.srcIP !== from.ip) {
      from.stats.spoofed++;
      this.counters.spoofed++;
      this.logger.debug(
        { domain: from.domain, ip: from.ip, srcIP: f.srcIP, cmd: cmdName(f.cmd) },
        'dropped frame: source IP is not the sender',
      );
      return;
    }
    // A dial from a port ends any route the port had: the dialer gave that dial up, and the
    // route's refusal or ACK would be taken for this one (dialers match ACKs by port).
    if (f.cmd === Cmd.OPEN) {
      const given = from.opening.size === 0 ? undefined : from.opening.get(f.srcPort);
      if (given !== undefined) {
        // Early frames the route still held go nowhere now: counted as dropped, as any such.
        this.discard(from, given, 'early data of a dial given up for a new one');
        SwitcherClient.dropRoute(from, f.srcPort);
        // That dial ended without a stream, as a refused one does: its ends may be idle now. The
        // trim is deferred and asks again (Outbox.trimSoon), so the new dial, if it is tracked,
        // keeps the dialer's queues. Unchecked, a new dial refused here (no such node) left both
        // ends holding the empty queues of the old one until their next idle moment.
        SwitcherClient.dialEnded(from, given.to);
      }
      if (from.untrackedDials > 0) SwitcherClient.takeUntracked(from, f.srcPort);
    }
    // Likewise a ping ends the one its id had in flight, wherever either goes.
    if (f.cmd === Cmd.PING) SwitcherClient.pingIdReused(from, f.srcPort);
    if (f.dstIP === SWITCHER_IP) {
      this.toSwitcher(from, f);
      return;
    }
    const to = f.dstIP === LOCAL_IP ? undefined : this.registry.byIp(f.dstIP);
    if (to === undefined) {
      // Go drops an IP dial to nobody and the dialer waits out its timeout: answer it at once,
      // as that IP (the dialer matches the ACK by it). Any other frame to nobody is dropped.
      if (f.cmd === Cmd.OPEN && f.dstIP !== LOCAL_IP) {
        this.refuseOpen(from, f, f.dstIP, NO_NODE, 'no client has the destination IP');
        return;
      }
      this.drop(from, f, 'no client has the destination IP');
      if (f.cmd === Cmd.OPEN_ACK && f.dstIP !== LOCAL_IP) this.endAccepted(from, f);
      return;
    }
    if (f.cmd === Cmd.OPEN) {
      if (!this.access.mayDial(from.domain, to.domain)) {
        // Reply as the target would, so the dialer fails at once instead of timing out.
        this.refuseOpen(from, f, f.dstIP, NOT_ALLOWED, 'dial not allowed by the access rules');
        return;
      }
      if (SwitcherClient.overLimit(from, to, this.maxStreams)) {
        this.refuseOpen(from, f, f.dstIP, TOO_MANY_STREAMS, 'too many streams at either end');
        return;
      }
      // An IP dial names no domain (3.2), and the acceptor takes any name it carries as the
      // dialer's (3.4): a name the dialer chose would pass for another node's, so it gets the
      // dialer's own, as a domain dial does. Dialers that keep to the protocol are untouched.
      if (f.payload.length > 0 && f.payload[0] !== 0) {
        const payload = this.withDialerDomain(from, f);
        if (payload === null) return;
        f = { ...f, size: payload.length, payload };
      }
      this.trackDial(from, to, f, true);
    } else if (!this.access.mayTalk(from.domain, to.domain)) {
      this.drop(from, f, 'the access rules keep these nodes apart');
      if (f.cmd === Cmd.OPEN_ACK) this.endForbiddenAck(from, f);
      return;
    } else if (f.cmd === Cmd.PING_ACK && !SwitcherClient.takePing(to, f.dstPort, from)) {
      // The pinger would take it for the answer of the node it pinged, whoever sent it (6.1).
      this.drop(from, f, 'PingDomain ACK from a node the ping did not go to');
      return;
    } else if (f.cmd === Cmd.OPEN_ACK && (this.foreignAck(from, to, f) || this.refuseAck(from, to, f))) {
      return;
    }
    if (f.cmd === Cmd.PING) SwitcherClient.notePing(from, f, to, false);
    const payload = this.track(from, to, f);
    this.forward(from, to, encodeHeader(f), payload);
  }

  /**
   * An ACK to a port whose dial went to another node, or to another port: no answer to that dial.
   * Dialers match ACKs by port alone (3.2), so passed on it would be taken for the answer of the
   * dial: any node could answer other nodes' dials in place of their targets (a late ACK of a
   * dial given up, whose port a new dial took, would too). Dropped; an accepting one gets its
   * stream ended as if by the dialer, as a reply: the dialer sent nothing on that stream for the
   * end to wait behind, and queued in the dialer's place a flood of such ACKs from a node that
   * does not read would pause the dialer (its control queue bounds it instead).
   */
  private foreignAck(from: SwitcherClient, to: SwitcherClient, f: Frame): boolean {
    const route = to.opening.get(f.dstPort);
    if (route === undefined || answers(route, from, f)) return false;
    this.drop(from, f, 'OpenStream ACK from a node the dial did not go to');
    const ack = decodeOpenAck(f.payload);
    if (ack.ok) {
      const [end, payload] = acceptorEnd(f, ack.caps);
      from.sendControl(end, payload);
    }
    return true;
  }

  /**
   * An accepting ACK between two nodes the access rules keep apart: the answer to a dial that new
   * rules refused in flight (Switcher.setAccess), or one sent unasked. Dropped, it would leave the
   * acceptor's stream open for good with nothing coming: ended as if by the dialer, as a reply (the
   * dialer's frames to it are dropped too, so there is nothing for the end to wait behind).
   */
  private endForbiddenAck(from: SwitcherClient, f: Frame): void {
    const ack = decodeOpenAck(f.payload);
    if (!ack.ok) return;
    const [end, payload] = acceptorEnd(f, ack.caps, REVOKED_RESET);
    from.sendControl(end, payload);
  }

  /**
   * An ACK accepting a stream that is one too many for either end (its dial passed below the
   * limit, and others were answered first): the dialer gets a refusal in its place, as if the
   * acceptor had refused, and the acceptor the end of the stream it accepted, as if the dialer had
   * given up (a reset where negotiated, else a close), each behind the frames of the other end.
   * So every stream that passes is linked, and ended at the survivor when one end leaves.
   */
  private refuseAck(from: SwitcherClient, to: SwitcherClient, f: Frame): boolean {
    // The limit first: below it (every ACK but a few) the payload is decoded once, in track().
    if (!SwitcherClient.overLimit(from, to, this.maxStreams) || from.streams.has(streamKey(f))) return false;
    const ack = decodeOpenAck(f.payload);
    if (!ack.ok) return false;
    const route = to.opening.get(f.dstPort);
    if (route !== undefined && answers(route, from, f)) {
      this.discard(to, route, 'early data of a stream refused as one too many');
      SwitcherClient.dropRoute(to, f.dstPort);
      SwitcherClient.dialEnded(to, from);
    } else if (route === undefined && to.untrackedDials > 0) {
      // The dialer gets its refusal: that untracked dial is answered too.
      SwitcherClient.takeUntracked(to, f.dstPort);
    }
    this.drop(from, f, 'too many streams at either end: the stream is refused');
    // Both are the switcher's own frames, not forwarded ones (the ACK was counted as dropped):
    // lost at a leave of their destination, they are no further drop (Outbox.sendAs).
    const refusal = header(Cmd.OPEN_ACK, f.dstIP, f.dstPort, f.srcIP, f.srcPort, TOO_MANY_STREAMS.length);
    to.sendAs(from, refusal, TOO_MANY_STREAMS);
    const [end, payload] = acceptorEnd(f, ack.caps, TOO_MANY_RESET);
    from.sendAs(to, end, payload);
    return true;
  }

  /**
   * An ACK accepting a dial of a client that left before it came (the ACK goes to nobody): the
   * acceptor's stream would hang half-alive (PROTOCOL.md 12.2), so it gets its end as if from the
   * dialer, as the survivor of a linked stream does (SwitcherClient.unroute). While the dialer's
   * connection has not ended, behind the frames it sent first (a v3 close must not overtake its
   * data, 5.3); after that, nothing of it is routed any more and the end goes as a reply.
   */
  private endAccepted(from: SwitcherClient, f: Frame): void {
    const ack = decodeOpenAck(f.payload);
    if (!ack.ok) return;
    const [end, payload] = acceptorEnd(f, ack.caps);
    const dialer = this.registry.retiredAt(f.dstIP);
    if (dialer?.state === 'closing') from.sendAs(dialer, end, payload);
    else from.sendControl(end, payload);
  }

  private forward(from: SwitcherClient, to: SwitcherClient, h: Uint8Array, payload: Uint8Array): void {
    if (to.forward(from, h, payload)) this.counters.forwarded++;
    else this.drop(from, { cmd: h[0], dstIP: to.ip }, 'destination is closing');
  }

  /**
   * Keeps the per-client stream counts (better than Go's opens minus closes, 7.6) and the
   * early-data routes; returns the payload to forward (an ACK on a route gets EARLY_ROUTED).
   */
  private track(from: SwitcherClient, to: SwitcherClient, f: Frame): Uint8Array {
    let payload = f.payload;
    if (f.cmd === Cmd.OPEN_ACK) {
      const ack = decodeOpenAck(f.payload);
      // `from` accepted a dial of `to`: is it one that offered early data?
      const route = to.opening.get(f.dstPort);
      let fins = 0;
      let held: Frame[] | null = null;
      const answered = route !== undefined && answers(route, from, f);
      // Without a route, the port's untracked dial (if any) is answered now, whatever the answer.
      const untracked =
        route === undefined && to.untrackedDials > 0 && SwitcherClient.takeUntracked(to, f.dstPort);
      if (answered && !route.early) {
        // A dial without early data is answered: there is nothing left to refuse if `from` leaves.
        SwitcherClient.dropRoute(to, f.dstPort);
      } else if (answered) {
        // An ACK without caps byte comes from a plain v3 acceptor, which takes no early data.
        const taken = ack.ok && payload.length > 5;
        if (taken) from.takesEarly = true;
        if (taken && !route.dropped) {
          // The dialer's early frames did come (or now go) this way: say so, even if the stream
          // is over. Without the mark, a dialer that sent early fails the stream.
          payload = payload.slice();
          payload[5] |= Caps.EARLY_ROUTED;
          held = route.held;
        } else {
          this.discard(to, route, 'early data for an acceptor that does not take it');
        }
        SwitcherClient.releaseHeld(to, route);
        if (!taken || route.ended || route.dropped) {
          SwitcherClient.dropRoute(to, f.dstPort);
          if (route.ended) {
            // The stream ended before its ACK: nothing to link.
            SwitcherClient.dialEnded(to, from);
            return payload;
          }
        } else {
          route.acked = true;
          fins = route.fins;
        }
      }
      // An ACK that answers no dial of `to` makes no stream: `to` did not dial (a Go node drops
      // it unanswered, 3.5), and linked, any node could use up another's maxStreamsPerClient.
      if (ack.ok && (answered || untracked)) SwitcherClient.link(from, to, streamKey(f), f, ack.caps, fins);
      // A refusal ended the dial, and its route went above: either end may be idle now.
      else if (answered) SwitcherClient.dialEnded(to, from);
      // Early frames held for this acceptor follow its open now that it has shown it takes them.
      if (held !== null)
        for (const g of held) this.forward(to, from, encodeHeader(g), this.track(to, from, g));
    } else if (f.cmd === Cmd.CLOSE || f.cmd === Cmd.RESET) {
      const key = streamKey(f);
      // A v3 close's ACK is still owed once the stream is forgotten: an access reload may have to
      // send it in the peer's place (revoke.ts answerForbiddenCloses).
      SwitcherClient.unlink(from, to, key, f.cmd === Cmd.CLOSE ? f : undefined);
      this.beforeAck(from, to, f, true);
    } else if (f.cmd === Cmd.CLOSE_ACK) {
      // No key string built for a closer with no close kept (most close-ACKs of a quiet node).
      if (to.closing.size !== 0) SwitcherClient.dropClose(to, streamKey(f));
    } else if (f.cmd === Cmd.FIN) {
      SwitcherClient.noteFin(from, to, streamKey(f), f);
      this.beforeAck(from, to, f, false);
    }
    return payload;
  }

  /**
   * A close, reset (`ending`) or FIN from a dialer whose early-data stream has no link yet (its ACK
   * has not passed): noted on the route, for the link the ACK makes or does not make. (A reset
   * along the route, to FFFF, ends the route at once instead: resetBeforeAck.) Once linked,
   * the link's own bookkeeping (noteFin, unlink) ends the route.
   */
  private beforeAck(from: SwitcherClient, to: SwitcherClient, f: Frame, ending: boolean): void {
    const route = from.opening.get(f.srcPort);
    if (route === undefined || route.acked || route.to !== to || route.dstPort !== f.dstPort) return;
    // On an ordinary dial's tracking `ended` means the dialer gave the dial up (a reset), so that
    // the acceptor's leave refuses it no more. A v3 close waits for the ACK as the dial does: the
    // dial is still refused then (SwitcherClient.unroute), or the dialer waited out its timeout.
    if (ending && (route.early || f.cmd === Cmd.RESET)) route.ended = true;
    else if (!ending) route.fins = 1;
  }

  /**
   * A stream frame to FFFF: a dialer's early data (or a later frame queued before its ACK came)
   * on a route, sent on to where the open went. Anything else to FFFF is not ours to route.
   */
  private routeEarly(from: SwitcherClient, f: Frame): boolean {
    if (!STREAM_CMDS.has(f.cmd)) return false;
    const route = from.opening.get(f.srcPort);
    // A dial that did not offer early data has no route for it, only its tracking.
    if (route === undefined || !route.early || route.dstPort !== f.dstPort) return false;
    const to = route.to;
    if (!this.access.mayTalk(from.domain, to.domain)) {
      this.drop(from, f, 'the access rules keep these nodes apart');
      return true;
    }
    const g: Frame = { ...f, dstIP: to.ip };
    if (f.cmd === Cmd.RESET && !route.acked) {
      this.resetBeforeAck(from, route, g);
    } else if (route.dropped) {
      this.drop(from, f, 'early data of a dial whose earlier early data was dropped');
    } else if (route.held !== null || (!route.acked && !to.takesEarly)) {
      this.hold(from, route, g);
    } else {
      this.forward(from, to, encodeHeader(g), this.track(from, to, g));
    }
    return true;
  }

  /**
   * A reset from the dialer before the ACK: it gave the dial up (a timeout, or its application
   * destroyed the stream), so nothing it sent needs the ACK's mark, and a flexmux dialer answers
   * that ACK, unmarked now, with a close. The early route ends at once, or an acceptor that never
   * answers would keep one of the dialer's MAX_OPENING_ROUTES until the port is reused or a client
   * leaves; it goes on as an ordinary dial's tracking, so that the ACK still makes the stream the
   * close then ends (unless the acceptor leaves first: the dial is not refused then, as the dialer
   * gave it up). The reset follows the open
   * where early frames go on at once; one held back (the acceptor may be a Go node) is dropped
   * with them, and that close ends the acceptor's stream.
   */
  private resetBeforeAck(from: SwitcherClient, route: OpeningRoute, g: Frame): void {
    const onward = !route.dropped && route.held === null && route.to.takesEarly;
    this.discard(from, route, 'early data of a dial reset before its ACK');
    SwitcherClient.endEarly(from, route);
    if (onward) this.forward(from, route.to, encodeHeader(g), this.track(from, route.to, g));
    else this.drop(from, g, 'reset of an early-data dial whose frames could not go on');
  }

  /**
   * An early frame for an acceptor that has not shown it takes early data (it holds the domain
   * since the dialer learnt it, and may be a Go node, which must not see extension frames): held
   * until its ACK, then sent on (a flexmux acceptor) or dropped with the route unmarked (plain
   * v3), so that the dialer fails the stream. Past MAX_HELD_EARLY held bytes per dialer, or with
   * the acceptor gone, the route's early frames are dropped, with the same outcome.
   */
  private hold(from: SwitcherClient, route: OpeningRoute, g: Frame): void {
    // Counted as the outbox counts a waiting frame (its objects too), and a small payload is
    // copied so that it does not keep the whole read buffer it came in alive.
    const size = HEADER_SIZE + g.payload.length + FRAME_COST;
    if (route.to.state !== 'open' || from.heldEarly + size > MAX_HELD_EARLY) {
      const why =
        route.to.state !== 'open'
          ? 'early data for an acceptor that left'
          : 'early data held for acceptors not known to take it is over its limit';
      this.discard(from, route, why);
      route.dropped = true;
      this.drop(from, g, why);
      return;
    }
    g.payload = ownBytes(g.payload);
    if (route.held === null) {
      route.held = [];
      route.to.heldFor.set(route, from);
    }
    route.held.push(g);
    route.heldBytes += size;
    from.heldEarly += size;
  }

  /** Drops the frames held on `route` (a route of `dialer`), counted and logged like any drop. */
  private discard(dialer: SwitcherClient, route: OpeningRoute, why: string): void {
    if (route.held === null) return;
    for (const g of route.held) this.drop(dialer, g, why);
    SwitcherClient.releaseHeld(dialer, route);
  }

  /** dst IP 0xFFFF (7.4): only OpenStream, PingDomain and the liveness ping's ACK mean something. */
  private toSwitcher(from: SwitcherClient, f: Frame): void {
    switch (f.cmd) {
      case Cmd.OPEN:
        this.openByDomain(from, f);
        return;
      case Cmd.PING:
        this.ping(from, f);
        return;
      case Cmd.PING_ACK:
        if (!from.completeProbe(f.dstPort)) this.drop(from, f, 'ping ACK matches no liveness ping');
        return;
      default:
        if (this.routeEarly(from, f)) return;
        this.counters.ignored++;
        from.stats.dropped++;
        this.logger.debug(
          { domain: from.domain, cmd: cmdName(f.cmd) },
          'ignored frame addressed to the switcher',
        );
    }
  }

  /** A domain dial (3.3): resolve, then rewrite dst IP and the domain, keeping window and caps (14.1). */
  private openByDomain(from: SwitcherClient, f: Frame): void {
    const req = decodeOpen(f.payload);
    const asked = req.domain;
    const domain = normalizeDomain(asked);
    // The rules name domains, so they are applied before the lookup: a forbidden name is refused
    // alike whether a node holds it or not, and the dialer learns no more than a ping tells it.
    if (domain !== null && !this.access.mayDial(from.domain, domain)) {
      this.refuseOpen(from, f, LOCAL_IP, NOT_ALLOWED, `dial to "${domain}" not allowed by the access rules`);
      return;
    }
    const to = domain === null ? undefined : this.registry.byDomain(domain);
    if (to === undefined) {
      this.refuseOpen(
        from,
        f,
        LOCAL_IP,
        RESOLVE_FAILED,
        `cannot resolve domain ${JSON.stringify(clipText(asked))}`,
      );
      return;
    }
    if (SwitcherClient.overLimit(from, to, this.maxStreams)) {
      this.refuseOpen(from, f, LOCAL_IP, TOO_MANY_STREAMS, 'too many streams at either end');
      return;
    }
    const payload = this.withDialerDomain(from, f);
    if (payload === null) return;
    if ((req.caps & Caps.EARLY_DATA) !== 0) {
      // Frames the dialer may send to FFFF from this port before the ACK follow this open.
      if (from.earlyRoutes >= MAX_OPENING_ROUTES) {
        this.refuseOpen(from, f, LOCAL_IP, TOO_MANY_STREAMS, 'too many early-data routes');
        return;
      }
      SwitcherClient.addRoute(from, openingRoute(to, f, true, false));
    } else {
      this.trackDial(from, to, f, false);
    }
    this.forward(from, to, header(Cmd.OPEN, to.ip, f.dstPort, f.srcIP, f.srcPort, payload.length), payload);
  }

  /**
   * Notes a dial without early data (`byIp`: an IP dial) from `from` to `to`, so that it is refused
   * at once if `to` leaves before answering (SwitcherClient.unroute) instead of waiting out the
   * dialer's timeout. Its ACK, a new dial from its port, or either client leaving forgets it; past
   * MAX_DIAL_ROUTES per dialer it is not tracked, and such a dial waits as it would in Go.
   */
  private trackDial(from: SwitcherClient, to: SwitcherClient, f: Frame, byIp: boolean): void {
    if (from.opening.size - from.earlyRoutes < MAX_DIAL_ROUTES) {
      SwitcherClient.addRoute(from, openingRoute(to, f, false, byIp));
    } else {
      SwitcherClient.noteUntracked(from, f.srcPort);
    }
  }

  /** The open's payload naming the dialer's registered domain; null (dropped) if it would not fit. */
  private withDialerDomain(from: SwitcherClient, f: Frame): Uint8Array | null {
    try {
      return rewriteOpenDomain(f.payload, from.domain);
    } catch (err) {
      // Only its refusal of a payload too long is the dialer's doing; a bug of ours is not its
      // frame to drop, counted against it with a wrong reason and never logged (Switcher.failed).
      if (!(err instanceof ConfigError)) throw err;
      this.drop(from, f, 'rewritten OpenStream payload would exceed the frame limit');
      return null;
    }
  }

  /**
   * Error ACK to the dialer: the request header with source and destination swapped and the
   * source IP set to `srcIP` (0 for a switcher refusal of a domain dial, exactly as Go, 3.3).
   */
  private refuseOpen(from: SwitcherClient, f: Frame, srcIP: number, text: Uint8Array, why: string): void {
    from.stats.dropped++;
    this.counters.dropped++;
    this.logger.debug({ domain: from.domain, port: f.dstPort, reason: why }, 'refused OpenStream');
    from.sendControl(header(Cmd.OPEN_ACK, f.srcIP, f.srcPort, srcIP, f.dstPort, text.length), text);
  }

  /** PingDomain to the switcher (6.2). */
  private ping(from: SwitcherClient, f: Frame): void {
    const asked = decodePing(f.payload);
    const answer = (error?: string): void => {
      const payload = encodePingAck(error);
      from.sendControl(header(Cmd.PING_ACK, f.srcIP, f.srcPort, f.dstIP, f.dstPort, payload.length), payload);
    };
    if (asked === '') {
      answer();
      return;
    }
    const domain = normalizeDomain(asked);
    if (domain === null) {
      answer(PingErrorText.INVALID_DOMAIN);
      return;
    }
    const to = this.registry.byDomain(domain);
    // A node the rules keep apart is not revealed.
    if (to === undefined || !this.access.mayTalk(from.domain, to.domain)) {
      answer(PingErrorText.DOMAIN_NOT_FOUND);
      return;
    }
    // Forwarded with its payload unchanged: the target compares it itself (6.2).
    SwitcherClient.notePing(from, f, to, true);
    this.forward(
      from,
      to,
      header(Cmd.PING, to.ip, f.dstPort, f.srcIP, f.srcPort, f.payload.length),
      f.payload,
    );
  }

  /**
   * `n` frames from `from` dropped outside routing (a client's leave, SwitcherClient.unroute):
   * counted as any drop, here as well as in `from`'s stats, which go when `from` has left.
   */
  dropped(from: SwitcherClient, n: number, reason: string): void {
    from.stats.dropped += n;
    this.counters.dropped += n;
    this.logger.debug({ domain: from.domain, frames: n, reason }, 'dropped frames');
  }

  private drop(from: SwitcherClient, f: Pick<Frame, 'cmd' | 'dstIP'>, reason: string): void {
    from.stats.dropped++;
    this.counters.dropped++;
    this.logger.debug({ domain: from.domain, cmd: cmdName(f.cmd), dstIP: f.dstIP, reason }, 'dropped frame');
  }
}
