import { ConfigError, ConnectionClosedError, TimeoutError } from '../errors.js';
import type { Transport } from '../transport/types.js';
import { errorFields } from '../util/cause.js';
import { checkMethods, checkOptions, shown } from '../util/check.js';
import { Emitter } from '../util/emitter.js';
import { IdIndex } from '../util/id-index.js';
import { containedLogger, type Logger, silentLogger } from '../util/logger.js';
import { MAX_DELAY, now, timeout } from '../util/timers.js';
import { normalizeDomain } from '../wire/domain.js';
import type { Frame } from '../wire/frame.js';
import { clipText } from '../wire/utf8.js';
import { type AccessOptions, AccessPolicy, copyAccess } from './access.js';
import type { AdmissionReader, Verified } from './admission.js';
import {
  type ClientCounters,
  type ClientHost,
  type ClientInfo,
  type LeaveReason,
  type StreamInfo,
  SwitcherClient,
} from './client.js';
import { type ResolvedSwitcherOptions, type SwitcherOptions, validateSwitcherOptions } from './config.js';
import { type GateHost, Gatekeeper, type RefusalInfo } from './gatekeeper.js';
import { IpPool, MAX_IP, MIN_IP } from './ip-pool.js';
import { type Claim, Registry } from './registry.js';
import {
  answerForbiddenCloses,
  answerForbiddenPings,
  endForbidden,
  refuseForbiddenDials,
  ruleChange,
} from './revoke.js';
import { Router } from './router.js';
import { type ClientTotals, sumClients } from './totals.js';

/**
 * The relay server (PROTOCOL.md 7): admits nodes, assigns virtual IPs, resolves domains and
 * forwards frames between nodes. Runtime-neutral: it takes any connected Transport through
 * `handle()`; listeners (TCP, TLS, WebSocket) live in switcher-node.ts.
 */

export type { RefusalInfo } from './gatekeeper.js';

/** The events of a switcher (`switcher.on(event, listener)`) and the arguments of their listeners. */
export type SwitcherEvents = {
  /** A node was admitted. */
  client: [ClientInfo];
  /** An admitted node left, with why. */
  clientLeft: [ClientInfo, LeaveReason, Error | undefined];
  /**
   * A liveness ping of a client was answered (a keep-alive ping, pingInterval, or the probe of a
   * claimed domain's holder): its round trip in ms, once per ping. `rtt` of ClientInfo keeps the last.
   */
  rtt: [number, ClientInfo['domain']];
  /** A connection was not admitted. */
  refused: [RefusalInfo];
  /**
   * Something failed inside the switcher (a bug of flexmux's): the affected connection is dropped,
   * or the rest of a client's teardown, or of setAccess(), goes on.
   */
  error: [Error];
  /** `close()` began: listeners should stop accepting. */
  closing: [];
  /** The switcher is closed. */
  close: [];
};

/** What `switcher.stats()` returns: gauges of now, and counters since the switcher started. */
export interface SwitcherStats {
  /** Nodes admitted and connected now. */
  clients: number;
  /** Connections in admission (`maxPendingAdmissions`). */
  pendingAdmissions: number;
  /** Admissions since start. */
  admitted: number;
  /** Refused connections since start. */
  refused: number;
  /** Frames forwarded from one node to another. */
  forwarded: number;
  /** Frames dropped, those a client's leave left undelivered included. */
  dropped: number;
  /** Frames dropped because their source IP was not the sender's own. */
  spoofed: number;
  /** Frames addressed to the switcher itself that it does not handle. */
  ignored: number;
  /** Bytes received from the nodes. */
  bytesIn: number;
  /** Bytes written to the nodes. */
  bytesOut: number;
  /** Unix ms. */
  startedAt: number;
  /** ms since start. */
  uptime: number;
}

/** Extra time `close()` gives destroyed connections to report their end. */
const DESTROY_GRACE = 1_000;

/**
 * The relay (docs/manual.md, section 2): admits nodes, assigns their virtual IPs, resolves domains
 * and forwards frames between them. `new Switcher(options)` throws a ConfigError for an invalid
 * option; `handle(transport)` serves one connected transport.
 */
