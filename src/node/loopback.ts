import type { ResolvedNodeOptions } from '../config.js';
import { Scheduler } from '../scheduler.js';
import type { StreamCore, StreamHost } from '../stream/core.js';
import { concatBytes } from '../util/bytes.js';
import type { Logger } from '../util/logger.js';
import { releaseWatch } from '../util/slabs.js';
import { type Frame, readHeader } from '../wire/frame.js';

const EMPTY = new Uint8Array(0);

/** The part of a node the loopback needs. */
export interface LoopbackOwner {
  readonly options: ResolvedNodeOptions;
  readonly logger: Logger;
  release(stream: StreamCore): void;
  sent(stream: StreamCore): void;
  accountReceive(delta: number): void;
  canBuffer(n: number): boolean;
  logViolation(fields: object): void;
  dispatch(f: Frame, via: StreamHost): void;
  internalError(err: unknown): void;
}

/**
 * Streams a node dials to itself (IP 0, its own IP or domain, `local`, `localhost`): their frames
 * go through a scheduler of their own whose sink hands them straight back to the node's
 * dispatcher, so the same stream code runs and nothing reaches the wire (PROTOCOL.md 3.2).
 */
export class Loopback implements StreamHost {
  readonly scheduler: Scheduler;
  readonly options: ResolvedNodeOptions;
  readonly logger: Logger;
  readonly #owner: LoopbackOwner;

  constructor(owner: LoopbackOwner) {
    this.#owner = owner;
    this.options = owner.options;
    this.logger = owner.logger;
    const o = owner.options;
    this.scheduler = new Scheduler(
      {
        framing: 'message',
        send: (parts) => {
          const f = readHeader(parts[0]!, 0);
          // Copied: the payload reaches a reader in this process, who may keep it while the writer
          // fills the same buffer again (concatBytes copies, for one part too).
          f.payload = parts.length === 1 ? EMPTY : concatBytes(parts, 1);
          try {
            owner.dispatch(f, this);
          } catch (err) {
            // A bug of ours, as on the wire: thrown on, it left the writer's flush halfway as an
            // unhandled rejection, and the node running as if nothing had happened.
            owner.internalError(err);
          }
          return true;
        },
      },
      // No control bound: it exists to catch a peer that stops reading, and this sink takes every
      // frame at once on each flush, so the queue only ever holds one tick's frames. Bounded, a
      // burst (many self-dials or resets in one tick) threw LimitError out of dial() after its
      // pending dial was registered (left to time out unhandled) or out of destroy() halfway.
      // Slabs as on a connection (its send copies) when the node reuses written buffers: a large
      // write's callback need not wait for it.
      {
        quantum: o.quantum,
        maxBatchBytes: o.maxBatchBytes,
        maxControlQueue: Number.POSITIVE_INFINITY,
        ...releaseWatch(o, true),
      },
    );
  }

  sendControl(
    cmd: number,
    dstIP: number,
    dstPort: number,
    srcIP: number,
    srcPort: number,
    payload?: Uint8Array,
    size?: number,
  ): void {
    this.scheduler.pushControlFrame(cmd, dstIP, dstPort, srcIP, srcPort, payload, size);
  }

  release(stream: StreamCore): void {
    this.#owner.release(stream);
  }

  sent(stream: StreamCore): void {
    this.#owner.sent(stream);
  }

  accountReceive(delta: number): void {
    this.#owner.accountReceive(delta);
  }

  canBuffer(n: number): boolean {
    return this.#owner.canBuffer(n);
  }

  logViolation(fields: object): void {
    this.#owner.logViolation(fields);
  }

  close(): void {
    this.scheduler.close();
  }
}
