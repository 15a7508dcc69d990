import type { Duplex } from 'node:stream';

/**
 * Joins two byte streams (a TCP socket and a flex stream) in both directions and carries the
 * half-close across: when one side ends its writing, the other side's writing is ended too, and
 * the opposite direction keeps flowing until it ends as well. Both sides need allowHalfOpen
 * (FlexStream has it; create net sockets with it). `pipe` gives backpressure both ways.
 *
 * When either side fails or closes before finishing both directions, the other is destroyed with
 * the same error, so a reset on the flex side resets the TCP connection and vice versa.
 * Resolves once both sides closed: with the first error, or undefined for a clean end.
 */
export function splice(a: Duplex, b: Duplex): Promise<Error | undefined> {
  return new Promise((resolve) => {
    let firstError: Error | undefined;
    let open = 2;
    const watch = (self: Duplex, other: Duplex): void => {
      self.on('error', (err: Error) => {
        firstError ??= err;
        other.destroy(err);
      });
      self.on('close', () => {
        // Closing without both directions finished is an abort: pass it on.
        const clean = self.readableEnded && self.writableFinished;
        if (!clean && !other.destroyed) {
          const err = firstError ?? new Error('the other side closed before finishing');
          firstError ??= err;
          other.destroy(err);
        }
        if (--open === 0) resolve(firstError);
      });
    };
    watch(a, b);
    watch(b, a);
    a.pipe(b);
    b.pipe(a);
  });
}
