import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ConfigError } from './errors.js';
import { shown } from './util/check.js';

/**
 * Joins two byte streams in both directions, typically a TCP socket and a `FlexStream`: a tunnel,
 * what `flexmux node --expose` and `--forward` run for each connection. Use it rather than
 * `stream.pipeline(a, b, a)` or a pair of `pipe()`s, which end a TCP socket with a FIN when the
 * other side fails, so that the program at its far end takes a cut-off transfer for a whole one.
 *
 * - Half-close both ways: when one side ends its writing, the other side's writing is ended too,
 *   and the opposite direction keeps flowing until it ends as well. Both sides need
 *   `allowHalfOpen` (a `FlexStream` has it; give it to `net.connect` and `net.createServer`):
 *   with a side without it, or a side that is no stream, splice rejects with a `ConfigError`,
 *   touching neither side.
 * - Backpressure both ways, as `pipe()` gives it.
 * - A failure is passed on as a failure: when either side fails, or closes before finishing both
 *   directions, the other is destroyed with the same error. A flex stream so destroyed sends a
 *   reset to its peer (a Go peer, plain v3, gets a close: docs/manual.md, section 3). A
 *   connected TCP socket is reset (RST, `resetAndDestroy()`), not closed with a FIN, so its peer
 *   sees ECONNRESET, not the end of the data. A socket's reset that Node reports as a plain
 *   `'end'` is told apart and passed on as a reset too (reportedReset). A TLS socket
 *   (`tls.TLSSocket`) is reset through the TCP socket under it: one a `tls.Server` accepted, or
 *   one made by `tls.connect({ socket })`. Node keeps none under one made by
 *   `tls.connect({ host, port })`: it is destroyed, and its peer sees a close.
 * - Data one side sends after the other has closed in both directions cannot be delivered: the
 *   sender is reset rather than left half-open.
 * - A side already destroyed when splice is called (a client that hung up while the dial for it
 *   waited) is a failure too: the other side is aborted at once.
 *
 * Rejects only with such a `ConfigError`. Resolves once both sides have closed: to undefined when
 * both directions ended cleanly, else to the first error (the one a side failed with, or one
 * saying that a side closed before finishing or that data could not be delivered), for logging.
 */
export function splice(a: Duplex, b: Duplex): Promise<Error | undefined> {
  // Without allowHalfOpen a Duplex ends its own writing at the end of its data (net.Socket's
  // default): a client's request ended with a FIN got a FIN back before the answer, which then
  // had nowhere to go, and the client read an empty answer to a clean end.
  // A promise's call rejects with its ConfigError rather than throwing it (docs/errors.md).
  // A side that is no stream (null, a plain object) threw a TypeError from the call, or
  // rejected with one from inside, neither saying which argument was wrong.
  for (const [name, side] of [
    ['first', a],
    ['second', b],
  ] as const) {
    if (!isDuplex(side)) {
      return Promise.reject(
        new ConfigError(`splice() takes two Duplex streams; its ${name} argument is ${shown(side)}`),
      );
    }
  }
  if (a.allowHalfOpen === false || b.allowHalfOpen === false) {
    return Promise.reject(
      new ConfigError(
        'splice() needs both sides to allow half-open: create sockets with allowHalfOpen: true ' +
          '(net.connect, net.createServer), or the answer to a request ended by its sender is lost',
      ),
    );
  }
  if (a.destroyed || b.destroyed) return spliceDestroyed(a, b);
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
      // it was a reset in disguise: reportedReset. A socket still writing can be asked only once
      // its writes are out: taken at its word, a reset heard as an end while `self` wrote to a
      // slow reader ended `other` cleanly, and the failure of the write came too late to undo it.
      self.on('end', () => {
        afterOwnWrites(self, () => {
          if (!other.destroyed && !reportedReset(self)) other.end();
        });
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

/**
 * splice() of a side already destroyed: a TCP client that hung up while the dial for it waited,
 * a stream reset before its accept was handled. Its 'close' may be past, so it is not waited for
 * (splice would never settle, and the other side stay open for good); nothing can pass to or
 * from it, so the other side is aborted as on any failure.
 */
function spliceDestroyed(a: Duplex, b: Duplex): Promise<Error | undefined> {
  const err = a.errored ?? b.errored ?? new Error('the other side closed before finishing');
  const live = a.destroyed ? b : a;
  if (live.destroyed) return Promise.resolve(err);
  return new Promise((resolve) => {
    live.on('error', () => {});
    live.once('close', () => resolve(err));
    abort(live, err);
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
 * writing is asked once its writes are out: afterOwnWrites. One ended is taken at its word.)
 */
function reportedReset(d: Duplex): boolean {
  if (!(d instanceof Socket) || d.destroyed || d.writableEnded || d.writableLength > 0) return false;
  d.write(NOTHING);
  return d.errored !== null;
}

/**
 * Calls `then` once what a socket had queued to write has gone out: at once when nothing is
 * queued (or `d` is no socket), after its last write (or its end) otherwise; never when those
 * fail, as after a reset: the socket is then destroyed with the error, which splice passes on.
 */
function afterOwnWrites(d: Duplex, then: () => void): void {
  if (!(d instanceof Socket) || d.destroyed || d.writableLength === 0) then();
  else if (d.writableEnded) d.once('finish', then);
  else {
    d.write(NOTHING, (err) => {
      if (!err) then();
    });
  }
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
    const tcp = socketUnder(d);
    try {
      // A TLS socket: the TCP socket under it is reset. Destroyed alone, it closed with a FIN
      // and no close_notify, which a Node TLS peer reads as a clean end of the data. The TLS
      // socket closes once that one has (Node destroys it then); it must not be destroyed before:
      // Node 20 then frees its TLS state under the reset still closing, and crashes (SIGSEGV).
      // (Reset already, the TCP socket takes a second reset as a no-op.)
      tcp.resetAndDestroy();
      return;
    } catch {
      // Node resets only a plain TCP handle and throws (ERR_INVALID_HANDLE_TYPE): a TLS socket
      // with none under it to reach, or over a pipe. Thrown from an event listener, it ended the
      // process. Destroyed, its peer sees a close.
    }
  }
  d.destroy(err);
}

/**
 * The socket a `tls.TLSSocket` was made over, and so on down; `d` itself when it wraps none.
 * Node keeps it as `_parent` (undocumented, but set since TLSSocket exists) for a socket that a
 * `tls.Server` accepted, or that `tls.connect({ socket })` was given; `tls.connect({ host, port })`
 * makes its TCP handle itself, and no socket is kept.
 */
function socketUnder(d: Socket): Socket {
  const parent: unknown = (d as { _parent?: unknown })._parent;
  return parent instanceof Socket && parent !== d ? socketUnder(parent) : d;
}

/** Whether `v` has what splice uses of a Duplex: its events, pipe(), end() and destroy(). */
function isDuplex(v: unknown): v is Duplex {
  if (typeof v !== 'object' || v === null) return false;
  const d = v as Partial<Record<'on' | 'pipe' | 'end' | 'destroy', unknown>>;
  return (
    typeof d.on === 'function' &&
    typeof d.pipe === 'function' &&
    typeof d.end === 'function' &&
    typeof d.destroy === 'function'
  );
}
