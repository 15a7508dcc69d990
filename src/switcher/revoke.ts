import { Cmd, LOCAL_IP } from '../wire/constants.js';
import { header } from '../wire/frame.js';
import type { AccessOptions } from './access.js';
import { type LinkedStream, SwitcherClient } from './client.js';
import { addOrphan, type Orphans, REVOKED_RESET } from './orphans.js';
import { NOT_ALLOWED } from './router.js';

/**
 * Streams that new access rules no longer allow (Switcher.setAccess). Dial rules are checked on
 * every frame between two nodes, so once a reload keeps two nodes apart the router drops every
 * frame of their open streams: without this, those streams stalled at both ends, their data lost
 * without a word, and each kept a slot of maxStreamsPerClient at both clients until one left.
 * Here they are ended at both ends at once, each end as if by the other, as the switcher ends the
 * streams of a node that left (orphans.ts): a reset (code 4) where the stream negotiated RESET,
 * else the v3 CloseStream, all a Go node knows; and the switcher forgets them.
 */

/** Why the frames of such streams still queued at the switcher were dropped (the drop counters). */
export const REVOKED_DROP = 'reset as the access rules no longer allow them';

/** What endForbidden did: streams ended, and the pairs of nodes they ran between. */
export interface Revoked {
  streams: number;
  pairs: { a: string; b: string; streams: number }[];
}

/** The ends `receiver` gets as if from `source`, grouped so that each pair is one batch. */
type Batches = Map<SwitcherClient, Map<SwitcherClient, Orphans>>;

function add(
  batches: Batches,
  receiver: SwitcherClient,
  source: SwitcherClient,
  key: string,
  link: LinkedStream,
): void {
  let bySource = batches.get(receiver);
  if (bySource === undefined) {
    bySource = new Map();
    batches.set(receiver, bySource);
  }
  addOrphan(bySource, source, key, link);
}

/**
 * Ends every stream between two of `clients` that `mayTalk` keeps apart now, at both ends, and
 * unlinks it (both clients' stream counts drop). Each end's reset goes ahead of the other end's
 * queued frames there, whose frames of the stream are dropped and counted (a reset discards them
 * anyway); a CloseStream goes behind them, as a v3 close follows its stream's data. Frames of
 * these streams that arrive later meet the rules and are dropped, as before, with nothing left to
 * hold. A node's stream to itself is never forbidden.
 */
export function endForbidden(
  clients: Iterable<SwitcherClient>,
  mayTalk: (a: string, b: string) => boolean,
): Revoked {
  const batches: Batches = new Map();
  const ended: [SwitcherClient, SwitcherClient, string][] = [];
  const pairs = new Map<string, { a: string; b: string; streams: number }>();
  for (const c of clients) {
    // Each stream once: from its acceptor.
    if (c.accepted === 0) continue;
    let allowed: Map<SwitcherClient, boolean> | undefined;
    for (const [key, link] of c.streams) {
      const dialer = link.dialerClient;
      if (link.acceptorClient !== c || dialer === c) continue;
      allowed ??= new Map();
      let ok = allowed.get(dialer);
      if (ok === undefined) {
        ok = mayTalk(c.domain, dialer.domain);
        allowed.set(dialer, ok);
      }
      if (ok) continue;
      add(batches, c, dialer, key, link);
      add(batches, dialer, c, key, link);
      ended.push([c, dialer, key]);
      const pairKey = `${dialer.id}-${c.id}`;
      const pair = pairs.get(pairKey);
      if (pair === undefined) pairs.set(pairKey, { a: dialer.domain, b: c.domain, streams: 1 });
      else pair.streams++;
    }
  }
  for (const [acceptor, dialer, key] of ended) SwitcherClient.unlink(acceptor, dialer, key);
  for (const [receiver, bySource] of batches) {
    for (const [source, orphans] of bySource)
      receiver.endOrphans(orphans, source, REVOKED_RESET, REVOKED_DROP);
  }
  return { streams: ended.length, pairs: [...pairs.values()] };
}

/** Dial rules as the log shows them: `from -> to`, patterns joined with commas. */
function ruleTexts(o: AccessOptions | undefined): string[] | null {
  if (o?.dial === undefined) return null;
  const side = (p: string | readonly string[]): string => (typeof p === 'string' ? p : p.join(','));
  return o.dial.map((r) => `${side(r.from)} -> ${side(r.to)}`);
}

/** Rules listed in a log line at most; the counts say how many there were. */
const MAX_LOGGED_RULES = 20;

/** An extra password as a log line names it: its place in the list and its domain patterns. */
interface LoggedPassword {
  index: number;
  domains: string[];
}

const patternList = (p: string | readonly string[]): string[] => (typeof p === 'string' ? [p] : [...p]);

/**
 * The extra passwords of `after` against those of `before`, each known by its place and its
 * patterns only: a password no longer there is `removed`, a new one `added` (one rotated is both,
 * at its place), and one kept whose domain patterns changed is in `domainsChanged` with the
 * patterns it `was` given. The passwords are compared here and never logged. Without it, a
 * reload that gave a team's password more domains, or rotated it, said only "1 before, 1 after".
 */