export class Switcher extends Emitter<SwitcherEvents> {
  /** The options with their defaults applied. */
  readonly options: ResolvedSwitcherOptions;
  /**
   * Where the switcher logs: the `logger` option, each line's failure kept in (containedLogger),
   * or one that drops everything.
   */
  readonly logger: Logger;
  private readonly registry: Registry<SwitcherClient>;
  /** The registry's clients by id, for pages of clients() (listed while the registry holds them). */
  private readonly byId = new IdIndex<number, SwitcherClient>(
    (ip) => this.registry.byIp(ip),
    (c) => c.id,
  );
  private readonly router: Router;
  private readonly gate: Gatekeeper;
  private readonly access: AccessPolicy;
  /** What clients see of the switcher (kept off the public API). */
  private readonly clientHost: ClientHost;
  /** Clients that stopped routing but whose connection has not ended yet. */
  private readonly leaving = new Set<SwitcherClient>();
  private _state: 'open' | 'closing' | 'closed' = 'open';
  private closing: Promise<void> | null = null;
  private onSettled: (() => void) | null = null;
  private nextId = 1;
  private admittedTotal = 0;
  private readonly departed = { bytesIn: 0, bytesOut: 0 };
  private readonly startedAt: number;
  private readonly startedMono = now();

  constructor(options: SwitcherOptions) {
    super();
    this.options = validateSwitcherOptions(options);
    const o = this.options;
    // Contained, for every part of the switcher: a logger that throws (a closed pipe) dropped the
    // sender of a frame the router logged, failed a takeover's admission as a bug of ours (the
    // eviction's line), and made close() throw with the shutdown never begun.
    this.logger = containedLogger(o.logger ?? silentLogger);
    const access = new AccessPolicy(o.password, o.access);
    // Checked: kept as a copy, as setAccess() keeps one, so that the caller changing its object
    // later changes neither options.access nor what the next setAccess() logs as removed.
    o.access = copyAccess(o.access);
    this.access = access;
    this.registry = new Registry<SwitcherClient>(
      {
        // A holder busy sending cannot have its answer read, so it is alive. One paused because it
        // holds others back is pinged all the same: it is alive only if it takes bytes meanwhile
        // (SwitcherClient.probe), else, with stallTimeout 0, a dead one kept its domain for ever.
        probe: (holder) =>
          holder.busySending ? Promise.resolve(true) : holder.probe(holder.domain, o.livenessTimeout),
        evict: (holder) => {
          // Closed before the log line: a logger that throws must not leave the holder connected.
          // With an error, as a kicked client has one (the holder is not sent it).
          holder.close(
            'evicted',
            new TimeoutError(`no answer to the liveness ping within ${o.livenessTimeout} ms`),
          );
          this.logger.warn(
            { domain: holder.domain, ip: holder.ip },
            'domain taken over: holder did not answer',
          );
        },
      },
      o.maxClients,
      new IpPool(MIN_IP, MAX_IP, o.ipAssignment),
    );
    this.router = new Router(this.registry, access, this.logger, o.maxStreamsPerClient);
    const self = this;
    this.clientHost = {
      options: o,
      logger: this.logger,
      route: (from, f) => this.route(from, f),
      failed: (from, err) => this.failed(from, err),
      teardownFailed: (c, err) => this.teardownFailed(c, err),
      timerFailed: (c, err, timer) => this.timerFailed(c, err, timer),
      detach: (c) => this.detach(c),
      dropped: (c, n, reason) => this.router.dropped(c, n, reason),
      rtt: (c, ms) => this.emit('rtt', ms, c.domain),
      left: (c, reason, err) => this.left(c, reason, err),
    };
    const gateHost: GateHost = {
      options: o,
      logger: this.logger,
      get state() {
        return self._state;
      },
      claim: (domain) => this.registry.claim(domain),
      enroll: (reader, claim, v, response, nowNs) => this.enroll(reader, claim, v, response, nowNs),
      refused: (info) => this.emit('refused', info),
      failed: (err) => this.emit('error', err),
      settled: () => this.settled(),
    };
    this.gate = new Gatekeeper(gateHost, access);
    this.startedAt = Number(o.clock() / 1_000_000n);
  }

  // ------------------------------------------------------------------ public API

  /** 'open' until `close()`; then 'closing' until every connection ended, then 'closed'. */
  get state(): 'open' | 'closing' | 'closed' {
    return this._state;
  }

