import { errorFields } from '../util/cause.js';
import type { Logger } from '../util/logger.js';
import { type TimerHandle, timeout } from '../util/timers.js';
import type { InspectableNode } from './config.js';

/** What a node's RTT pings go to, the label of flexmux_node_rtt_seconds (each at 0 from the start). */
export const RTT_TARGETS = ['switcher', 'peer'] as const;

export type RttTarget = (typeof RTT_TARGETS)[number];

/**
 * Periodic RTT pings from a node (PROTOCOL.md 6): one to the other end of its connection (the
 * switcher, or the peer of a direct link) and one to each domain its streams lead to, at most
 * `maxDomains` per round. A round starts only after the previous one settled, so a slow or dead
 * link never piles pings up.
 */
export class RttProbe {
  /** RTT to the other end of the connection, ms; null until answered or after a failure. */
  link: number | null = null;
  /** RTT to each peer domain, ms. */
  readonly peers = new Map<string, number | null>();
  onRtt: ((seconds: number, target: RttTarget) => void) | null = null;
  private timer: TimerHandle | null = null;
  private readonly abort = new AbortController();
  private stopped = false;
  private lastNode: InspectableNode | null = null;
  /** A connection came while a round was in flight: the next round starts at once (connected()). */
  private again = false;

  constructor(
    private readonly current: () => InspectableNode | null,
    private readonly interval: number,
    private readonly maxDomains: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.interval > 0 && !this.stopped) this.schedule(0);
  }

  /**
   * A new connection (a session's first admission, or a reconnection): its RTT is measured now.
   * Waiting for the next round left `totals.rttMs` null and the histogram without it for up to
   * `interval` (5 s by default) after every connection, and for a session still connecting when
   * the admin server started, the first round found no node. A round in flight runs again as
   * soon as it settles.
   */
  connected(): void {
    if (this.interval <= 0 || this.stopped) return;
    if (this.timer === null) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.abort.abort();
  }

  private schedule(ms: number): void {
    this.timer = timeout(() => {
      this.timer = null;
      this.again = false;
      const next = (): void => {
        if (!this.stopped) this.schedule(this.again ? 0 : this.interval);
      };
      this.round().then(next, (err: unknown) => {
        this.logger.warn(errorFields(err), 'admin RTT round failed');
        next();
      });
    }, ms);
  }

  private async round(): Promise<void> {
    const node = this.current();
    if (node !== this.lastNode) {
      this.link = null;
      this.peers.clear();
      this.lastNode = node;
    }
    if (node === null || node.closed) return;
    const domains = new Set<string>();
    for (const s of node.streamList()) {
      if (domains.size >= this.maxDomains) break;
      if (s.remoteDomain !== '' && s.remoteDomain !== node.domain) domains.add(s.remoteDomain);
    }
    for (const d of this.peers.keys()) if (!domains.has(d)) this.peers.delete(d);
    const wait = Math.max(1, Math.min(this.interval, node.options.pingTimeout));
    const ping = async (domain: string): Promise<number | null> => {
      try {
        const rtt = await node.ping(domain, { timeout: wait, signal: this.abort.signal });
        if (!this.stopped) this.onRtt?.(rtt / 1000, domain === '' ? 'switcher' : 'peer');
        return rtt;
      } catch (err) {
        this.logger.debug({ domain, ...errorFields(err) }, 'admin RTT ping failed');
        return null;
      }
    };
    const [link, ...peers] = await Promise.all([ping(''), ...[...domains].map((d) => ping(d))]);
    if (this.stopped || this.current() !== node) return;
    this.link = link;
    let i = 0;
    for (const d of domains) this.peers.set(d, peers[i++]);
  }
}
