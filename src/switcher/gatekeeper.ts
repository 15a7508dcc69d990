import type { Transport } from '../transport/types.js';
import { Burst } from '../util/burst.js';
import { errorFields } from '../util/cause.js';
import type { Logger } from '../util/logger.js';
import { MAX_CLOCK_SKEW_NS, sealResponse } from '../wire/admission/index.js';
import type { Frame } from '../wire/frame.js';
import type { AccessPolicy, Credential } from './access.js';
import {
  AdmissionReader,
  HTTP_REQUEST_REFUSAL_BODY,
  type Refusal,
  type RefusalReason,
  refusal,
  type Verified,
  verifyAdmission,
} from './admission.js';
import type { SwitcherClient } from './client.js';
import type { ResolvedSwitcherOptions } from './config.js';
import { FailureLimiter, ReplayCache } from './guards.js';
import { limitKey } from './host-key.js';
import type { Claim, ClaimResult } from './registry.js';

/**
 * The door of the switcher: every new connection passes here (PROTOCOL.md 2.6). It turns away
 * hosts over their failure budget and connections beyond the pending limit, reads the admission
 * frame, verifies it, claims the domain, and either hands the connection to the host as a new
 * client or replies with the refusal, flushed before the close (2.7), and logs why.
 */

/** A connection the switcher did not admit, as its `refused` event reports it. */
export interface RefusalInfo {
  /** The peer's address, as the transport names it. */
  remoteAddress: string;
  /** Why it was refused. */
  reason: RefusalReason;
  /** The ErrCode sent back (-1 or -2), or 0 when the connection was closed without a reply. */
  errCode: -1 | -2 | 0;
  /** A description for the log. */
  message: string;
  /** The domain asked for, when the request was readable. */
  domain?: string;
}

export interface GateHost {
  readonly options: ResolvedSwitcherOptions;
  readonly logger: Logger;
  readonly state: 'open' | 'closing' | 'closed';
  claim(domain: string): Promise<ClaimResult<SwitcherClient>>;
  /** Starts the client of a successful admission; `response` must be its first frame. */
  enroll(
    reader: AdmissionReader,
    claim: Claim<SwitcherClient>,
    v: Verified,
    response: Uint8Array,
    nowNs: bigint,
  ): void;
  refused(info: RefusalInfo): void;
  failed(err: Error): void;
  /** The set of pending admissions shrank. */
  settled(): void;
}

