import { ConnectionClosedError, TimeoutError } from '../errors.js';

/**
 * Go's keep-alive (PROTOCOL.md 6.4): when nothing was written for one interval, ping the switcher
 * and close the connection if no answer comes in time. Unlike Go, any answer counts as alive,
 * even an error text, so a direct link to a peer that says `domain not match` stays up. The check
 * runs four times per interval, so a dead peer is found within interval + timeout (+ a quarter).
 */
export class Heartbeat {
  private readonly timer: ReturnType<typeof setInterval>;
  private lastWritten = -1;
  private lastChange = Date.now();
  private inFlight = false;
  private stopped = false;

  constructor(
    intervalMs: number,
    timeoutMs: number,
    written: () => number,
    ping: (timeoutMs: number) => Promise<number>,
    onDead: (err: Error) => void,
  ) {
    this.timer = setInterval(
      () => {
        const now = Date.now();
        const w = written();
        if (w !== this.lastWritten) {
          this.lastWritten = w;
          this.lastChange = now;
          return;
        }
        if (this.inFlight || now - this.lastChange < intervalMs) return;
        this.inFlight = true;
        const settle = (): void => {
          this.inFlight = false;
          // The ping itself is not activity.
          this.lastWritten = written();
          this.lastChange = Date.now();
        };
        ping(timeoutMs).then(settle, (err: unknown) => {
          settle();
          if (this.stopped) return;
          if (err instanceof TimeoutError) {
            onDead(new ConnectionClosedError(`heartbeat: no answer within ${timeoutMs} ms`, { cause: err }));
          }
        });
      },
      Math.max(25, intervalMs >>> 2),
    );
    (this.timer as { unref?: () => void }).unref?.();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }
}
