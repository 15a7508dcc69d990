import type { Switcher } from './switcher/switcher.js';
import {
  HANDSHAKE_REFUSAL_REASONS,
  type HandshakeRefusalReason,
  type HandshakeRefused,
} from './transport/handshakes.js';

/**
 * Connections a switcher's TLS and WebSocket listeners (switcher-node.ts; the demo's server, as a
 * ws one; upgradeHandler on an application's server, for the upgrades it refuses) closed before
 * their handshake was done, so before the switcher saw them: the admin's metrics count them
 * (flexmux_switcher_handshake_refusals_total), where only the log told of them before. The
 * listeners report through a hook per switcher, kept here, so the switcher itself (runtime-neutral)
 * knows nothing of them. A tcp:// listener has no handshake: its connections go straight to
 * admission, whose refusals are the switcher's `refused` events.
 */

/** The listeners with a handshake, as the `transport` label names them. */
export const HANDSHAKE_LISTENERS = ['tls', 'ws', 'wss'] as const;

export type HandshakeListener = (typeof HANDSHAKE_LISTENERS)[number];

/** The reasons each kind of listener can give: a plain ws:// one speaks no TLS, a tls:// one no HTTP. */
export const HANDSHAKE_REFUSALS: { readonly [K in HandshakeListener]: readonly HandshakeRefusalReason[] } = {
  tls: ['overloaded', 'timeout', 'not-tls', 'tls', 'closed', 'shutdown'],
  ws: ['overloaded', 'timeout', 'bad-request', 'not-upgrade', 'path', 'bad-upgrade', 'closed', 'shutdown'],
  wss: HANDSHAKE_REFUSAL_REASONS,
};

type Hearer = (listener: HandshakeListener, reason: HandshakeRefusalReason) => void;

const hearers = new WeakMap<Switcher, Set<Hearer>>();

/** Calls `fn` for each connection a listener of `switcher` refuses from now on; returns its undo. */
export function onHandshakeRefused(switcher: Switcher, fn: Hearer): () => void {
  let set = hearers.get(switcher);
  if (set === undefined) {
    set = new Set();
    hearers.set(switcher, set);
  }
  const own = set;
  // Wrapped, so that the same function added twice is heard twice and undone once each.
  const entry: Hearer = (l, r) => fn(l, r);
  own.add(entry);
  return () => {
    own.delete(entry);
  };
}

/** The hook a `listener` of `switcher` reports its refusals to. */
export function handshakeRefused(switcher: Switcher, listener: HandshakeListener): HandshakeRefused {
  return (reason) => {
    const set = hearers.get(switcher);
    if (set === undefined) return;
    for (const fn of set) fn(listener, reason);
  };
}
