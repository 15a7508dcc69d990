import { LimitError, type ProtocolError } from '../errors.js';
import { Scheduler, type SchedulerSink, type StreamQueue } from '../scheduler.js';
import type { Transport } from '../transport/types.js';
import type { Logger } from '../util/logger.js';
import { now, type TimerHandle, timeout } from '../util/timers.js';
import { Cmd, cmdName, HEADER_SIZE, SWITCHER_IP } from '../wire/constants.js';
import { type Frame, writeHeader } from '../wire/frame.js';
import { encodePing } from '../wire/ping.js';
import type { FrameSink } from './admission.js';
import type { ResolvedSwitcherOptions } from './config.js';

/**
 * One admitted node as the switcher sees it (PROTOCOL.md 7.1): its transport, its outgoing
 * scheduler, its counters, and the liveness pings sent to it.
 *
 * Outgoing frames: switcher-made replies go to the control queue; frames forwarded from another
 * node go to one ordered queue per source, so each source->destination pair keeps its order (7.5)
 * and sources share the destination's link by deficit round robin. A source whose queue at a
 * destination grows past `maxQueuePerSource`, or that adds to a destination holding more than
 * `maxQueuePerClient`, has its reading paused until the backlog drains: backpressure, not drops.
 */

export type LeaveReason =
  | 'closed'
  | 'error'
  | 'kicked'
  | 'evicted'
  | 'shutdown'
  | 'idle'
  | 'protocol'
  | 'overflow';

/** A snapshot of one client for stats and admin. */
export interface ClientInfo {
  id: number;
  domain: string;
  ip: number;
  mac: string;
  remoteAddress: string;
  /** Unix ms. */
  connectedAt: number;
  /** Streams open through the switcher with this node at one end (successful opens minus closes). */
  streams: number;
  /** Successful opens this node took part in, in total. */
  streamsOpened: number;
  bytesIn: number;
  bytesOut: number;
  framesIn: number;
  framesOut: number;
  /** Received frames by command name. */
  framesByCmd: Record<string, number>;
  /** Frames from this node that went nowhere (unknown or invalid destination, refused). */
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
  /** Stop routing to `c` (it is closing). */
  detach(c: SwitcherClient): void;
  /** `c` is gone. Called once. */
  left(c: SwitcherClient, reason: LeaveReason, err: Error | undefined): void;
}

/** Streams tracked per client for the `streams` statistic; beyond this the count saturates. */
const MAX_TRACKED_STREAMS = 65_536;

interface Probe {
  resolve(alive: boolean): void;
  sentAt: number;
  timer: TimerHandle;
}

/** An 11-byte header. */
export function header(
  cmd: number,
  dstIP: number,
  dstPort: number,
  srcIP: number,
  srcPort: number,
  size: number,
): Uint8Array {
  const h = new Uint8Array(HEADER_SIZE);
  writeHeader(h, 0, cmd, dstIP, dstPort, srcIP, srcPort, size);
  return h;
}

export class SwitcherClient implements FrameSink {
  readonly id: number;
  readonly ip: number;
  readonly domain: string;
  readonly mac: string;
  readonly connectedAt: number;
  readonly transport: Transport;
  readonly scheduler: Scheduler;
  state: 'open' | 'closing' | 'closed' = 'open';
  leaveReason: LeaveReason | undefined;
  leaveError: Error | undefined;
  readonly stats = {
    bytesIn: 0,
    bytesOut: 0,
    framesIn: 0,
    framesOut: 0,
    dropped: 0,
    spoofed: 0,
    streamsOpened: 0,
    pauses: 0,
  };
  readonly cmdCounts = new Array<number>(256).fill(0);
  rtt: number | null = null;
  /** Live streams with this node at one end: key -> the node at the other end. */
  readonly streams = new Map<string, SwitcherClient>();
  private readonly host: ClientHost;
  private readonly inbound = new Map<SwitcherClient, StreamQueue>();
  private readonly outbound = new Set<SwitcherClient>();
  private readonly blockers = new Set<object>();
  private readonly overTotal = new Set<SwitcherClient>();
  private pushed = 0;
  private readonly probes = new Map<number, Probe>();
  private probeSeq = 0;
  private lastFrameAt = now();
  private idleTimer: TimerHandle | undefined;

