import { errorFields } from '../util/cause.js';
import type { Logger } from '../util/logger.js';
import type { Transport } from './types.js';

/**
 * The listeners call the application's hooks from a server's event handlers, where a throw is an
 * uncaught exception: it ended the process (a switcher serving thousands), and the connection it
 * was given was left open, half set up. Here a throw (or an async hook's rejection) is the
 * application's bug, logged at error with its stack; the listener goes on.
 */

/** `err` for a log line at error: its message (and codes) and the stack that locates the bug. */
function hookFault(err: unknown, remote: string): object {
  return { ...errorFields(err), stack: err instanceof Error ? err.stack : undefined, remote };
}

/** Runs `fail` if `result` is a promise (an async hook) that rejects; anything else is ignored. */
function onRejected(result: unknown, fail: (err: unknown) => void): void {
  if (
    result !== null &&
    typeof result === 'object' &&
    typeof (result as PromiseLike<unknown>).then === 'function'
  ) {
    (result as PromiseLike<unknown>).then(undefined, fail);
  }
}

/**
 * Gives `transport` to the application's `onTransport`. A throw or rejection is logged through
 * `logger` (contained: a logger that throws is no reason to keep the connection) and the transport
 * is destroyed: what the hook did with it is unknown, so it is nobody's.
 */
export function handOver(
  onTransport: (transport: Transport) => void,
  transport: Transport,
  logger: Logger,
): void {
  const fail = (err: unknown): void => {
    logger.error(
      hookFault(err, transport.remoteAddress),
      'onTransport threw: connection closed (still listening)',
    );
    transport.destroy();
  };
  try {
    onRejected(onTransport(transport), fail);
  } catch (err) {
    fail(err);
  }
}

/**
 * Calls `hook` with `args` for what it is told of (a refusal): a throw or rejection is logged
 * through `logger` as `name` and otherwise ignored, as there is nothing left for it to change.
 */
export function tellHook<A extends unknown[]>(
  name: string,
  hook: (...args: A) => void,
  args: A,
  remote: string,
  logger: Logger,
): void {
  const fail = (err: unknown): void => logger.error(hookFault(err, remote), `${name} threw (ignored)`);
  try {
    onRejected(hook(...args), fail);
  } catch (err) {
    fail(err);
  }
}
