import { createHash } from 'node:crypto';
import type { Duplex } from 'node:stream';

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Reads a stream to its end without destroying it (a for-await loop would, like on a socket). */
export function readAll(s: Duplex): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.once('end', () => resolve(Buffer.concat(chunks)));
    s.once('error', reject);
  });
}

/** Writes `data` in pieces of `piece` bytes honouring backpressure, then ends. */
export async function writeAll(s: Duplex, data: Uint8Array, piece = 64 * 1024): Promise<void> {
  for (let off = 0; off < data.length; off += piece) {
    if (!s.write(data.subarray(off, off + piece))) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => {
          s.off('error', onErr);
          resolve();
        };
        const onErr = (e: Error): void => {
          s.off('drain', onDrain);
          reject(e);
        };
        s.once('drain', onDrain);
        s.once('error', onErr);
      });
    }
  }
  s.end();
}

/** Resolves on the stream's next 'drain', or its 'close' (a writer must not wait for good). */
export function drainOrClose(s: Duplex): Promise<void> {
  return new Promise<void>((resolve) => {
    const go = (): void => {
      s.off('drain', go);
      s.off('close', go);
      resolve();
    };
    s.on('drain', go);
    s.on('close', go);
  });
}

/** Resolves with the first `event` emission (of any emitter: Node's or flexmux's typed one). */
export function once<T = unknown>(emitter: object, event: string, ms = 10_000): Promise<T> {
  const e = emitter as { once(event: string, fn: (v: T) => void): unknown };
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    e.once(event, (v: T) => {
      clearTimeout(t);
      resolve(v);
    });
  });
}

export { pattern } from './pattern.js';