  /** Takes a connected transport: admits it, then relays its frames. Never throws for I/O. */
  handle(transport: Transport): void {
    checkMethods('handle() transport', 'a Transport', transport, ['attach', 'send']);
    this.gate.handle(transport);
  }

  /**
   * Replaces the shared password: admissions from now on need the new one, nodes already admitted
   * stay (a rotated secret, the CLI's reload on SIGHUP). `options.password` reads the new one
   * after. Throws ConfigError, keeping the old password, if it is not a string or repeats one of
   * `access.passwords`. A node that reconnects must then know the new password.
   */
  setPassword(password: string): void {
    this.access.setPassword(password);
    this.options.password = password;
  }

  /**
   * Replaces the access rules (`options.access`: the extra passwords and the dial rules) whole,
   * the CLI's reload on SIGHUP. All of `access` is checked first: a ConfigError keeps the rules in
   * use. Nodes already admitted stay, whatever password let them in; admissions from now on try
   * the new passwords. Dial rules are checked on every frame between two nodes, so the new ones
   * apply at once to streams already open too: those between two nodes they keep apart are ended
   * at both ends now (a reset, code 4, where negotiated, else a CloseStream; revoke.ts), and no
   * longer count against maxStreamsPerClient; dials between them not answered yet are refused.
   * One log line says how many and what changed. With `password`, the shared password is replaced
   * too, and checked with `access` instead of against the one in use: a password moved between
   * the shared one and an extra one, in either direction, is one call (two would each see the
   * other's old value and refuse the repeat).
   */
  setAccess(access: AccessOptions, password?: string): void {
    const before = this.options.access;
    this.access.setAccess(access, password);
    // A copy: the caller's object is theirs to change (the CLI's reload builds a new one, others
    // may reuse one), and a change to it must not rewrite the rules in use as options show them.
    const kept = copyAccess(access);
    this.options.access = kept;
    if (password !== undefined) this.options.password = password;
    const mayTalk = (a: string, b: string): boolean => this.access.mayTalk(a, b);
    // The rules are in use from here on: a bug of ours ending what they forbid is reported (the
    // switcher's error), not thrown. Thrown, the caller reported the old rules kept (the CLI's
    // reload said so, and compared the next reload with them) while these were enforced.
    const ended = this.enforce(() => endForbidden(this.registry.entries(), mayTalk), {
      streams: 0,
      pairs: [],
    });
    const closesAnswered = this.enforce(() => answerForbiddenCloses(this.registry.entries(), mayTalk), 0);
    const pingsAnswered = this.enforce(() => answerForbiddenPings(this.registry.entries(), mayTalk), 0);
    const refused = this.enforce(
      () =>
        refuseForbiddenDials(
          this.registry.entries(),
          // Not mayDial: frames still pass between nodes one of which may dial the other, so a
          // late ACK to a dial refused here would reach its dialer unasked and leave the
          // acceptor's stream open for good; such a dial completes, as such nodes' open streams
          // stay (endForbidden).
          mayTalk,
          (c, n, reason) => this.router.dropped(c, n, reason),
        ),
      0,
    );
    // The rules are in use now, whatever the log does: a logger that throws (a closed pipe) must
    // not make the caller report the old rules kept (the CLI's reload would say so).
    for (const p of ended.pairs) {
      this.logger.debug(
        { dialer: p.a, acceptor: p.b, streams: p.streams },
        'ended streams the access rules no longer allow',
      );
    }
    this.logger[ended.streams + refused > 0 ? 'warn' : 'info'](
      {
        ...ruleChange(before, kept),
        streamsEnded: ended.streams,
        nodePairs: ended.pairs.length,
        dialsRefused: refused,
        closesAnswered,
        pingsAnswered,
      },
      'access rules replaced',
    );
  }

  /**
   * One step of setAccess() after the new rules took effect: what it returns, or `otherwise` after
   * a bug of ours, logged with its stack and emitted as the switcher's error.
   */
  private enforce<T>(step: () => T, otherwise: T): T {
    try {
      return step();
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      this.logger.error(
        { ...errorFields(e), stack: e.stack },
        'ending what the new access rules forbid failed',
      );
      this.emit('error', e);
      return otherwise;
    }
  }