/** The answer to an HTTP request on a flex byte-stream port (admission.ts). */
const HTTP_REQUEST_REFUSAL = new TextEncoder().encode(
  [
    'HTTP/1.1 400 Bad Request',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${new TextEncoder().encode(HTTP_REQUEST_REFUSAL_BODY).length}`,
    'Connection: close',
    '',
    HTTP_REQUEST_REFUSAL_BODY,
  ].join('\r\n'),
);

/** Bytes a node may send behind its admission frame before the reply. */
const MAX_EARLY_BYTES = 128 * 1024;
/** Frames a node may send behind its admission frame before the reply (each costs objects too). */
const MAX_EARLY_FRAMES = 1024;
/** A second without a rate-limited refusal ends their run (see limitedAway). */
const LIMITED_QUIET_MS = 1_000;

const CLAIM_REFUSALS = {
  taken: () => 'domain is held by a live node',
  busy: () => 'domain is being claimed by another connection',
  // The registry says `full` for both (registry.ts claim): maxClients reached, or the IP pool
  // empty (retired IPs wait for their connections to end). A switcher at maxClients with plenty
  // of IPs free logged "no virtual IP left".
  full: (max: number) => `switcher is full: maxClients (${max}) nodes admitted, or no virtual IP free`,
} as const;

export class Gatekeeper {
  readonly pending = new Set<AdmissionReader>();
  refusedTotal = 0;
  /** Connections turned away beyond maxPendingAdmissions, logged as a burst (util/burst.ts). */
  private readonly overload: Burst;
  /** Connections turned away from hosts over the failed-admission limit, logged as a burst. */
  private readonly limited: Burst;
  /** HTTP requests answered on a byte-stream port, logged as a burst (a scanner sends many). */
  private readonly httpRequests: Burst;
  /** TLS handshakes closed on a byte-stream port, logged as a burst (one per client retry). */
  private readonly tlsHandshakes: Burst;
  private readonly replay: ReplayCache;
  private readonly limiter: FailureLimiter;

  constructor(
    private readonly host: GateHost,
    private readonly access: AccessPolicy,
  ) {
    const o = host.options;
    this.replay = new ReplayCache(o.replayCacheSize, MAX_CLOCK_SKEW_NS);
    this.limiter = new FailureLimiter(o.failedAdmissionBurst, o.failedAdmissionRate, o.rateLimitEntries);
    this.overload = new Burst(
      (fields) => host.logger.warn(fields, 'admissions refused: overloaded'),
      () => o.monotonicClock(),
    );
    this.limited = new Burst(
      (fields) => host.logger.warn(fields, 'admissions refused: rate-limited'),
      () => o.monotonicClock(),
    );
    this.httpRequests = new Burst(
      (fields) => host.logger.info(fields, 'admissions refused: HTTP requests'),
      () => o.monotonicClock(),
    );
    this.tlsHandshakes = new Burst(
      (fields) => host.logger.info(fields, 'admissions refused: TLS handshakes'),
      () => o.monotonicClock(),
    );
  }

  handle(transport: Transport): void {
    const remote = transport.remoteAddress;
    const o = this.host.options;
    let early: Refusal | null = null;
    const now = o.monotonicClock();
    // A run of rate-limited refusals is over after a second without one: its count is said now.
    this.limited.endIfQuiet(LIMITED_QUIET_MS);
    this.httpRequests.endIfQuiet(LIMITED_QUIET_MS);
    this.tlsHandshakes.endIfQuiet(LIMITED_QUIET_MS);
    if (this.host.state !== 'open') early = refusal('shutdown', 0, 'switcher is closing');
    else if (!this.limiter.allows(limitKey(remote), now)) {
      early = refusal('rate-limited', 0, 'too many failed admissions from this host');
    } else if (this.pending.size >= o.maxPendingAdmissions) {
      early = refusal('overloaded', 0, `${this.pending.size} admissions already pending`);
    }
    if (early !== null) {
      // No crypto and no reply for these: the cheapest way out. A reply would not be worth it
      // (overloaded included): the wire's only refusal is a sealed ErrCode -1 (bad request) or -2
      // (registration failed), with no "try later" (PROTOCOL.md 2.7), and a Go node backs off
      // from it exactly as from a close; sealing it costs a key derivation and AES-GCM per
      // connection turned away, and flushing it before the close (2.7) keeps the socket that the
      // limit is there to bound; and which password to seal it with is known only once the
      // request is read and opened (extra passwords, access.ts), the work being turned away.
      // Herds of reconnecting nodes are spread at their source instead (reconnectSpread).
      if (early.reason === 'overloaded') this.turnedAway(remote, early);
      else if (early.reason === 'rate-limited') this.limitedAway(remote, early);
      else this.refused(remote, early);
      transport.destroy();
      return;
    }
    if (this.overload.active) this.takenInOverload();
    const reader = new AdmissionReader(transport, o.admissionTimeout, MAX_EARLY_BYTES, MAX_EARLY_FRAMES);
    this.pending.add(reader);
    this.admit(reader)
      .catch((err: unknown) => {
        const e = err instanceof Error ? err : new Error(String(err));
        transport.destroy(e);
        // With the stack: the message alone does not say where the bug is (node.ts internalError).
        // Its failure kept in (the switcher's logger is a containedLogger): a logger that throws (a closed pipe) made this chain reject with
        // nobody to hear it, an unhandled rejection that ends the process, the connection left
        // open and the 'error' event not emitted.
        this.host.logger.error(
          { remote, ...errorFields(e), stack: e.stack },
          'admission failed inside the switcher',
        );
        this.host.failed(e);
      })
      .finally(() => {
        // A refused connection stays the door's until it has closed: it is closed gracefully,
        // reading on until the peer's end for up to the transport's closeTimeout, and a peer that
        // neither read nor closed held its socket that long outside maxPendingAdmissions (one
        // host sending HTTP requests, never charged, could hold thousands).
        if (reader.handedOff || reader.isEnded) this.settle(reader);
        else reader.onEnd(() => this.settle(reader));
      });
  }

  /** `reader`'s connection is no longer the door's (admitted, or refused and closed). */
  private settle(reader: AdmissionReader): void {
    if (!this.pending.delete(reader)) return;
    // Drained without any new connection taken in (the turned-away nodes wait their back-off):
    // the burst's summary must not wait for the next one.
    if (this.pending.size === 0) this.overload.end(this.load());
    this.host.settled();
  }

  /**
   * A connection turned away beyond maxPendingAdmissions. A herd of nodes reconnecting at once
   * (a switcher restart) gave one identical 'admission refused' line per connection, hundreds in
   * a few ms: now the first is logged, the rest summed up.
   */
  private turnedAway(remote: string, r: Refusal): void {
    const first = this.overload.hit(this.load());
    this.refused(remote, r, first ? { more: 'further refusals while overloaded are summed up' } : null);
  }

  /**
   * A connection from a host over the failed-admission limit, turned away unheard. A password
   * guesser (or a node behind the same NAT with a wrong password) connecting as fast as it can
   * gave one line per connection: now the first of a run is logged, the rest summed up, at most
   * a line a second, with the latest host.
   */
  private limitedAway(remote: string, r: Refusal): void {
    const first = this.limited.hit({ remote });
    this.refused(remote, r, first ? { more: 'further rate-limited refusals are summed up' } : null);
  }

  /**
   * A connection taken in during a burst. Only with pending down to half the limit is the burst
   * over: in a herd the count hovers at the limit, one in as one settles and the next turned
   * away, and ending the burst at every admission gave two lines per refusal again.
   */
  private takenInOverload(): void {
    if (this.pending.size <= this.host.options.maxPendingAdmissions / 2) this.overload.end(this.load());
    else this.overload.tick(this.load());
  }

  private load(): object {
    return { pending: this.pending.size, maxPendingAdmissions: this.host.options.maxPendingAdmissions };
  }

  /** Drops every connection still in admission. */
  destroyPending(err?: Error): void {
    for (const reader of this.pending) reader.transport.destroy(err);
  }

  private async admit(reader: AdmissionReader): Promise<void> {
    const remote = reader.transport.remoteAddress;
    let frame: Frame;
    try {
      frame = await reader.first;
    } catch (r) {
      // A bug of ours while the frame was read (AdmissionReader.fault), not the node's refusal.
      if (r instanceof Error) throw r;
      if ((r as Refusal).reason === 'http') return this.answerHttp(reader, r as Refusal);
      if ((r as Refusal).reason === 'tls') return this.closeTls(reader, r as Refusal);
      // Cut off by the switcher's own close (destroyPending), not by its peer: a `closed` here
      // told the operator, at every stop, that a client had hung up mid-admission.
      const cutByClose = (r as Refusal).reason === 'closed' && this.host.state !== 'open';
      this.refused(remote, cutByClose ? refusal('shutdown', 0, 'switcher is closing') : (r as Refusal));
      return;
    }
    // The door only saw the host's past failures; this also counts its attempts in check.
    const host = limitKey(remote);
    if (!(await this.limiter.reserve(host, () => this.host.options.monotonicClock()))) {
      return this.reject(reader, refusal('rate-limited', 0, 'too many failed admissions from this host'));
    }
    const nowNs = this.host.options.clock();
    let verdict: Verified;
    try {
      const v = await verifyAdmission(frame, this.access, this.replay, nowNs);
      // reject() charges the failure as it is called, so before the release lets waiters look.
      if (!v.ok) return this.reject(reader, v);
      verdict = v;
    } finally {
      this.limiter.release(host);
    }
    const { credential, domain } = verdict;
    if (this.host.state !== 'open')
      return this.reject(reader, refusal('shutdown', 0, 'switcher is closing', { domain }));
    const claimed = await this.host.claim(domain);
    if (!claimed.ok) {
      return this.reject(
        reader,
        refusal(claimed.reason, -2, CLAIM_REFUSALS[claimed.reason](this.host.options.maxClients), {
          credential,
          domain,
        }),
      );
    }
    const claim = claimed.claim;
    let response: Uint8Array;
    try {
      response = await sealResponse(credential.password, { errCode: 0, ip: claim.ip });
    } catch (err) {
      claim.cancel();
      throw err;
    }
    // The fault first, and whether the transport has told of its end yet or not (a TCP socket
    // tells in a later tick): a connection the reader gave up on is no client to admit.
    if (reader.fault !== null) {
      claim.cancel();
      throw reader.fault;
    }
    // A refusal the reader made (a flood behind the admission frame) likewise, told of or not:
    // admitted, the flooder was neither refused nor charged, and left as an 'error' just after.
    if (reader.failure !== null || reader.isEnded || this.host.state !== 'open') {
      claim.cancel();
      const r =
        reader.failure ??
        (reader.isEnded
          ? refusal('closed', 0, 'connection closed during admission', { domain })
          : refusal('shutdown', 0, 'switcher is closing', { domain }));
      return this.reject(reader, r);
    }
    const changed = this.rulesChanged(credential, domain);
    if (changed !== undefined) {
      claim.cancel();
      return this.reject(reader, changed);
    }
    this.host.enroll(reader, claim, verdict, response, nowNs);
  }

  /**
   * Why the access rules in use now refuse what `credential` let in, or undefined. The passwords
   * were checked as the admission began, and a takeover then waits up to livenessTimeout on the
   * holder's answer: a reload meanwhile (setAccess, setPassword) that removed the password, or
   * the domain from its patterns, saw the node admitted after it, and after the kick the operator
   * sent once the reload said the rules were replaced.
   */
  private rulesChanged(credential: Credential, domain: string): Refusal | undefined {
    const now = this.access.credentials.find((c) => c.password === credential.password);
    if (now === undefined) {
      return refusal('decrypt', -1, 'the password was removed during the admission (a reload)', {
        credential,
        domain,
      });
    }
    if (now.allows(domain)) return undefined;
    return refusal(
      'forbidden',
      -1,
      `password #${now.index + 1} may no longer register domain "${domain}" (a reload during the admission)`,
      { credential, domain },
    );
  }

  /** Replies with the refusal (sealed so its client can read it), flushes, then closes. */
  private async reject(reader: AdmissionReader, r: Refusal): Promise<void> {
    const transport = reader.transport;
    this.refused(transport.remoteAddress, r);
    reader.discard();
    if (r.errCode !== 0 && !reader.isEnded) {
      const password = r.credential?.password ?? this.host.options.password;
      const reply = await sealResponse(password, { errCode: r.errCode });
      if (!reader.isEnded) transport.send([reply]);
    }
    // Read (and ignore) until the peer's end, so a close never resets the reply away (2.7).
    transport.resumeReading();
    transport.close();
  }

  /**
   * An HTTP request on a flex byte-stream port: answered in HTTP, so that a WebSocket client
   * (a ws:// URL given the tcp:// port) fails at once with the reason instead of waiting for the
   * admission timeout on every attempt, and curl or a browser read what the port is. Then closed
   * as a refusal is: reading (and ignoring) until the peer's end, so the answer is not reset away.
   */
  private answerHttp(reader: AdmissionReader, r: Refusal): void {
    const transport = reader.transport;
    const remote = transport.remoteAddress;
    // As rate-limited refusals: the first of a run in full, the rest summed up, at most a line a
    // second, with the latest host (a misconfigured node's retries, seconds apart, each get theirs).
    const first = this.httpRequests.hit({ remote });
    this.refused(remote, r, first ? { more: 'further HTTP requests are summed up' } : null);
    if (!reader.isEnded) transport.send([HTTP_REQUEST_REFUSAL]);
    transport.resumeReading();
    transport.close();
  }

  /**
   * A TLS handshake on a flex byte-stream port (a tls:// or wss:// URL given the tcp:// port):
   * closed at once, so that the client fails now rather than at the admission timeout, as an
   * HTTP request is answered (answerHttp; a TLS client could read no answer of ours), and logged
   * as one is, and not charged either: it is a misconfigured client's mistake too.
   */
  private closeTls(reader: AdmissionReader, r: Refusal): void {
    const transport = reader.transport;
    const remote = transport.remoteAddress;
    const first = this.tlsHandshakes.hit({ remote });
    this.refused(remote, r, first ? { more: 'further TLS handshakes are summed up' } : null);
    transport.resumeReading();
    transport.close();
  }

  /** Counts, charges and reports a refusal; logs it too unless `extra` is null (summed up). */
  private refused(remote: string, r: Refusal, extra: object | null = {}): void {
    this.refusedTotal++;
    const charged = r.errCode === -1 || r.reason === 'malformed' || r.reason === 'timeout';
    if (charged) this.limiter.fail(limitKey(remote), this.host.options.monotonicClock());
    // Its failure kept in (the switcher's logger is a containedLogger): a logger that throws (a closed pipe) threw out of handle() into the
    // listener's connection handler, an uncaught exception that ends the process, at the first
    // connection turned away (a flood is what brings them), that connection left open.
    this.logRefusal(remote, r, extra);
    const info: RefusalInfo = {
      remoteAddress: remote,
      reason: r.reason,
      errCode: r.errCode,
      message: r.message,
    };
    if (r.domain !== undefined) info.domain = r.domain;
    this.host.refused(info);
  }

  /** The `admission refused` line of `r`; none when `extra` is null (summed up in a burst). */
  private logRefusal(remote: string, r: Refusal, extra: object | null): void {
    if (r.reason === 'shutdown') {
      // The switcher's own doing, as a client's `client left` with reason shutdown: no fault.
      if (extra !== null) {
        this.host.logger.info(
          { remote, reason: r.reason, domain: r.domain, err: r.message },
          'admission refused',
        );
      }
    } else if (r.reason === 'http' || r.reason === 'tls') {
      // Not charged: an HTTP request (or a TLS handshake) guesses no password, costs no crypto,
      // and charging it would soon turn away, unheard, every node behind the same address as a
      // misconfigured one. Not a warning either: it is the client's mistake, and answered (or
      // closed at once); info says which host still has the wrong URL.
      if (extra !== null) {
        this.host.logger.info({ remote, reason: r.reason, err: r.message, ...extra }, 'admission refused');
      }
    } else if (extra !== null) {
      this.host.logger.warn(
        { remote, reason: r.reason, errCode: r.errCode, domain: r.domain, err: r.message, ...extra },
        'admission refused',
      );
    }
  }
}
