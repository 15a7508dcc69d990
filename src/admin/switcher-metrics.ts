import { Counter, Histogram, type Registry } from 'prom-client';
import { HANDSHAKE_LISTENERS, HANDSHAKE_REFUSALS, onHandshakeRefused } from '../listener-refusals.js';
import { REFUSAL_REASONS } from '../switcher/admission.js';
import { type ClientInfo, LEAVE_REASONS, type LeaveReason } from '../switcher/client.js';
import type { RefusalInfo, Switcher, SwitcherStats } from '../switcher/switcher.js';
import type { ClientTotals } from '../switcher/totals.js';
import { one, RTT_BUCKETS, readCounter, readGauge, type Sample } from './metrics.js';

/**
 * Every place the router counts a frame in `dropped` (router.ts drop, dropped, refuseOpen and the
 * callers of Router.dropped in client.ts, switcher.ts and revoke.ts), named: it listed four of
 * them, and an operator seeing the count climb could not tell a refused dial from a lost frame.
 */
const DROPPED_HELP =
  'Frames from clients that went nowhere: to an IP no client holds (or IP 0); between nodes the access rules keep apart; an ACK matching no dial or ping (OpenStream ACK from a node the dial did not go to, PingDomain ACK from a node the ping did not go to, liveness ping ACK); an OpenStream the switcher answered with a refusal (no such node or domain, not allowed, too many streams or early-data routes) or whose rewritten domain would not fit; an accepting ACK refused as one stream too many; a frame for a destination that is closing; early data that could not go on (over the hold limit, its dial given up, reset or refused, or its acceptor not taking it or gone); and frames a client leaving or new access rules left undelivered (queued frames of streams reset at the other end, early data held for a dial, frames of other nodes still queued for the client that left). Spoofed frames count in frames_spoofed_total, frames to the switcher it ignores in frames_ignored_total.';

/** What one scrape reads of the switcher. */
interface Reading {
  totals: ClientTotals;
  stats: SwitcherStats;
}

/**
 * The switcher's Prometheus series (names listed in docs/admin.md). Per-client frame counts
 * vanish from the switcher's totals when a client leaves, so the final numbers its `clientLeft`
 * event carries are kept here and added to the live ones.
 *
 * Every series is a sum over clients, none per client, so a scrape's size does not grow with
 * them; its time does, with the one pass over the clients that sums their counters
 * (`clientTotals()`, no snapshot object per client). A scrape reads the switcher once:
 * prom-client runs every collect() in one synchronous pass, and the reading is dropped at the
 * next microtask (docs/admin.md, "Cost of a scrape").
 */
export class SwitcherMetrics {
  private reading: Reading | null = null;
  private readonly departed = { framesIn: 0, framesOut: 0, streamsOpened: 0 };
  private readonly departedByCmd = new Map<string, number>();
  private readonly refusals: Counter<'reason'>;
  private readonly left: Counter<'reason'>;
  private readonly internalErrors: Counter;
  private readonly handshakeRefusals: Counter<'transport' | 'reason'>;
  private readonly unhear: () => void;
  private readonly rtt: Histogram;
  private readonly onRefused = (r: RefusalInfo): void => this.refusals.inc({ reason: r.reason });
  private readonly onRtt = (ms: number): void => this.rtt.observe(ms / 1000);
  private readonly onError = (): void => this.internalErrors.inc();
  private readonly onLeft = (c: ClientInfo, reason: LeaveReason): void => {
    this.left.inc({ reason });
    this.departed.framesIn += c.framesIn;
    this.departed.framesOut += c.framesOut;
    this.departed.streamsOpened += c.streamsOpened;
    for (const [cmd, n] of Object.entries(c.framesByCmd)) {
      this.departedByCmd.set(cmd, (this.departedByCmd.get(cmd) ?? 0) + n);
    }
  };

