import { ConfigError, ConnectionClosedError } from '../errors.js';
import type { Transport } from '../transport/types.js';
import { Emitter } from '../util/emitter.js';
import { type Logger, silentLogger } from '../util/logger.js';
import { now, timeout } from '../util/timers.js';
import { MAX_CLOCK_SKEW_NS, sealResponse } from '../wire/admission/index.js';
import { normalizeDomain } from '../wire/domain.js';
import type { Frame } from '../wire/frame.js';
import { AccessPolicy } from './access.js';
import { AdmissionReader, type Refusal, type RefusalReason, refusal, verifyAdmission } from './admission.js';
import { type ClientHost, type ClientInfo, type LeaveReason, SwitcherClient } from './client.js';
import { type ResolvedSwitcherOptions, type SwitcherOptions, validateSwitcherOptions } from './config.js';
import { FailureLimiter, hostOf, ReplayCache } from './guards.js';
import { Registry } from './registry.js';
import { Router } from './router.js';

/**
 * The relay server (PROTOCOL.md 7): admits nodes, assigns virtual IPs, resolves domains and
 * forwards frames between nodes. Runtime-neutral: it takes any connected Transport through
 * `handle()`; listeners (TCP, TLS, WebSocket) live in switcher-node.ts.
 */

export interface RefusalInfo {
  remoteAddress: string;
  reason: RefusalReason;
  /** The ErrCode sent back (-1 or -2), or 0 when the connection was closed without a reply. */
  errCode: -1 | -2 | 0;
  message: string;
  /** The domain asked for, when the request was readable. */
  domain?: string;
}

export type SwitcherEvents = {
  /** A node was admitted. */
  client: [ClientInfo];
  /** An admitted node left, with why. */
  clientLeft: [ClientInfo, LeaveReason, Error | undefined];
  /** A connection was not admitted. */
  refused: [RefusalInfo];
  /** Something failed inside the switcher; the affected connection is dropped. */
  error: [Error];
  /** `close()` began: listeners should stop accepting. */
  closing: [];
  close: [];
};

export interface SwitcherStats {
  clients: number;
  pendingAdmissions: number;
  /** Admissions since start. */
  admitted: number;
  /** Refused connections since start. */
  refused: number;
  forwarded: number;
  dropped: number;
  spoofed: number;
  ignored: number;
  bytesIn: number;
  bytesOut: number;
  /** Unix ms. */
  startedAt: number;
  /** ms since start. */
  uptime: number;
}

/** Bytes a node may send behind its admission frame before the reply. */
const MAX_EARLY_BYTES = 128 * 1024;
/** Extra time `close()` gives destroyed connections to report their end. */
const DESTROY_GRACE = 1_000;

export class Switcher extends Emitter<SwitcherEvents> implements ClientHost {
  readonly options: ResolvedSwitcherOptions;
  readonly logger: Logger;
  private readonly access: AccessPolicy;
  private readonly registry: Registry<SwitcherClient>;
  private readonly router: Router;
  private readonly replay: ReplayCache;
  private readonly limiter: FailureLimiter;
  private readonly pending = new Set<AdmissionReader>();
  /** Clients that stopped routing but whose connection has not ended yet. */
  private readonly leaving = new Set<SwitcherClient>();
  private _state: 'open' | 'closing' | 'closed' = 'open';
  private closing: Promise<void> | null = null;
  private onSettled: (() => void) | null = null;
  private nextId = 1;
  private admittedTotal = 0;
  private refusedTotal = 0;
  private readonly departed = { bytesIn: 0, bytesOut: 0 };
  private readonly startedAt: number;
  private readonly startedMono = now();

  constructor(options: SwitcherOptions) {
    super();
    this.options = validateSwitcherOptions(options);
    const o = this.options;
    this.logger = o.logger ?? silentLogger;
    this.access = new AccessPolicy(o.password, o.access);
    this.registry = new Registry<SwitcherClient>(
      {
        probe: (holder) => holder.probe(holder.domain, o.livenessTimeout),
        evict: (holder) => {
          this.logger.warn(
            { domain: holder.domain, ip: holder.ip },
            'domain taken over: holder did not answer',
          );
          holder.close('evicted');
        },
      },
      o.maxClients,
    );
    this.router = new Router(this.registry, this.access, this.logger);
    this.replay = new ReplayCache(o.replayCacheSize, MAX_CLOCK_SKEW_NS);
    this.limiter = new FailureLimiter(o.failedAdmissionBurst, o.failedAdmissionRate, o.rateLimitEntries);
    this.startedAt = this.wallMs();
  }

  // ------------------------------------------------------------------ public API

