import { AbortError, ConnectionClosedError, DialTimeoutError } from '../errors.js';
import type { DialTarget } from './address.js';

export interface PendingDial<T> {
  port: number;
  target: DialTarget;
  resolve: (v: T) => void;
  reject: (e: Error) => void;
  cleanup: () => void;
}

/**
 * Dials waiting for their OpenStream ACK; the ACK handler creates the stream and resolves with it
 * at once, so frames that follow the ACK in the same read find the stream registered, keyed by local port: Go matches the ACK by its
 * destination port only (PROTOCOL.md 3.2).
 */
export class PendingDials<T> {
  private readonly pending = new Map<number, PendingDial<T>>();

  get size(): number {
    return this.pending.size;
  }

  has(port: number): boolean {
    return this.pending.has(port);
  }

  get(port: number): PendingDial<T> | undefined {
    return this.pending.get(port);
  }

  /** Waits for the ACK of a dial from `port`; `onGiveUp` runs when it times out or aborts. */
  wait(
    port: number,
    target: DialTarget,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    onGiveUp: (port: number) => void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const giveUp = (err: Error): void => {
        if (!this.pending.has(port)) return;
        entry.cleanup();
        onGiveUp(port);
        reject(err);
      };
      const onAbort = (): void => giveUp(new AbortError('dial aborted'));
      const timer = setTimeout(
        () => giveUp(new DialTimeoutError(`dial ${describe(target)} timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
      (timer as { unref?: () => void }).unref?.();
      signal?.addEventListener('abort', onAbort, { once: true });
      const entry: PendingDial<T> = {
        port,
        target,
        resolve,
        reject,
        cleanup: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          this.pending.delete(port);
        },
      };
      this.pending.set(port, entry);
    });
  }

  failAll(err: Error = new ConnectionClosedError()): PendingDial<T>[] {
    const all = [...this.pending.values()];
    for (const p of all) {
      p.cleanup();
      p.reject(err);
    }
    return all;
  }
}

function describe(t: DialTarget): string {
  return 'ip' in t ? `${t.ip}:${t.port}` : `${t.domain}:${t.port}`;
}
