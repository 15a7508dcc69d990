import { AbortError, ConnectionClosedError, DialTimeoutError } from '../errors.js';
import { whenAborted } from '../util/signals.js';
import { now, timeout } from '../util/timers.js';
import { type DialTarget, formatTarget } from './address.js';

/** A dial waiting for its OpenStream ACK. */
export interface PendingDial<T> {
  readonly port: number;
  readonly target: DialTarget;
  /** The window offered in the OpenStream. */
  readonly offer: number;
  resolve(v: T): void;
  reject(e: Error): void;
}

class Entry<T> implements PendingDial<T> {
  /** Stops hearing its caller's signal (whenAborted), when it has one. */
  unlisten: (() => void) | null = null;
  constructor(
    readonly port: number,
    readonly target: DialTarget,
    readonly offer: number,
    readonly timeoutMs: number,
    readonly deadline: number,
    readonly usual: boolean,
    readonly resolve: (v: T) => void,
    readonly reject: (e: Error) => void,
  ) {}
}

/**
 * Dials waiting for their OpenStream ACK, keyed by local port: Go matches the ACK by its
 * destination port only (PROTOCOL.md 3.2). The ACK handler takes the dial and resolves it at once,
 * so frames that follow the ACK in the same read find the stream registered.
 *
 * Deadlines share one timer, armed for the earliest: a dial costs no timer of its own (thousands
 * of opens per second are a normal load). Dials with the usual timeout expire in the order they
 * were made, so the timer finds the next deadline without a scan.
 */
export class PendingDials<T> {
  private readonly pending = new Map<number, Entry<T>>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  #timerAt = 0;
  /** Pending dials whose timeout differs from the usual one. */
  #unusual = 0;
  private readonly fire = (): void => this.#expire();

  /**
   * @param usualTimeout the timeout most dials use (the node's dialTimeout)
   * @param onGiveUp runs when a dial times out, is aborted or abandoned, before its promise rejects
   */
  constructor(
    private readonly usualTimeout: number,
    private readonly onGiveUp: (port: number) => void,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  has(port: number): boolean {
    return this.pending.has(port);
  }

  /** Waits for the ACK of a dial from `port`. */
  wait(
    port: number,
    target: DialTarget,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    offer = 0,
  ): Promise<T> {
    // Monotonic (util/timers now()): by the wall clock, a step back kept dials waiting that long.
    const deadline = now() + timeoutMs;
    const usual = timeoutMs === this.usualTimeout;
    let entry!: Entry<T>;
    const promise = new Promise<T>((resolve, reject) => {
      entry = new Entry(port, target, offer, timeoutMs, deadline, usual, resolve, reject);
    });
    if (signal !== undefined) {
      const e = entry;
      // Through whenAborted: the dials sharing one signal (a program's shutdown signal, given to
      // every dial) share one listener on it. With a listener each, the eleventh dial in flight
      // made Node.js warn of a leak (MaxListenersExceededWarning).
      e.unlisten = whenAborted(signal, () =>
        this.#giveUp(e, new AbortError(`dial ${formatTarget(target)} aborted`, { cause: signal.reason })),
      );
    }
    if (!usual) this.#unusual++;
    this.pending.set(port, entry);
    if (this.timer === null || deadline < this.#timerAt) this.#arm(deadline);
    return promise;
  }

  /** The dial waiting on `port`, left waiting. */
  get(port: number): PendingDial<T> | undefined {
    return this.pending.get(port);
  }

  /** Removes and returns the dial waiting on `port` (its ACK arrived), if any. */
  take(port: number): PendingDial<T> | undefined {
    const e = this.pending.get(port);
    if (e === undefined) return undefined;
    this.#remove(e);
    return e;
  }

  /**
   * Gives up the dial waiting on `port`, as a timeout would (the port is quarantined, the promise
   * rejects with `err`); false if none waits there.
   */
  abandon(port: number, err: Error): boolean {
    const e = this.pending.get(port);
    if (e === undefined) return false;
    this.#giveUp(e, err);
    return true;
  }

  /** Fails every dial waiting, except those on a port `keep` says to leave waiting. */
  failAll(err: Error = new ConnectionClosedError(), keep?: (port: number) => boolean): PendingDial<T>[] {
    const all = [...this.pending.values()].filter((e) => keep === undefined || !keep(e.port));
    for (const e of all) {
      this.#remove(e);
      e.reject(err);
    }
    return all;
  }

  #giveUp(e: Entry<T>, err: Error): void {
    if (this.pending.get(e.port) !== e) return;
    this.#remove(e);
    this.onGiveUp(e.port);
    e.reject(err);
  }

  #remove(e: Entry<T>): void {
    this.pending.delete(e.port);
    if (!e.usual) this.#unusual--;
    e.unlisten?.();
    if (this.pending.size === 0 && this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  #arm(at: number): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.#timerAt = at;
    this.timer = timeout(this.fire, Math.max(0, at - now()));
  }

  #expire(): void {
    this.timer = null;
    const t = now();
    const due: Entry<T>[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const e of this.pending.values()) {
      if (e.deadline <= t) {
        due.push(e);
      } else if (e.deadline < next) {
        next = e.deadline;
        // Usual dials sit in deadline order: with no other kind pending, the rest are later.
        if (this.#unusual === 0) break;
      }
    }
    for (const e of due) {
      this.#giveUp(
        e,
        new DialTimeoutError(`dial ${formatTarget(e.target)} timed out after ${e.timeoutMs} ms`),
      );
    }
    if (next !== Number.POSITIVE_INFINITY && this.pending.size > 0 && this.timer === null) this.#arm(next);
  }
}