  /** Closes the node holding `domain`; false if no node holds it. */
  kick(domain: string, reason = 'kicked'): boolean {
    const d = normalizeDomain(domain);
    const c = d === null ? undefined : this.registry.byDomain(d);
    if (c === undefined) return false;
    // Closed before the log line, whose failure is kept in: a logger that throws (a closed pipe)
    // made the kick throw and do nothing, and the admin API answer 500 to every retry.
    c.close('kicked', new ConnectionClosedError(`kicked by the switcher: ${reason}`));
    this.logger.info({ domain: c.domain, ip: c.ip, reason }, 'kicking client');
    return true;
  }

  /**
   * A snapshot of each client, in the order they were admitted (so by ascending `id`: ids are
   * handed out as clients are admitted); with `limit`, of the first `limit` only, and with
   * `offset`, of those after the first `offset` (a page of them: no snapshot of the others). With
   * `afterId`, of the clients whose `id` is greater: a page that resumes after the last client of
   * the page before, whoever joined or left since (an offset skips a client for each that left
   * before it).
   */
  clients(limit = Number.POSITIVE_INFINITY, offset = 0, afterId = 0): ClientInfo[] {
    // By id (util/id-index.ts): a page after `afterId` costs its own length and no more, where a walk
    // of the registry cost every client before it too.
    return this.byId.page(afterId, offset, limit, this.registry.size).map((c) => c.info());
  }

  /**
   * Calls `fn` with the live counters of each client, in the order of `clients()`: for samplers
   * that read thousands of clients every second and need neither their names nor frame counts.
   */
  eachClient(fn: (c: ClientCounters) => void): void {
    for (const c of this.registry.entries()) fn(c.counters());
  }

  /**
   * Sums of the clients' counters (streams, frames, queued bytes, paused clients...) without a
   * snapshot per client: what a Prometheus scrape reads. Clients leaving (kicked, evicted, closed
   * by the switcher) count until their connection ends, as in stats(): one that does not read
   * holds its queue that long (the transport's close timeout), and the queued-bytes gauges
   * dropped it at the kick, the memory still held; its frames were in no total meanwhile.
   */
  clientTotals(): ClientTotals {
    return sumClients(this.registry.entries(), this.leaving);
  }

  /** The client that holds `domain` now, or undefined (also for a string that is no valid domain). */
  client(domain: string): ClientInfo | undefined {
    const d = normalizeDomain(domain);
    return d === null ? undefined : this.registry.byDomain(d)?.info();
  }

  /**
   * Streams the switcher saw open between its clients (at most `maxStreamsPerClient` per client):
   * all of them, or those with `domain` at one end. Undefined for an unknown domain. With
   * `page`, the `limit` streams after the first `offset`, of the domain's or of all of them; a
   * page builds no record of the others (a client may hold 65,536, a switcher millions). With
   * `domain`, `after` keeps the streams whose `id` is greater (a cursor: the last id of the page
   * before; a client's streams come by ascending id); without, it is not read.
   */
  streams(
    domain?: string,
    page: { offset?: number; limit?: number; after?: number } = {},
  ): StreamInfo[] | undefined {
    // Null is no page, as every call's options are (a TypeError reading its offset before).
    checkOptions('streams()', page);
    // A negative offset is 0, a limit of 0 or less an empty page.
    const from = Math.max(0, page.offset ?? 0);
    const limit = Math.max(0, page.limit ?? Number.POSITIVE_INFINITY);
    if (domain === undefined) {
      // Client by client, each asked for what the page still lacks and no more: this built every
      // stream of every client to cut a page out of them.
      const out: StreamInfo[] = [];
      let skip = from;
      for (const c of this.registry.entries()) {
        if (out.length >= limit) break;
        // Skipped whole without a record: `accepted` is how many streamInfos(true) would list.
        if (skip >= c.accepted) {
          skip -= c.accepted;
          continue;
        }
        for (const s of c.streamInfos(true, skip, limit - out.length)) out.push(s);
        skip = 0;
      }
      return out;
    }
    const d = normalizeDomain(domain);
    const c = d === null ? undefined : this.registry.byDomain(d);
    return c?.streamInfos(false, from, limit, page.after);
  }

