import type { QueuedFrame } from '../scheduler.js';
import { Caps, Cmd } from '../wire/constants.js';
import { EMPTY, header } from '../wire/frame.js';
import { encodeReset } from '../wire/reset.js';
import type { LinkedStream, SwitcherClient } from './client.js';

/**
 * What the other ends of a departed client's linked streams get (SwitcherClient.unroute): frames
 * as if from the departed end, so that no stream hangs half-alive (PROTOCOL.md 12.2). A plain v3
 * stream gets a CloseStream behind what the departed end sent first; one that negotiated reset
 * gets a reset with code 4, ahead of the departed end's other queued frames (its frames of the
 * stream dropped), but behind the ACK that opens the stream.
 */

/** Reset code for a stream the switcher ends: its other end left, or it was refused (14.3). */
export const PEER_GONE_CODE = 4;

/** Payload of the reset a survivor gets when the other end of its stream left. */
export const GONE_RESET: Uint8Array = encodeReset(PEER_GONE_CODE, 'the other end left the switcher');

/**
 * Payload of that reset when the other end was closed because the switcher is shutting down:
 * the node at that end did not leave, and the survivor's application (and `flexmux dial`'s
 * message) must not blame it for a switcher that was stopped.
 */
export const SHUTDOWN_RESET: Uint8Array = encodeReset(PEER_GONE_CODE, 'the switcher is shutting down');

/**
 * Payload of the reset that ends a stream the access rules no longer allow (revoke.ts), at both
 * ends, and the stream an acceptor opened with an ACK they drop (Router).
 */
export const REVOKED_RESET: Uint8Array = encodeReset(
  PEER_GONE_CODE,
  'the access rules no longer allow this stream',
);

/** An (IP, port) end of a stream. */
type End = readonly [number, number];

/**
 * The end of a stream, to `to` as if from `from`: a reset carrying `reset` where the stream took
 * RESET (`caps`), else a CloseStream, all a plain v3 node knows (14.4). Header and payload.
 */
export function streamEnd(
  caps: number,
  to: End,
  from: End,
  reset: Uint8Array = GONE_RESET,
): [Uint8Array, Uint8Array] {
  if ((caps & Caps.RESET) === 0) return [header(Cmd.CLOSE, to[0], to[1], from[0], from[1], 0), EMPTY];
  return [header(Cmd.RESET, to[0], to[1], from[0], from[1], reset.length), reset];
}

/** Key of a stream, the same from both ends: its two (IP, port) ends in ascending order. */
export function pairKey(ipA: number, portA: number, ipB: number, portB: number): string {
  const a = ipA * 0x10000 + portA;
  const b = ipB * 0x10000 + portB;
  return a < b ? `${a}-${b}` : `${b}-${a}`;
}

/** The stream key of an encoded frame header (PROTOCOL.md 1.1: cmd, dst IP, port, src IP, port). */
function headerKey(h: Uint8Array): string {
  return pairKey((h[1] << 8) | h[2], (h[3] << 8) | h[4], (h[5] << 8) | h[6], (h[7] << 8) | h[8]);
}

/** The end of `link` that is not `c` (`c` itself for a node that dialled itself). */
export function peerOf(link: LinkedStream, c: SwitcherClient): SwitcherClient {
  return link.acceptorClient === c ? link.dialerClient : link.acceptorClient;
}

/** A departed client's streams with one survivor: those that negotiated reset, and the others. */
export interface Orphans {
  /** Streams that negotiated reset: keys and links alike. */
  readonly keys: string[];
  readonly links: LinkedStream[];
  /**
   * Plain v3 streams (no reset): each gets a CloseStream behind what `gone` sent first (7.5), as
   * a v3 node drops data that follows a close (5.3).
   */
  readonly plain: LinkedStream[];
}

/**
 * Adds `link` (under `key`) to the ends `peer` gets in one batch (SwitcherClient.endOrphans), by
 * whether it negotiated reset: a client's leave (unroute) and an access reload (revoke.ts).
 */
export function addOrphan(
  ends: Map<SwitcherClient, Orphans>,
  peer: SwitcherClient,
  key: string,
  link: LinkedStream,
): void {
  let orphans = ends.get(peer);
  if (orphans === undefined) {
    orphans = { keys: [], links: [], plain: [] };
    ends.set(peer, orphans);
  }
  if ((link.caps & Caps.RESET) !== 0) {
    orphans.keys.push(key);
    orphans.links.push(link);
  } else orphans.plain.push(link);
}

/**
 * The end of `link` for its survivor, as if from `gone`, which left without closing: a reset
 * (`reset`, the stream negotiated it) or a CloseStream (streamEnd), marked as the switcher's own
 * frame. Built here rather than through streamEnd: it runs once per stream, tens of thousands of
 * times in one turn, and the tuples on the way were most of its allocations.
 */
function goneEnd(link: LinkedStream, gone: SwitcherClient, reset: Uint8Array | null): QueuedFrame {
  const accGone = link.acceptor[0] === gone.ip;
  const from = accGone ? link.acceptor : link.dialer;
  const to = accGone ? link.dialer : link.acceptor;
  const payload = reset ?? EMPTY;
  const h = header(reset !== null ? Cmd.RESET : Cmd.CLOSE, to[0], to[1], from[0], from[1], payload.length);
  return { header: h, payload, rest: null, size: payload.length, own: true };
}

/** The CloseStreams of `orphans`' plain v3 streams, in order, to queue behind what `gone` sent. */
export function closePlan(orphans: Orphans, gone: SwitcherClient): QueuedFrame[] {
  const out: QueuedFrame[] = [];
  for (const link of orphans.plain) out.push(goneEnd(link, gone, null));
  return out;
}

/**
 * The frames `gone` has queued at the other end of `orphans`, as they go once it left
 * (Outbox.requeue). Streams that negotiated reset are reset with code 4, as if from `gone`, with
 * `reset` as the payload (GONE_RESET, or SHUTDOWN_RESET when the switcher closed `gone`). A
 * reset may overtake its stream's data and the node discards what it had not read of it (14.3),
 * so `gone`'s frames of these streams are dropped (the caller counts them), and the resets go
 * ahead of its other frames instead of waiting behind up to maxQueuePerSource of them; each behind
 * its stream's ACK if that is still queued (a reset ahead of it would find no stream, and the ACK
 * then made one that never ends). `gone`'s other frames keep their order, and the CloseStreams of
 * its plain v3 streams go behind them all (a v3 stream's data before its close, 7.5).
 */
export function resetPlan(
  frames: readonly QueuedFrame[],
  orphans: Orphans,
  gone: SwitcherClient,
  reset: Uint8Array = GONE_RESET,
): QueuedFrame[] {
  const { keys, links } = orphans;
  const acks = new Map<string, QueuedFrame>();
  const kept: QueuedFrame[] = [];
  // Usually the queue had drained: then there is nothing to sort out, only the ends to make.
  if (frames.length > 0) {
    const orphaned = new Set(keys);
    for (const f of frames) {
      const key = headerKey(f.header);
      if (!orphaned.has(key)) kept.push(f);
      else if (f.header[0] === Cmd.OPEN_ACK) acks.set(key, f);
    }
  }
  const front: QueuedFrame[] = [];
  for (let i = 0; i < links.length; i++) {
    const ack = acks.size === 0 ? undefined : acks.get(keys[i]);
    if (ack !== undefined) front.push(ack);
    front.push(goneEnd(links[i], gone, reset));
  }
  for (const f of kept) front.push(f);
  for (const link of orphans.plain) front.push(goneEnd(link, gone, null));
  return front;
}
