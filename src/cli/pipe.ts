import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * Joins two byte streams (a TCP socket and a flex stream) in both directions and carries the
 * half-close across: when one side ends its writing, the other side's writing is ended too, and
 * the opposite direction keeps flowing until it ends as well. Both sides need allowHalfOpen
 * (FlexStream has it; create net sockets with it). `pipe` gives backpressure both ways.
 *
 * When either side fails or closes before finishing both directions, the other is destroyed with
 * the same error, so a reset on the flex side resets the TCP connection and vice versa. A TCP
 * socket is aborted with a RST, not a FIN: destroy() alone would close it like a clean end, and
 * the program on the other end would take a cut-off transfer for a whole one. A socket's reset
 * that Node reports as the end of its data is told apart and passed on as a reset (reportedReset).
 * Resolves once both sides closed: with the first error, or undefined for a clean end.
 */
export function splice(a: Duplex, b: Duplex): Promise<Error | undefined> {
  return new Promise((resolve) => {
    let firstError: Error | undefined;
    let open = 2;
    const watch = (self: Duplex, other: Duplex): void => {
      self.on('error', (err: Error) => {
        firstError ??= err;
        abort(other, err);
      });
      // `other` can close in both directions while `self` still sends (a flex stream closed by
      // its peer, which read no further): those bytes have nowhere to go, like data that meets
      // a closed TCP socket, and the sender is reset rather than left hanging half-open.
      self.on('data', () => {
        if (!other.destroyed || self.destroyed) return;
        const err = new Error('the other side closed: data could not be delivered');
        firstError ??= err;
        abort(self, err);
      });
      // The end of `self`'s data ends `other`'s writing (the pipes below leave that to this), unless
      // it was a reset in disguise: reportedReset.
      self.on('end', () => {
        if (!reportedReset(self)) other.end();
      });
      self.on('close', () => {
        // Closing without both directions finished is an abort: pass it on.
        const clean = self.readableEnded && self.writableFinished;
        if (!clean && !other.destroyed) {
          const err = firstError ?? new Error('the other side closed before finishing');
          firstError ??= err;
          abort(other, err);
        } else if (!other.destroyed && !other.readableEnded) {
          // Keep reading what `other` still sends: its end is clean, any data is undeliverable.
          other.unpipe(self);
          other.resume();
        }
        if (--open === 0) resolve(firstError);
      });
    };
    watch(a, b);
    watch(b, a);
    a.pipe(b, { end: false });
    b.pipe(a, { end: false });
  });
}

const NOTHING = Buffer.alloc(0);

/**
 * Whether the end of a TCP socket's data was in fact a reset. libuv (Node on Linux) can report a
 * reset as the end of the data, 'end' and no 'error': a server that sent part of its answer to a
 * request and then reset was heard so every time. The kernel knows better: writing to the socket,
 * even nothing, fails (ECONNRESET, EPIPE) after a reset, and succeeds after a FIN, the peer only
 * done sending. So a socket free to write is written nothing: a failure sets `errored` at once,
 * and destroys the socket with it next tick, whose 'error' passes the reset on. (A socket still
 * writing, or ended, is taken at its word: a pending write of its own fails the same way, later.)
 */
function reportedReset(d: Duplex): boolean {
  if (!(d instanceof Socket) || d.destroyed || d.writableEnded || d.writableLength > 0) return false;
  d.write(NOTHING);
  return d.errored !== null;
}

/** Destroys `d` with `err`; a connected TCP socket is reset (RST), so its peer sees the abort. */
function abort(d: Duplex, err: Error): void {
  if (d.destroyed) return;
  // A socket still connecting has sent nothing: closing it is enough. Nor can one be reset while
  // its FIN is under way (ended, not finished): libuv refuses (EINVAL) and Node then never closes
  // it. Its peer has the FIN already or soon; closing the socket is what is left. The FIN is under
  // way only once the socket's own buffer has emptied (Node shuts down after the last write):
  // ended with bytes still waiting for a slow reader, it is reset, or destroying it would drop
  // those bytes and close with a FIN, and the reader take the cut-off data for all of it.
  const shuttingDown = d.writableEnded && !d.writableFinished && d.writableLength === 0;
  if (d instanceof Socket && !d.connecting && !d.pending && !shuttingDown) {
    d.resetAndDestroy();
    return;
  }
  d.destroy(err);
}