  /**
   * Clients admitted and connected now: `stats().clients`, without its walk of every client for
   * the byte totals (a page of the admin's lists needs the count alone).
   */
  get clientCount(): number {
    return this.registry.size;
  }

  /** The switcher's counters: clients, admissions, frames and bytes (clients that left included). */
  stats(): SwitcherStats {
    let bytesIn = this.departed.bytesIn;
    let bytesOut = this.departed.bytesOut;
    // Two loops, not one over a spread of both: the admin calls this every second.
    for (const c of this.registry.entries()) {
      bytesIn += c.stats.bytesIn;
      bytesOut += c.outbox.bytesOut;
    }
    for (const c of this.leaving) {
      bytesIn += c.stats.bytesIn;
      bytesOut += c.outbox.bytesOut;
    }
    return {
      clients: this.registry.size,
      pendingAdmissions: this.gate.pending.size,
      admitted: this.admittedTotal,
      refused: this.gate.refusedTotal,
      ...this.router.counters,
      bytesIn,
      bytesOut,
      startedAt: this.startedAt,
      uptime: now() - this.startedMono,
    };
  }

  /**
   * Graceful shutdown: refuse new connections, close every client with reason 'shutdown' (streams
   * that negotiated reset are reset at both ends with 'the switcher is shutting down'), and
   * destroy whatever has not finished after `timeout` ms. Resolves when all connections ended.
   */
  close(options: { timeout?: number } = {}): Promise<void> {
    if (this.closing) return this.closing;
    // Rejected rather than thrown, as every promise-returning call does (docs/errors.md): a caller
    // handling failures with .catch() alone would miss a throw. Not async: a second close()
    // returns the same promise as the first.
    try {
      checkOptions('close()', options);
    } catch (err) {
      return Promise.reject(err);
    }
    const ms = options.timeout ?? this.options.closeTimeout;
    // At most a timer's range, as the closeTimeout option: beyond it Node fires at once (with a
    // warning), and the close gave its clients no time at all.
    if (!Number.isInteger(ms) || ms < 0 || ms > MAX_DELAY) {
      return Promise.reject(
        new ConfigError(`close timeout must be an integer from 0 to ${MAX_DELAY} (ms), got ${shown(ms)}`),
      );
    }
    this._state = 'closing';
    this.logger.info({ clients: this.registry.size, pending: this.gate.pending.size }, 'switcher closing');
    this.emit('closing');
    this.closing = this.shutdown(ms);
    return this.closing;
  }

  // ------------------------------------------------------------------ admission and clients

  private enroll(
    reader: AdmissionReader,
    claim: Claim<SwitcherClient>,
    v: Verified,
    response: Uint8Array,
    nowNs: bigint,
  ): void {
    const transport = reader.transport;
    let client: SwitcherClient;
    try {
      client = new SwitcherClient(this.clientHost, transport, {
        id: this.nextId++,
        ip: claim.ip,
        domain: v.domain,
        mac: v.request.mac,
        connectedAt: Number(nowNs / 1_000_000n),
      });
    } catch (err) {
      // A bug of ours making it: the door cuts the connection as its own failure, and the claim
      // goes with it. Left neither committed nor cancelled, it kept the domain claimed for good
      // (every later admission of it refused as busy) and its IP and place taken.
      claim.cancel();
      throw err;
    }
    claim.commit(client);
    try {
      this.byId.push(client.id, client.ip, this.registry.size);
      // The reply goes out before anything the scheduler queues for this client.
      transport.send([response]);
      this.admittedTotal++;
      // Its failure kept in (the switcher's logger is a containedLogger): a logger that throws (a closed pipe) is no failure of the admission.
      this.logger.info(
        // The Mac is free text of up to 64 KiB: the record keeps it, the log line a clip of it.
        { domain: v.domain, ip: claim.ip, remote: transport.remoteAddress, mac: clipText(v.request.mac) },
        'client admitted',
      );
      this.emit('client', client.info());
    } finally {
      // Even after a bug of ours above: the door then cuts the connection as its own failure,
      // and only the client, handed the connection, hears its end and leaves the registry.
      // Without it, its domain and IP were held by a dead entry that never left.
      reader.handOff(client);
    }
    if (client.state === 'open' && !client.paused) transport.resumeReading();
  }

  private settled(): void {
    if (this.onSettled !== null && this.isSettled) this.onSettled();
  }