  /** 'open' until `close()`; then 'closing' until every connection ended, then 'closed'. */
  get state(): 'open' | 'closing' | 'closed' {
    return this._state;
  }

  /** Takes a connected transport: admits it, then relays its frames. Never throws for I/O. */
  handle(transport: Transport): void {
    if (transport === null || typeof transport !== 'object' || typeof transport.attach !== 'function') {
      throw new ConfigError('handle() needs a Transport');
    }
    const remote = transport.remoteAddress;
    if (this._state !== 'open') {
      this.refused(remote, refusal('shutdown', 0, 'switcher is closing'));
      transport.destroy();
      return;
    }
    if (!this.limiter.allows(hostOf(remote), this.wallMs())) {
      this.refused(remote, refusal('rate-limited', 0, 'too many failed admissions from this host'));
      transport.destroy();
      return;
    }
    if (this.pending.size >= this.options.maxPendingAdmissions) {
      this.refused(remote, refusal('overloaded', 0, `${this.pending.size} admissions already pending`));
      transport.destroy();
      return;
    }
    const reader = new AdmissionReader(transport, this.options.admissionTimeout, MAX_EARLY_BYTES);
    this.pending.add(reader);
    this.admit(reader)
      .catch((err: unknown) => {
        const e = err instanceof Error ? err : new Error(String(err));
        this.logger.error({ remote, err: e.message }, 'admission failed inside the switcher');
        transport.destroy(e);
        this.emit('error', e);
      })
      .finally(() => {
        this.pending.delete(reader);
        this.checkSettled();
      });
  }

  /** Closes the node holding `domain`; false if no node holds it. */
  kick(domain: string, reason = 'kicked'): boolean {
    const d = normalizeDomain(domain);
    const c = d === null ? undefined : this.registry.byDomain(d);
    if (c === undefined) return false;
    this.logger.info({ domain: c.domain, ip: c.ip, reason }, 'kicking client');
    c.close('kicked', new ConnectionClosedError(`kicked by the switcher: ${reason}`));
    return true;
  }

  clients(): ClientInfo[] {
    return [...this.registry.entries()].map((c) => c.info());
  }

  client(domain: string): ClientInfo | undefined {
    const d = normalizeDomain(domain);
    return d === null ? undefined : this.registry.byDomain(d)?.info();
  }

  stats(): SwitcherStats {
    let bytesIn = this.departed.bytesIn;
    let bytesOut = this.departed.bytesOut;
    for (const c of [...this.registry.entries(), ...this.leaving]) {
      bytesIn += c.stats.bytesIn;
      bytesOut += c.stats.bytesOut;
    }
    return {
      clients: this.registry.size,
      pendingAdmissions: this.pending.size,
      admitted: this.admittedTotal,
      refused: this.refusedTotal,
      ...this.router.counters,
      bytesIn,
      bytesOut,
      startedAt: this.startedAt,
      uptime: now() - this.startedMono,
    };
  }

  /**
   * Graceful shutdown: refuse new connections, close every client with reason 'shutdown', and
   * destroy whatever has not finished after `timeout` ms. Resolves when all connections ended.
   */
  close(options: { timeout?: number } = {}): Promise<void> {
    if (this.closing) return this.closing;
    const ms = options.timeout ?? this.options.closeTimeout;
    if (!Number.isInteger(ms) || ms < 0)
      throw new ConfigError(`close timeout must be an integer >= 0, got ${ms}`);
    this._state = 'closing';
    this.logger.info({ clients: this.registry.size, pending: this.pending.size }, 'switcher closing');
    this.emit('closing');
    this.closing = this.shutdown(ms);
    return this.closing;
  }

  // ------------------------------------------------------------------ ClientHost

  route(from: SwitcherClient, f: Frame): void {
    try {
      this.router.route(from, f);
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      this.logger.error({ domain: from.domain, err: e.message }, 'routing failed; dropping the client');
      from.destroy('error', e);
      this.emit('error', e);
    }
  }

  detach(c: SwitcherClient): void {
    this.registry.remove(c);
    this.leaving.add(c);
  }

  left(c: SwitcherClient, reason: LeaveReason, err: Error | undefined): void {
    this.registry.remove(c);
    this.leaving.delete(c);
    this.departed.bytesIn += c.stats.bytesIn;
    this.departed.bytesOut += c.stats.bytesOut;
    const info = c.info();
    const quiet = reason === 'closed' || reason === 'shutdown' || reason === 'kicked';
    this.logger[quiet ? 'info' : 'warn'](
      { domain: c.domain, ip: c.ip, remote: info.remoteAddress, reason, err: err?.message },
      'client left',
    );
    this.emit('clientLeft', info, reason, err);
    this.checkSettled();
  }

