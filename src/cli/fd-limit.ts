import { readFileSync } from 'node:fs';

/**
 * The open-file limit, and what it means for a switcher. When a process is out of file
 * descriptors, Node (libuv) accepts each waiting connection and closes it at once, and tells
 * nobody: no 'error' event, so no log line. A switcher whose limit is below what its own limits
 * allow would drop nodes without a word; it says so once, at start, instead.
 */

/** Descriptors a switcher uses besides its clients: listeners, the admin server, stdio, logs. */
export const RESERVED_FDS = 64;

/** The soft "Max open files" of /proc/self/limits; null if absent, "unlimited" or unreadable. */
export function parseOpenFileLimit(limits: string): number | null {
  const m = /^Max open files\s+(\d+)\s/m.exec(limits);
  return m ? Number(m[1]) : null;
}

/** This process's open-file limit, where the system says (Linux); null elsewhere. */
export function openFileLimit(
  read: () => string = () => readFileSync('/proc/self/limits', 'utf8'),
): number | null {
  try {
    return parseOpenFileLimit(read());
  } catch {
    return null;
  }
}

/**
 * Connections a switcher may hold at once: every client admitted, every admission in progress, and
 * for each of its `handshakeListeners` (TLS and WebSocket ones) as many again still in their TLS
 * handshake or HTTP upgrade (src/transport/handshakes.ts), and `httpConnections` that browsers
 * keep open to a page served on a listener of the switcher's (the demo's), counted apart.
 */
export function connectionsAllowed(
  o: { maxClients: number; maxPendingAdmissions: number },
  handshakeListeners = 0,
  httpConnections = 0,
): number {
  return o.maxClients + o.maxPendingAdmissions * (1 + handshakeListeners) + httpConnections;
}

/** How many of those connections the limit leaves no descriptor for (0: enough). */
export function fdShortfall(
  limit: number,
  o: { maxClients: number; maxPendingAdmissions: number },
  handshakeListeners = 0,
  httpConnections = 0,
): number {
  return Math.max(0, connectionsAllowed(o, handshakeListeners, httpConnections) + RESERVED_FDS - limit);
}
