/**
 * Throws `err` from a microtask of its own: an error of the application's code, thrown by a
 * handler that flexmux called (a stream's 'data', 'readable' or 'drain' handler, a write's
 * callback), surfaces as an uncaught exception with its own stack, as a throw in a net.Socket's
 * 'data' handler does, and not into the flexmux code that happened to make the event: there it
 * was taken for the peer's protocol error, or stopped a stream's bookkeeping halfway.
 */
export function rethrowLater(err: unknown): void {
  queueMicrotask(() => {
    throw err;
  });
}