  private route(from: SwitcherClient, f: Frame): void {
    try {
      this.router.route(from, f);
    } catch (err) {
      this.failed(from, err);
    }
  }

  /**
   * A bug of ours threw while a frame from `from` was handled: the client is dropped (the frame
   * was handled halfway), as the switcher's fault, not for a protocol violation of the node's.
   */
  private failed(from: SwitcherClient, err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    // Dropped before the log line, and the line's own failure kept in: this runs inside the
    // transport's handler, where a logger that throws (a closed pipe) escaped as an uncaught
    // exception, which ends the process of a switcher serving thousands, and left the client
    // connected and routed, its frame handled halfway.
    from.destroy('error', e);
    // With the stack: the message alone does not say where the bug is (node.ts internalError).
    this.logger.error(
      { domain: from.domain, ...errorFields(e), stack: e.stack },
      'routing failed; dropping the client',
    );
    this.emit('error', e);
  }

  /**
   * A bug of ours threw while `c` left or was torn down; the client finishes leaving all the
   * same (SwitcherClient.step). Never throws: it runs inside transport handlers and timers.
   */
  private teardownFailed(c: SwitcherClient, err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    this.logger.error({ domain: c.domain, ...errorFields(e), stack: e.stack }, 'client teardown failed');
    this.emit('error', e);
  }

  /**
   * A bug of ours threw in a timer of `c` (its pings, its idle check): logged with its stack and
   * counted as the switcher's 'error' (internal_errors_total); the client stays, and so does
   * the timer. Never throws: it runs in the timer, or in a callback of its promise.
   */
  private timerFailed(c: SwitcherClient, err: unknown, timer: string): void {
    const e = err instanceof Error ? err : new Error(String(err));
    this.logger.error({ domain: c.domain, timer, ...errorFields(e), stack: e.stack }, 'client timer failed');
    this.emit('error', e);
  }

  private detach(c: SwitcherClient): void {
    this.registry.remove(c);
    this.leaving.add(c);
  }

  private left(c: SwitcherClient, reason: LeaveReason, err: Error | undefined): void {
    // Only now may its IP go to another node: nothing of its own is queued or routed any more.
    this.registry.release(c);
    this.leaving.delete(c);
    this.departed.bytesIn += c.stats.bytesIn;
    this.departed.bytesOut += c.outbox.bytesOut;
    const info = c.info();
    // A peer that hung up or went away abruptly (killed: a reset) is ordinary; the rest are faults.
    const quiet = reason === 'closed' || reason === 'reset' || reason === 'shutdown' || reason === 'kicked';
    // Its failure kept in (the switcher's logger is a containedLogger): this runs inside the transport's close handler, where a logger that
    // throws (a closed pipe) ended the process, and clientLeft and a waiting close() were skipped.
    this.logger[quiet ? 'info' : 'warn'](
      { domain: c.domain, ip: c.ip, remote: info.remoteAddress, reason, ...(err && errorFields(err)) },
      'client left',
    );
    this.emit('clientLeft', info, reason, err);
    this.settled();
  }

  // ------------------------------------------------------------------ shutdown

  private async shutdown(ms: number): Promise<void> {
    this.gate.destroyPending(new ConnectionClosedError('switcher closing'));
    for (const c of [...this.registry.entries()]) c.close('shutdown');
    if (!(await this.whenSettled(ms))) {
      this.logger.warn({ left: this.leaving.size }, 'shutdown timed out; destroying remaining connections');
      for (const c of [...this.leaving]) c.destroy('shutdown');
      this.gate.destroyPending();
      await this.whenSettled(DESTROY_GRACE);
    }
    this._state = 'closed';
    this.logger.info({}, 'switcher closed');
    this.emit('close');
  }

  private get isSettled(): boolean {
    return this.registry.size === 0 && this.leaving.size === 0 && this.gate.pending.size === 0;
  }

  /** Resolves true once every connection ended, false after `ms`. */
  private whenSettled(ms: number): Promise<boolean> {
    if (this.isSettled) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = timeout(() => {
        this.onSettled = null;
        resolve(false);
      }, ms);
      this.onSettled = () => {
        clearTimeout(timer);
        this.onSettled = null;
        resolve(true);
      };
    });
  }
}
