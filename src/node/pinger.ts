import { defaults } from '../config.js';
import {
  AbortError,
  ConfigError,
  ConnectionClosedError,
  LimitError,
  PingError,
  TimeoutError,
} from '../errors.js';
import { shown } from '../util/check.js';
import { Deque } from '../util/deque.js';
import { whenAborted } from '../util/signals.js';
import { now, timeout } from '../util/timers.js';
import { MAX_PAYLOAD } from '../wire/constants.js';
import { encodeUtf8 } from '../wire/utf8.js';

interface PendingPing {
  resolve: (rtt: number) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
  cleanup: () => void;
  sentAt: number;
  /** What is pinged, for messages: a domain, or `the switcher`. */
  target: string;
  /** Puts the request on the wire (again, for resend()). */
  send: (id: number) => void;
  /** Sent twice (resend()): the answer to the other request can still come after the first. */
  twice: boolean;
}

/**
 * Given to Pinger.start() by a caller that may have to ask again (the heartbeat, after a wake):
 * the pinger sets `resend`, which sends the request again under the same id with a new timeout,
 * and returns false once the ping is over.
 */
export interface PingAgain {
  resend?: (timeoutMs: number) => boolean;
}

/** How a ping's messages name its target: the domain, or the switcher for an empty one. */
export function pingTarget(domain: string): string {
  return domain === '' ? 'the switcher' : domain;
}

/**
 * The payload of a ping of `domain`, or ConfigError for one too long to send: the size field has
 * 16 bits, and a longer payload went out under a truncated size, the peer reading the rest of it
 * as frames. Shared by the node and the session, which checks it before waiting for a connection.
 */
export function pingPayload(domain: string): Uint8Array {
  // A JavaScript caller's ping(null) failed with a TypeError, and ping(5) or ping({}) went out as
  // the text '5' or '[object Object]'.
  if (typeof domain !== 'string') throw new ConfigError(`ping domain must be a string, got ${shown(domain)}`);
  const payload = encodeUtf8(domain);
  if (payload.length > MAX_PAYLOAD)
    throw new ConfigError(`ping domain of ${payload.length} bytes is too long`);
  return payload;
}

/**
 * Ping ids 1..65535, handed out in turn, skipping those in use. Not the most recently freed first,
 * as dial ports were (PortPool keeps them in line now too): the id of a ping that gave up left
 * its quarantine for the top of that list, so once the first 65,535 had been used the next ping
 * took it, and an answer that came later still (a slow peer, a deep path) completed that ping. In
 * turn, an id comes back only after every other free one.
 */
class PingIds {
  readonly #used = new Set<number>();
  private next = 1;

  /** A free id, or -1 when all are in use. */
  take(): number {
    for (let n = 0; n < 0xffff; n++) {
      const id = this.next;
      this.next = id === 0xffff ? 1 : id + 1;
      if (!this.#used.has(id)) {
        this.#used.add(id);
        return id;
      }
    }
    return -1;
  }

  release(id: number): void {
    this.#used.delete(id);
  }
}

/** Slots the emptied quarantine rings may keep (8 bytes each); beyond, they shrink (Deque.trim). */
const KEEP_COOLING = 256;

/** Outstanding pings, keyed by ping id (the request's source port, PROTOCOL.md 6.1). */
export class Pinger {
  private readonly ids = new PingIds();
  private readonly pending = new Map<number, PendingPing>();
  /**
   * Ids of pings that gave up (timeout, abort), oldest first, and when each may be used again:
   * their answer can still come, and must not complete a later ping that took the id (ids come
   * round in turn, but sooner while most are in use). Released lazily, by the next start().
   */
  private readonly cooling = new Deque<number>();
  private readonly coolUntil = new Deque<number>();

  /** @param quarantineMs how long the id of a ping that gave up stays out of use (the node's retention) */
  constructor(private readonly quarantineMs: number = defaults.retention) {}

  get size(): number {
    return this.pending.size;
  }

