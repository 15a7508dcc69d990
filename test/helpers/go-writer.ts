import type { Transport } from '../../src/transport/types.js';
import { FrameDecoder } from '../../src/wire/decoder.js';
import { encodeFrame, type Frame } from '../../src/wire/frame.js';

/** Commands a Go fair writer keeps in a stream's own queue (PROTOCOL.md 9); the rest jump ahead. */
const ORDERED = new Set([0x04, 0x05, 0x06]);

/**
 * One direction of a Go switcher on raw TCP (PROTOCOL.md 7.1, 9): the frames it has queued for a
 * node when its writer next runs leave control frames first (every command but data, close and
 * close-ACK, so also the flexmux FIN), then the streams' own queues in order. Frames `drop` picks
 * are lost, as the forward queue drops a frame it cannot queue within 5 s (7.4).
 */
export function goWriter(from: Transport, to: Transport, drop: (f: Frame) => boolean = () => false): void {
  let queued: Frame[] = [];
  const flush = (): void => {
    const frames = queued;
    queued = [];
    const control = frames.filter((f) => !ORDERED.has(f.cmd));
    const ordered = frames.filter((f) => ORDERED.has(f.cmd));
    to.send([...control, ...ordered].map((f) => encodeFrame(f)));
  };
  const decoder = new FrameDecoder((f) => {
    if (drop(f)) return;
    if (f.payload.length > 0) f.payload = f.payload.slice();
    if (queued.length === 0) setImmediate(flush);
    queued.push(f);
  });
  from.attach({ data: (c) => decoder.push(c), drain: () => {}, close: () => to.close() });
}

/** A 32-bit big-endian count, as a FIN's payload carries it (PROTOCOL.md 14.2). */
export const u32 = (n: number): Uint8Array => new Uint8Array([n >>> 24, n >>> 16, n >>> 8, n]);
