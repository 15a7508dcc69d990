import { now, type TimerHandle, timeout } from '../util/timers.js';

/**
 * The switcher's liveness pings to one node (PROTOCOL.md 6.3): ids are a per-client counter
 * 1..65535 that wraps, carried as the source port (0xFFFF, k); the node's ACK comes back to the
 * switcher with dst port k. Any answer counts as alive, even an error text (12.1.3), and the
 * measured round trip is the client's `rtt`. Unlike Go, a late answer can never hit a closed
 * waiter (12.2): the last ping that timed out still takes its answer's round trip, and settles
 * nothing more.
 */

interface Probe {
  sentAt: number;
  timer: TimerHandle;
  resolve(alive: boolean): void;
}

export class Liveness {
  /** ms of the last answered ping, or null. */
  rtt: number | null = null;
  private readonly probes = new Map<number, Probe>();
  private seq = 0;
  /**
   * The last ping that timed out: its answer, come late on a path slower than the wait, still
   * gives the round trip. Else such a client's rtt was never measured, and every answer it sent
   * matched nothing (the router counts that a dropped frame). One, until answered or replaced.
   */
  private late: { id: number; sentAt: number } | null = null;

  /** `onRtt` is told the round trip of every answered ping, ms. */
  constructor(private readonly onRtt?: (ms: number) => void) {}

  get pending(): number {
    return this.probes.size;
  }

  /** Sends a ping through `send(id)`; resolves true on any answer, false after `timeoutMs`. */
  start(send: (id: number) => void, timeoutMs: number): Promise<boolean> {
    this.seq = (this.seq % 0xffff) + 1;
    const id = this.seq;
    // A wrapped id still waiting has certainly timed out in spirit: settle it first.
    this.probes.get(id)?.resolve(false);
    if (this.late?.id === id) this.late = null;
    return new Promise<boolean>((resolve) => {
      const p: Probe = {
        sentAt: now(),
        timer: timeout(() => {
          this.late = { id, sentAt: p.sentAt };
          p.resolve(false);
        }, timeoutMs),
        resolve: (alive) => {
          clearTimeout(p.timer);
          if (this.probes.get(id) === p) this.probes.delete(id);
          resolve(alive);
        },
      };
      this.probes.set(id, p);
      send(id);
    });
  }

  /** An ACK with this id arrived; false if no ping waits for it (nor timed out last with it). */
  complete(id: number): boolean {
    const p = this.probes.get(id);
    if (p !== undefined) {
      this.rtt = now() - p.sentAt;
      p.resolve(true);
    } else if (this.late !== null && this.late.id === id) {
      this.rtt = now() - this.late.sentAt;
      this.late = null;
    } else {
      return false;
    }
    this.onRtt?.(this.rtt);
    return true;
  }

  /** The node left: every waiting ping fails. */
  failAll(): void {
    this.late = null;
    for (const p of [...this.probes.values()]) p.resolve(false);
  }
}