  constructor(
    registry: Registry,
    private readonly switcher: Switcher,
  ) {
    const r = registry;
    const none: readonly never[] = [];
    readGauge(r, 'flexmux_switcher_uptime_seconds', 'Seconds since the switcher started.', none, () =>
      one(this.read().stats.uptime / 1000),
    );
    readGauge(r, 'flexmux_switcher_clients', 'Admitted clients connected now.', none, () =>
      one(this.read().stats.clients),
    );
    readGauge(
      r,
      'flexmux_switcher_pending_admissions',
      'Connections in admission now, a refused one until it has closed.',
      none,
      () => one(this.read().stats.pendingAdmissions),
    );
    readCounter(r, 'flexmux_switcher_admissions_total', 'Clients admitted since start.', none, () =>
      one(this.read().stats.admitted),
    );
    this.refusals = new Counter({
      name: 'flexmux_switcher_refusals_total',
      help: 'Connections refused admission since the admin server started, by reason.',
      labelNames: ['reason'] as const,
      registers: [r],
    });
    this.left = new Counter({
      name: 'flexmux_switcher_clients_left_total',
      help: 'Clients that left since the admin server started, by reason.',
      labelNames: ['reason'] as const,
      registers: [r],
    });
    // Every reason at 0 from the start: a series that first appears at 1 has no increase for
    // Prometheus to see, and `increase(...[5m]) > 0` missed the first refusal or departure of each
    // reason, the one an alert on a rare reason (error, unresponsive, rate-limited) is for.
    for (const reason of REFUSAL_REASONS) this.refusals.inc({ reason }, 0);
    for (const reason of LEAVE_REASONS) this.left.inc({ reason }, 0);
    // Before admission: a TLS or WebSocket listener's refusals were in the log only (a crowd
    // turned away, handshakes timing out, a certificate clients refuse, scanners at the port).
    this.handshakeRefusals = new Counter({
      name: 'flexmux_switcher_handshake_refusals_total',
      help: 'Connections a TLS or WebSocket listener closed before their handshake was done, so before admission (refusals_total), since the admin server started, by listener (tls, ws, wss) and reason.',
      labelNames: ['transport', 'reason'] as const,
      registers: [r],
    });
    for (const transport of HANDSHAKE_LISTENERS) {
      for (const reason of HANDSHAKE_REFUSALS[transport])
        this.handshakeRefusals.inc({ transport, reason }, 0);
    }
    this.unhear = onHandshakeRefused(switcher, (transport, reason) =>
      this.handshakeRefusals.inc({ transport, reason }),
    );
    // A bug of ours: otherwise one in admission showed in no series at all (no refusal, no
    // departure), and one in routing only as a departure for `error`, as a connection that
    // failed does. The switcher emits `error` for these, for one in a client's teardown or in
    // setAccess() ending what new rules forbid, and for nothing else.
    this.internalErrors = new Counter({
      name: 'flexmux_switcher_internal_errors_total',
      help: 'Faults of the switcher’s own (a throw in its admission, routing, a client’s teardown or an access reload’s enforcement, logged at error with the stack; its error event) since the admin server started.',
      registers: [r],
    });
    readGauge(
      r,
      'flexmux_switcher_client_streams',
      'Streams open through the switcher, summed over clients (a stream counts at each end).',
      none,
      () => one(this.read().totals.streams),
    );
    readGauge(
      r,
      'flexmux_switcher_streams',
      'Streams open through the switcher, each counted once.',
      none,
      () => one(this.read().totals.openStreams),
    );
    readCounter(
      r,
      'flexmux_switcher_streams_opened_total',
      'Streams opened through the switcher, counted at each end; clients that left count since the admin server started.',
      none,
      () => one(this.departed.streamsOpened + this.read().totals.streamsOpened),
    );
    readCounter(
      r,
      'flexmux_switcher_bytes_total',
      'Bytes received from and sent to clients.',
      ['direction'],
      () => {
        const s = this.read().stats;
        return [
          [{ direction: 'in' }, s.bytesIn],
          [{ direction: 'out' }, s.bytesOut],
        ];
      },
    );
    readCounter(
      r,
      'flexmux_switcher_frames_total',
      'Frames received from clients (in) and queued for them (out: a frame later lost when its client leaves counts here and in frames_dropped_total); clients that left count since the admin server started.',
      ['direction'],
      () => {
        const t = this.read().totals;
        return [
          [{ direction: 'in' }, this.departed.framesIn + t.framesIn],
          [{ direction: 'out' }, this.departed.framesOut + t.framesOut],
        ];
      },
    );
    readCounter(
      r,
      'flexmux_switcher_frames_received_total',
      'Frames received from clients, by command; clients that left count since the admin server started.',
      ['cmd'],
      () => this.framesByCmd(),
    );
    readCounter(r, 'flexmux_switcher_frames_forwarded_total', 'Frames forwarded between clients.', none, () =>
      one(this.read().stats.forwarded),
    );
    readCounter(r, 'flexmux_switcher_frames_dropped_total', DROPPED_HELP, none, () =>
      one(this.read().stats.dropped),
    );
    readCounter(
      r,
      'flexmux_switcher_frames_spoofed_total',
      'Frames dropped because their source IP was not the sender’s.',
      none,
      () => one(this.read().stats.spoofed),
    );
    readCounter(
      r,
      'flexmux_switcher_frames_ignored_total',
      'Frames addressed to the switcher that it does not handle.',
      none,
      () => one(this.read().stats.ignored),
    );
    readGauge(
      r,
      'flexmux_switcher_queued_bytes',
      'Bytes queued for clients, summed and the largest queue.',
      ['stat'],
      () => {
        const t = this.read().totals;
        return [
          [{ stat: 'sum' }, t.queuedBytes],
          [{ stat: 'max' }, t.maxQueuedBytes],
        ];
      },
    );
    readGauge(
      r,
      'flexmux_switcher_early_routes',
      'Early-data routes held for dials in progress or streams that sent early data.',
      none,
      () => one(this.read().totals.earlyRoutes),
    );
    readGauge(
      r,
      'flexmux_switcher_paused_clients',
      'Clients whose reading is paused by backpressure.',
      none,
      () => one(this.read().totals.paused),
    );
    this.rtt = new Histogram({
      name: 'flexmux_switcher_client_rtt_seconds',
      help: 'Round trips of the switcher’s liveness pings to clients (keep-alive and takeover probes), each answered one.',
      buckets: RTT_BUCKETS,
      registers: [r],
    });
    // Every answered ping, as it is answered: a sampler reading each client's last RTT would miss
    // those answered between two samples, and count twice one that happened to match the last.
    switcher.on('rtt', this.onRtt);
    switcher.on('refused', this.onRefused);
    switcher.on('clientLeft', this.onLeft);
    switcher.on('error', this.onError);
  }

  close(): void {
    this.switcher.off('rtt', this.onRtt);
    this.switcher.off('refused', this.onRefused);
    this.switcher.off('clientLeft', this.onLeft);
    this.switcher.off('error', this.onError);
    this.unhear();
  }

  private read(): Reading {
    if (this.reading === null) {
      this.reading = { totals: this.switcher.clientTotals(), stats: this.switcher.stats() };
      queueMicrotask(() => {
        this.reading = null;
      });
    }
    return this.reading;
  }

  private framesByCmd(): Sample<'cmd'>[] {
    // Departed clients' commands first, then live ones new to them: the order of the samples.
    const sums = new Map(this.departedByCmd);
    for (const [cmd, n] of this.read().totals.framesByCmd) sums.set(cmd, (sums.get(cmd) ?? 0) + n);
    return [...sums].map(([cmd, n]) => [{ cmd }, n] as const);
  }
}