  // ------------------------------------------------------------------ admission

  private async admit(reader: AdmissionReader): Promise<void> {
    const transport = reader.transport;
    const remote = transport.remoteAddress;
    let frame: Frame;
    try {
      frame = await reader.first;
    } catch (r) {
      this.refused(remote, r as Refusal);
      return;
    }
    const nowNs = this.options.clock();
    const verdict = await verifyAdmission(frame, this.access, this.replay, nowNs);
    if (!verdict.ok) {
      await this.reject(reader, verdict);
      return;
    }
    const { credential, domain } = verdict;
    if (this._state !== 'open') {
      await this.reject(reader, refusal('shutdown', 0, 'switcher is closing', { domain }));
      return;
    }
    const claimed = await this.registry.claim(domain);
    if (!claimed.ok) {
      const why = {
        taken: 'domain is held by a live node',
        busy: 'domain is being claimed by another connection',
        full: 'no virtual IP left',
      }[claimed.reason];
      await this.reject(reader, refusal(claimed.reason, -2, why, { credential, domain }));
      return;
    }
    const claim = claimed.claim;
    let response: Uint8Array;
    try {
      response = await sealResponse(credential.password, { errCode: 0, ip: claim.ip });
    } catch (err) {
      claim.cancel();
      throw err;
    }
    if (reader.isEnded || this._state !== 'open') {
      claim.cancel();
      const r = reader.isEnded
        ? (reader.failure ?? refusal('closed', 0, 'connection closed during admission', { domain }))
        : refusal('shutdown', 0, 'switcher is closing', { domain });
      await this.reject(reader, r);
      return;
    }
    const client = new SwitcherClient(this, transport, {
      id: this.nextId++,
      ip: claim.ip,
      domain,
      mac: verdict.request.mac,
      connectedAt: Number(nowNs / 1_000_000n),
    });
    claim.commit(client);
    // The reply goes out before anything the scheduler queues for this client.
    transport.send([response]);
    this.admittedTotal++;
    this.logger.info({ domain, ip: claim.ip, remote, mac: verdict.request.mac }, 'client admitted');
    this.emit('client', client.info());
    reader.handOff(client);
    if (client.state === 'open' && !client.paused) transport.resumeReading();
  }

  /** Replies with the refusal (sealed so its client can read it), flushes, then closes. */
  private async reject(reader: AdmissionReader, r: Refusal): Promise<void> {
    const transport = reader.transport;
    this.refused(transport.remoteAddress, r);
    reader.discard();
    if (r.errCode !== 0 && !reader.isEnded) {
      const password = r.credential?.password ?? this.options.password;
      const reply = await sealResponse(password, { errCode: r.errCode });
      if (!reader.isEnded) transport.send([reply]);
    }
    // Read (and ignore) until the peer's end, so a close never resets the reply away (2.7).
    transport.resumeReading();
    transport.close();
  }

  private refused(remote: string, r: Refusal): void {
    this.refusedTotal++;
    const charged = r.errCode === -1 || r.reason === 'malformed' || r.reason === 'timeout';
    if (charged) this.limiter.fail(hostOf(remote), this.wallMs());
    this.logger.warn(
      { remote, reason: r.reason, errCode: r.errCode, domain: r.domain, err: r.message },
      'admission refused',
    );
    const info: RefusalInfo = {
      remoteAddress: remote,
      reason: r.reason,
      errCode: r.errCode,
      message: r.message,
    };
    if (r.domain !== undefined) info.domain = r.domain;
    this.emit('refused', info);
  }

  // ------------------------------------------------------------------ shutdown

  private async shutdown(ms: number): Promise<void> {
    for (const reader of this.pending)
      reader.transport.destroy(new ConnectionClosedError('switcher closing'));
    for (const c of [...this.registry.entries()]) c.close('shutdown');
    if (!(await this.settled(ms))) {
      this.logger.warn({ left: this.leaving.size }, 'shutdown timed out; destroying remaining connections');
      for (const c of [...this.leaving]) c.destroy('shutdown');
      for (const reader of this.pending) reader.transport.destroy();
      await this.settled(DESTROY_GRACE);
    }
    this._state = 'closed';
    this.logger.info({}, 'switcher closed');
    this.emit('close');
  }

  private get isSettled(): boolean {
    return this.registry.size === 0 && this.leaving.size === 0 && this.pending.size === 0;
  }

  /** Resolves true once every connection ended, false after `ms`. */
  private settled(ms: number): Promise<boolean> {
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

  private checkSettled(): void {
    if (this.onSettled !== null && this.isSettled) this.onSettled();
  }

  private wallMs(): number {
    return Number(this.options.clock() / 1_000_000n);
  }
}
