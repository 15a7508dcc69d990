import { cmdName } from '../wire/constants.js';
import type { SwitcherClient } from './client.js';

/**
 * Sums over the connected clients (those leaving included, see Switcher.clientTotals) of the
 * ClientInfo fields that Prometheus series total (admin/switcher-metrics.ts), read in one pass
 * straight from each client's counters: a `clients()` snapshot built an object per client, and
 * one more for its frame counts by command, only for a scrape to add them up.
 */
export interface ClientTotals {
  /** ClientInfo.streams summed (a stream counts at each end). */
  streams: number;
  /** Streams open, each counted once (ClientCounters.streamsAccepted summed). */
  openStreams: number;
  /** ClientInfo.streamsOpened summed. */
  streamsOpened: number;
  /** ClientInfo.framesIn summed. */
  framesIn: number;
  /** ClientInfo.framesOut summed. */
  framesOut: number;
  /**
   * ClientInfo.framesByCmd summed, keys in the order a walk over the clients' framesByCmd first
   * meets them (each client's ascending, clients in the order of `clients()`).
   */
  framesByCmd: Map<string, number>;
  /** ClientInfo.queuedBytes summed. */
  queuedBytes: number;
  /** The largest ClientInfo.queuedBytes; 0 with no client. */
  maxQueuedBytes: number;
  /** ClientInfo.earlyRoutes summed. */
  earlyRoutes: number;
  /** Clients whose reading is paused (ClientInfo.paused). */
  paused: number;
}

/**
 * The totals of the clients of every group (Switcher.clientTotals: the admitted ones, then those
 * leaving, whose connection has not ended).
 */
export function sumClients(...groups: Iterable<SwitcherClient>[]): ClientTotals {
  const t: ClientTotals = {
    streams: 0,
    openStreams: 0,
    streamsOpened: 0,
    framesIn: 0,
    framesOut: 0,
    framesByCmd: new Map(),
    queuedBytes: 0,
    maxQueuedBytes: 0,
    earlyRoutes: 0,
    paused: 0,
  };
  // By command byte first, named once at the end: a string key per client and command cost more.
  const byCmd = new Array<number>(256).fill(0);
  const order: number[] = [];
  for (const clients of groups) {
    for (const c of clients) {
      t.streams += c.streams.size;
      t.openStreams += c.accepted;
      t.streamsOpened += c.stats.streamsOpened;
      t.framesIn += c.stats.framesIn;
      t.framesOut += c.outbox.framesOut;
      const queued = c.outbox.queuedBytes;
      t.queuedBytes += queued;
      if (queued > t.maxQueuedBytes) t.maxQueuedBytes = queued;
      t.earlyRoutes += c.earlyRoutes;
      if (c.paused) t.paused++;
      for (const cmd of c.commandsSeen) {
        if (byCmd[cmd] === 0) order.push(cmd);
        byCmd[cmd] += c.cmdCounts[cmd];
      }
    }
  }
  for (const cmd of order) t.framesByCmd.set(cmdName(cmd), byCmd[cmd]);
  return t;
}
