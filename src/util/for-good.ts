import { causeChain } from './cause.js';

/**
 * Errors that no retry mends, marked where they are made: a dial's failure on a certificate this
 * client does not trust, or on a port that answered a TLS dial in plain text. The Node.js
 * transports know those by the runtime's codes (transport/tls-failure.ts) and mark them; the
 * runtime-neutral core only asks (node/refusal.ts), so the browser build carries no list of
 * OpenSSL's codes, which a browser's WebSocket never reports.
 */
const marked = new WeakSet<object>();

/** Marks `err` as a failure the next attempt will meet again; returns it. */
export function markForGood<E extends object>(err: E): E {
  marked.add(err);
  return err;
}

/** Whether `err`, or an error in its `cause` chain, was marked by markForGood. */
export function markedForGood(err: unknown): boolean {
  for (const e of causeChain(err)) if (marked.has(e)) return true;
  return false;
}