function passwordChange(before: AccessOptions | undefined, after: AccessOptions): Record<string, unknown> {
  const old = before?.passwords ?? [];
  const now = after.passwords ?? [];
  const kept = new Set<number>();
  const added: LoggedPassword[] = [];
  const domainsChanged: (LoggedPassword & { was: string[] })[] = [];
  now.forEach((p, index) => {
    const at = old.findIndex((q, i) => !kept.has(i) && q.password === p.password);
    const domains = patternList(p.domains);
    if (at < 0) {
      added.push({ index, domains });
      return;
    }
    kept.add(at);
    const was = patternList(old[at]?.domains ?? []);
    if (was.join('\n') !== domains.join('\n')) domainsChanged.push({ index, domains, was });
  });
  const removed = old.flatMap((q, index) =>
    kept.has(index) ? [] : [{ index, domains: patternList(q.domains) }],
  );
  return {
    before: old.length,
    after: now.length,
    removed: removed.slice(0, MAX_LOGGED_RULES),
    added: added.slice(0, MAX_LOGGED_RULES),
    domainsChanged: domainsChanged.slice(0, MAX_LOGGED_RULES),
  };
}

/**
 * What changed from access rules `before` to `after`, for the reload's log line: the dial rules
 * removed and added (patterns only), and the extra passwords removed, added and given other
 * domains (passwordChange: places and patterns, never the secrets). A side without dial rules at
 * all is `open` (every dial allowed, as in Go).
 */
export function ruleChange(before: AccessOptions | undefined, after: AccessOptions): Record<string, unknown> {
  const old = ruleTexts(before);
  const now = ruleTexts(after);
  const removed = old === null ? [] : old.filter((r) => now === null || !now.includes(r));
  const added = now === null ? [] : now.filter((r) => old === null || !old.includes(r));
  return {
    dialRules: { before: old === null ? 'open' : old.length, after: now === null ? 'open' : now.length },
    removed: removed.slice(0, MAX_LOGGED_RULES),
    added: added.slice(0, MAX_LOGGED_RULES),
    passwords: passwordChange(before, after),
  };
}

/**
 * Refuses the dials in flight (their acceptor has not answered) between two nodes `mayTalk` keeps
 * apart now, with `dial not allowed` as the router refuses a dial the rules forbid (a dial between
 * nodes that may still talk is left to complete: its ACK would pass). The dialer no longer waits
 * out its dial timeout for an answer the rules would drop. Their routes go, with the early
 * frames they held (counted through `dropped`). An acceptor that answers later gets the stream
 * it opened ended by the router. A dial the dialer gave up already (a reset, or a v3 close
 * waiting for the ACK on a dial without early data) only loses its route: as when its acceptor
 * leaves (SwitcherClient.unroute), the refusal would answer nothing. Returns how many it refused.
 */
export function refuseForbiddenDials(
  clients: Iterable<SwitcherClient>,
  mayTalk: (from: string, to: string) => boolean,
  dropped: (from: SwitcherClient, n: number, reason: string) => void,
): number {
  let refused = 0;
  for (const c of clients) {
    if (c.opening.size === 0) continue;
    for (const [port, route] of [...c.opening]) {
      if (route.acked || route.to === c || mayTalk(c.domain, route.to.domain)) continue;
      if (!route.ended || route.early) {
        const ip = route.byIp ? route.to.ip : LOCAL_IP;
        c.sendControl(header(Cmd.OPEN_ACK, c.ip, port, ip, route.dstPort, NOT_ALLOWED.length), NOT_ALLOWED);
        refused++;
      }
      if (route.held !== null)
        dropped(c, route.held.length, 'early data of a dial the access rules no longer allow');
      SwitcherClient.dropRoute(c, port);
      SwitcherClient.dialEnded(c, route.to);
    }
  }
  return refused;
}

/**
 * Answers, in the other end's place, the v3 closes in flight between two nodes `mayTalk` keeps
 * apart now. A close that passed the switcher just before the reload had its stream forgotten
 * then (endForbidden no longer sees it), and the router drops the close-ACK its peer sends back:
 * the closer waited out its close timeout (2 s by default, Go's too), its stream and port
 * held meanwhile. The close-ACK goes behind what the peer sent first, as the real one would.
 * Returns how many it answered.
 */
export function answerForbiddenCloses(
  clients: Iterable<SwitcherClient>,
  mayTalk: (a: string, b: string) => boolean,
): number {
  let answered = 0;
  for (const c of clients) {
    if (c.closing.size === 0) continue;
    for (const kept of [...c.closing.values()]) {
      if (mayTalk(c.domain, kept.peer.domain)) continue;
      SwitcherClient.forgetClose(kept);
      SwitcherClient.answerClose(kept);
      answered++;
    }
  }
  return answered;
}

/**
 * Answers, in the target's place, the pings in flight between two nodes `mayTalk` keeps apart
 * now: the router drops the target's answer, and the pinger waited out its ping timeout while a
 * dial between them is refused at once (refuseForbiddenDials). A ping that named a domain gets
 * `domain not found`, what the switcher answers such a ping from now on, behind what the target
 * sent first; one sent to the target's IP is forgotten unanswered, as one to an IP nobody holds
 * is dropped (SwitcherClient.answerPingNotFound). Returns how many it answered.
 */
export function answerForbiddenPings(
  clients: Iterable<SwitcherClient>,
  mayTalk: (a: string, b: string) => boolean,
): number {
  let answered = 0;
  for (const c of clients) {
    if (c.pingsIn.size > 0) answered += SwitcherClient.answerForbiddenPings(c, mayTalk);
  }
  return answered;
}