  /**
   * Registers a ping of `target` (named in its errors); `send(id)` puts the request on the wire.
   * Resolves to the RTT in ms.
   */
  start(
    send: (id: number) => void,
    timeoutMs: number,
    signal?: AbortSignal,
    target = 'the switcher',
    again?: PingAgain,
  ): Promise<number> {
    if (signal?.aborted)
      return Promise.reject(new AbortError(`ping ${target} aborted`, { cause: signal.reason }));
    const t = now();
    if (this.coolUntil.length > 0 && this.coolUntil.peek()! <= t) {
      do {
        this.coolUntil.shift();
        this.ids.release(this.cooling.shift()!);
      } while (this.coolUntil.length > 0 && this.coolUntil.peek()! <= t);
      // Rings never shrink by themselves: after a mass timeout (up to 65,535 ids) a node kept
      // ~1 MiB of empty slots for good. Only where ids were released, so no cost per ping.
      this.cooling.trim(KEEP_COOLING);
      this.coolUntil.trim(KEEP_COOLING);
    }
    const id = this.ids.take();
    if (id < 0) return Promise.reject(new LimitError('all 65535 ping ids are in use'));
    return new Promise<number>((resolve, reject) => {
      const onAbort = (): void =>
        this.fail(id, new AbortError(`ping ${target} aborted`, { cause: signal?.reason }), true);
      // Heard through whenAborted: the pings sharing one signal (a node's admin RTT
      // round: its switcher and up to 16 peer domains at once) share one listener on it. With a
      // listener each, the eleventh made Node.js warn of a leak (MaxListenersExceededWarning).
      const unlisten = signal === undefined ? undefined : whenAborted(signal, onAbort);
      const p: PendingPing = {
        resolve,
        reject,
        timer: this.#timeoutOf(id, target, timeoutMs),
        cleanup: () => {
          clearTimeout(p.timer);
          unlisten?.();
          this.pending.delete(id);
        },
        sentAt: now(),
        target,
        send,
        twice: false,
      };
      this.pending.set(id, p);
      if (again !== undefined) again.resend = (ms) => this.#resend(id, ms);
      send(id);
    });
  }

  #timeoutOf(id: number, target: string, timeoutMs: number): ReturnType<typeof setTimeout> {
    return timeout(
      () => this.fail(id, new TimeoutError(`ping ${target} timed out after ${timeoutMs} ms`), true),
      timeoutMs,
    );
  }

  /**
   * Sends pending ping `id` again, under the same id, with a new timeout from now; false when it
   * is over. A ping sent again takes no second id: a heartbeat's ping out across a sleep, dropped
   * for a new one, kept its id in use until its timeout, and the new one took another.
   */
  #resend(id: number, timeoutMs: number): boolean {
    const p = this.pending.get(id);
    if (!p) return false;
    clearTimeout(p.timer);
    p.timer = this.#timeoutOf(id, p.target, timeoutMs);
    p.sentAt = now();
    p.twice = true;
    p.send(id);
    return true;
  }

  /** A PingDomain ACK for `id`: empty payload is success, anything else an error text. */
  complete(id: number, errorText: string): boolean {
    const p = this.pending.get(id);
    if (!p) return false;
    p.cleanup();
    // The answer to the other request may follow: kept out of use, as a ping that gave up.
    if (p.twice) this.#cool(id);
    else this.ids.release(id);
    if (errorText === '') p.resolve(now() - p.sentAt);
    else p.reject(new PingError(errorText, { target: p.target }));
    return true;
  }

  /**
   * Fails a pending ping. `cool`: it gives up on an answer that may still come (timeout, abort),
   * so its id stays out of use for the quarantine before the pool hands it out again.
   */
  fail(id: number, err: Error, cool = false): void {
    const p = this.pending.get(id);
    if (!p) return;
    p.cleanup();
    if (cool || p.twice) this.#cool(id);
    else this.ids.release(id);
    p.reject(err);
  }

  /** Keeps `id` out of use for the quarantine (none: released now). */
  #cool(id: number): void {
    if (this.quarantineMs > 0) {
      this.cooling.push(id);
      this.coolUntil.push(now() + this.quarantineMs);
    } else {
      this.ids.release(id);
    }
  }

  failAll(err: Error = new ConnectionClosedError()): void {
    for (const id of [...this.pending.keys()]) this.fail(id, err);
  }
}