  constructor(host: ClientHost, transport: Transport, init: ClientInit) {
    this.host = host;
    this.transport = transport;
    this.id = init.id;
    this.ip = init.ip;
    this.domain = init.domain;
    this.mac = init.mac;
    this.connectedAt = init.connectedAt;
    const o = host.options;
    const sink: SchedulerSink = {
      framing: transport.framing,
      send: (parts) => this.write(parts),
    };
    this.scheduler = new Scheduler(sink, {
      quantum: o.quantum,
      maxBatchBytes: o.maxBatchBytes,
      maxControlQueue: o.maxControlQueue,
    });
    if (o.idleTimeout > 0) this.armIdle(o.idleTimeout);
  }

  /** Bytes queued and not yet handed to the transport. */
  get queuedBytes(): number {
    return this.pushed - this.scheduler.bytesWritten;
  }

  get paused(): boolean {
    return this.blockers.size > 0;
  }

  // ------------------------------------------------------------------ inbound (FrameSink)

  frame(f: Frame): void {
    if (this.state !== 'open') return;
    this.stats.framesIn++;
    this.stats.bytesIn += HEADER_SIZE + f.payload.length;
    this.cmdCounts[f.cmd]++;
    this.lastFrameAt = now();
    this.host.route(this, f);
  }

  drain(): void {
    this.scheduler.drain();
  }

  closed(err?: Error): void {
    this.teardown(err);
  }

  malformed(err: ProtocolError): void {
    this.destroy('protocol', err);
  }

  // ------------------------------------------------------------------ outbound

  /** Queues a frame the switcher made (a reply or a ping) ahead of forwarded traffic. */
  sendControl(h: Uint8Array, payload?: Uint8Array): void {
    if (this.state !== 'open') return;
    const size = HEADER_SIZE + (payload?.length ?? 0);
    try {
      this.scheduler.pushControl(h, payload);
    } catch (err) {
      if (!(err instanceof LimitError)) throw err;
      this.destroy('overflow', err);
      return;
    }
    this.pushed += size;
    this.stats.framesOut++;
  }

  /** Queues a frame from `from` behind that source's earlier frames to this client. */
  forward(from: SwitcherClient, h: Uint8Array, payload: Uint8Array): boolean {
    if (this.state !== 'open') return false;
    const o = this.host.options;
    let q = this.inbound.get(from);
    if (q === undefined) {
      const queue = this.scheduler.queue();
      queue.lowWater = Math.floor(o.maxQueuePerSource / 2);
      queue.onDrain = () => from.unblock(queue);
      this.inbound.set(from, queue);
      from.outbound.add(this);
      q = queue;
    }
    this.scheduler.pushOrdered(q, h, payload);
    this.pushed += h.length + payload.length;
    this.stats.framesOut++;
    if (q.bytes > o.maxQueuePerSource && !q.needDrain) {
      q.needDrain = true;
      from.block(q);
    }
    if (this.queuedBytes > o.maxQueuePerClient && !this.overTotal.has(from)) {
      this.overTotal.add(from);
      from.block(this);
    }
    return true;
  }

  private write(parts: readonly Uint8Array[]): boolean {
    let n = 0;
    for (const p of parts) n += p.length;
    this.stats.bytesOut += n;
    const ok = this.transport.send(parts);
    if (this.overTotal.size > 0 && this.queuedBytes <= this.host.options.maxQueuePerClient / 2) {
      const waiting = [...this.overTotal];
      this.overTotal.clear();
      for (const s of waiting) s.unblock(this);
    }
    return ok;
  }

  private block(key: object): void {
    if (this.state !== 'open' || this.blockers.has(key)) return;
    if (this.blockers.size === 0) {
      this.stats.pauses++;
      this.transport.pauseReading();
    }
    this.blockers.add(key);
  }

  private unblock(key: object): void {
    if (!this.blockers.delete(key)) return;
    if (this.blockers.size === 0 && this.state === 'open') this.transport.resumeReading();
  }

  // ------------------------------------------------------------------ liveness (6.3)

