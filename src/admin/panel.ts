import type { Keyed } from './delta.js';
import type { Method, Route } from './router.js';

/**
 * What the server needs from the thing it serves (a switcher or a node): its routes, the info
 * document, and the data of the live event stream. server.ts owns HTTP, auth, timers and events.
 */
export interface Panel {
  readonly mode: 'switcher' | 'node';
  /** Endpoints particular to this mode. */
  readonly routes: Route[];
  /** The other mode's endpoints (method and path), answered 404 with a hint. */
  readonly foreign: readonly (readonly [Method, string])[];
  info(): unknown;
  /**
   * Why what this serves is no longer alive (closing or closed: it will not serve again), for
   * `/healthz`; null while it is.
   */
  down(): string | null;
  /** Samples the counters (called every `sampleInterval`). */
  tick(mono: number, wall: number): void;
  /**
   * The first message of an event stream: history and a snapshot, `snapshot` when given (one
   * this panel's snapshot() made: the one a delta stream's next delta starts from), else a new one.
   */
  hello(snapshot?: unknown): unknown;
  /** The message pushed after every sample. */
  snapshot(): unknown;
  /** A snapshot this panel made, with its items by key (client id, stream id) for a delta. */
  keyed(snapshot: unknown): Keyed;
  /** Core events to relay: calls `send(event, data)` until `close()`. */
  relay(send: (event: string, data: unknown) => void): void;
  close(): void;
}