  /**
   * Pings this node for `domain` from (0xFFFF, k): resolves true on any answer (12.1.3), false
   * on timeout or when the node leaves first.
   */
  probe(domain: string, timeoutMs: number): Promise<boolean> {
    if (this.state !== 'open') return Promise.resolve(false);
    this.probeSeq = (this.probeSeq % 0xffff) + 1;
    const k = this.probeSeq;
    this.probes.get(k)?.resolve(false);
    return new Promise<boolean>((resolve) => {
      const p: Probe = {
        sentAt: now(),
        timer: timeout(() => p.resolve(false), timeoutMs),
        resolve: (alive) => {
          clearTimeout(p.timer);
          if (this.probes.get(k) === p) this.probes.delete(k);
          resolve(alive);
        },
      };
      this.probes.set(k, p);
      const payload = encodePing(domain);
      this.sendControl(header(Cmd.PING, this.ip, 0, SWITCHER_IP, k, payload.length), payload);
    });
  }

  /** A PingDomain ACK addressed to the switcher: completes the probe with that id. */
  completeProbe(id: number): boolean {
    const p = this.probes.get(id);
    if (p === undefined) return false;
    this.rtt = now() - p.sentAt;
    p.resolve(true);
    return true;
  }

  // ------------------------------------------------------------------ streams statistic

  /** Records a stream between `a` and `b` (a successful OpenStream ACK passed). */
  static link(a: SwitcherClient, b: SwitcherClient, key: string): void {
    if (
      a.streams.has(key) ||
      a.streams.size >= MAX_TRACKED_STREAMS ||
      b.streams.size >= MAX_TRACKED_STREAMS
    ) {
      return;
    }
    a.streams.set(key, b);
    b.streams.set(key, a);
    a.stats.streamsOpened++;
    if (b !== a) b.stats.streamsOpened++;
  }

  /** Forgets a stream (a close or reset passed). */
  static unlink(a: SwitcherClient, b: SwitcherClient, key: string): void {
    if (a.streams.get(key) !== b) return;
    a.streams.delete(key);
    b.streams.delete(key);
  }

  // ------------------------------------------------------------------ lifecycle

  /** Graceful: stop routing, flush what is queued, then close the transport. */
  close(reason: LeaveReason, err?: Error): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.leaveReason = reason;
    this.leaveError = err;
    this.host.detach(this);
    this.scheduler.flush();
    // Read on until the peer's end so unread bytes never turn our FIN into a reset.
    this.blockers.clear();
    this.transport.resumeReading();
    this.transport.close();
  }

  /** Abrupt: drop the connection now. */
  destroy(reason: LeaveReason, err?: Error): void {
    if (this.state === 'closed') return;
    if (this.state === 'open') {
      this.state = 'closing';
      this.leaveReason = reason;
      this.leaveError = err;
      this.host.detach(this);
    }
    this.transport.destroy(err);
  }

  private teardown(err: Error | undefined): void {
    if (this.state === 'closed') return;
    const reason = this.leaveReason ?? (err ? 'error' : 'closed');
    const error = this.leaveError ?? err;
    if (this.state === 'open') this.host.detach(this);
    this.state = 'closed';
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.scheduler.close();
    for (const [src, q] of this.inbound) {
      src.unblock(q);
      src.outbound.delete(this);
    }
    for (const src of this.overTotal) src.unblock(this);
    this.inbound.clear();
    this.overTotal.clear();
    for (const dst of this.outbound) {
      // Frames already queued there still go out; only the link to this source is forgotten.
      const q = dst.inbound.get(this);
      if (q) q.onDrain = null;
      dst.inbound.delete(this);
      dst.overTotal.delete(this);
    }
    this.outbound.clear();
    this.blockers.clear();
    for (const p of [...this.probes.values()]) p.resolve(false);
    for (const [key, peer] of this.streams) peer.streams.delete(key);
    this.streams.clear();
    this.host.left(this, reason, error);
  }

  private armIdle(ms: number): void {
    this.idleTimer = timeout(() => {
      this.idleTimer = undefined;
      if (this.state !== 'open') return;
      const idle = now() - this.lastFrameAt;
      if (idle >= ms) this.close('idle');
      else this.armIdle(ms - idle);
    }, ms);
  }

  info(): ClientInfo {
    const byCmd: Record<string, number> = {};
    this.cmdCounts.forEach((n, cmd) => {
      if (n > 0) byCmd[cmdName(cmd)] = n;
    });
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
      bytesIn: s.bytesIn,
      bytesOut: s.bytesOut,
      framesIn: s.framesIn,
      framesOut: s.framesOut,
      framesByCmd: byCmd,
      dropped: s.dropped,
      spoofed: s.spoofed,
      queuedBytes: this.queuedBytes,
      paused: this.paused,
      rtt: this.rtt,
    };
  }
}
