import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import { FlexError, type FlexStream } from '../../src/index.js';
import { drainOrClose, pattern } from './streams.js';

/**
 * Outcome bookkeeping for fault tests. The rule they check: a stream either delivers every byte
 * in order (hash check) or fails with a typed error (a FlexError with a `code`) at that end —
 * never a clean end with missing or wrong bytes, never a silent close.
 */

export type Outcome =
  | { kind: 'ok'; bytes: number }
  | { kind: 'failed'; code: string; message: string; bytes: number }
  /** Ended cleanly with the wrong bytes, closed with neither end nor error, or failed untyped. */
  | { kind: 'broken'; why: string; bytes: number };

function failure(err: unknown, bytes: number): Outcome {
  if (err instanceof FlexError && typeof err.code === 'string' && err.code.startsWith('FLEX_ERR_')) {
    return { kind: 'failed', code: err.code, message: err.message, bytes };
  }
  return { kind: 'broken', why: `untyped error: ${String(err)}`, bytes };
}

/** The payload of transfer `seed`: its seed in 4 bytes, then `size` pseudo-random bytes. */
export function transferData(seed: number, size: number): Uint8Array {
  const out = new Uint8Array(4 + size);
  new DataView(out.buffer).setUint32(0, seed);
  out.set(pattern(size, seed), 4);
  return out;
}

function hashOf(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/**
 * Dialer side: writes `transferData(seed, size)` (honouring backpressure), ends, and reads back
 * the echo. Never rejects: resolves with the outcome. `progress` is updated with bytes read.
 */
export function echoTransfer(
  s: FlexStream,
  seed: number,
  size: number,
  progress: { read: number } = { read: 0 },
): Promise<Outcome> {
  const data = transferData(seed, size);
  const want = hashOf(data);
  return new Promise<Outcome>((resolve) => {
    const h = createHash('sha256');
    let got = 0;
    let settled = false;
    const settle = (o: Outcome): void => {
      if (settled) return;
      settled = true;
      resolve(o);
    };
    s.on('data', (c: Buffer) => {
      h.update(c);
      got += c.length;
      progress.read += c.length;
    });
    s.once('end', () => {
      const ok = got === data.length && h.digest('hex') === want;
      settle(
        ok
          ? { kind: 'ok', bytes: got }
          : {
              kind: 'broken',
              why: `clean end after ${got} of ${data.length} bytes or wrong bytes`,
              bytes: got,
            },
      );
    });
    s.once('error', (err) => settle(failure(err, got)));
    s.once('close', () => {
      // 'close' follows 'end' or 'error'; give them the chance to settle first.
      queueMicrotask(() => settle({ kind: 'broken', why: 'closed without end or error', bytes: got }));
    });
    void (async () => {
      const piece = 64 * 1024;
      for (let off = 0; off < data.length && !settled && !s.destroyed; off += piece) {
        if (!s.write(data.subarray(off, off + piece))) await drainOrClose(s);
      }
      if (!settled && !s.destroyed && !s.writableEnded) s.end();
    })();
  });
}

/**
 * Starts `n` echo transfers of `size` bytes over streams from `dial`, seeds `firstSeed` on;
 * `progress.read` counts the bytes echoed back so far, over all of them.
 */
export async function startTransfers(
  dial: () => Promise<FlexStream>,
  n: number,
  size: number,
  firstSeed: number,
): Promise<{ outcomes: Promise<Outcome[]>; progress: { read: number } }> {
  const progress = { read: 0 };
  const outcomes: Promise<Outcome>[] = [];
  for (let i = 0; i < n; i++) outcomes.push(echoTransfer(await dial(), firstSeed + i, size, progress));
  return { outcomes: Promise.all(outcomes), progress };
}

/** The rule of the fault tests: no outcome is broken (each is complete, or failed typed). */
export function expectNoneBroken(all: readonly Outcome[]): void {
  expect(
    all.filter((o) => o.kind === 'broken'),
    describeOutcomes(all),
  ).toEqual([]);
}

/** Acceptor-side record of one stream: what it received and how it finished. */
export interface Accepted {
  readonly outcome: Promise<Outcome>;
}

/**
 * Acceptor side: echoes the stream back (pipe, with backpressure) and checks what it received
 * against the transfer its first 4 bytes name. Resolves with the outcome at this end.
 */
export function echoAndCheck(s: FlexStream, sizeOf: (seed: number) => number): Accepted {
  const outcome = new Promise<Outcome>((resolve) => {
    const h = createHash('sha256');
    let head = Buffer.alloc(0);
    let got = 0;
    let settled = false;
    const settle = (o: Outcome): void => {
      if (settled) return;
      settled = true;
      resolve(o);
    };
    s.on('data', (c: Buffer) => {
      if (got < 4) head = Buffer.concat([head, c.subarray(0, 4 - got)]);
      h.update(c);
      got += c.length;
    });
    s.once('end', () => {
      if (head.length < 4) {
        settle({ kind: 'broken', why: `clean end after ${got} bytes`, bytes: got });
        return;
      }
      const seed = head.readUInt32BE(0);
      const want = transferData(seed, sizeOf(seed));
      const ok = got === want.length && h.digest('hex') === hashOf(want);
      settle(
        ok
          ? { kind: 'ok', bytes: got }
          : { kind: 'broken', why: `clean end with ${got} wrong or missing bytes`, bytes: got },
      );
    });
    s.once('error', (err) => settle(failure(err, got)));
    s.once('close', () => {
      queueMicrotask(() => settle({ kind: 'broken', why: 'closed without end or error', bytes: got }));
    });
    s.pipe(s);
  });
  return { outcome };
}

/** A readable summary for assertion messages. */
export function describeOutcomes(all: readonly Outcome[]): string {
  return all
    .map((o) =>
      o.kind === 'ok' ? `ok(${o.bytes})` : o.kind === 'failed' ? `${o.code}(${o.bytes})` : `BROKEN: ${o.why}`,
    )
    .join(', ');
}

/**
 * Resolves with the first argument of the next `event` of `emitter` (a Node EventEmitter or a
 * flexmux Emitter, whose typed `once` the generic helper in streams.ts does not accept), and
 * rejects after `ms`.
 */
export function nextEvent<T = unknown>(emitter: object, event: string, ms = 10_000): Promise<T> {
  const e = emitter as { once(ev: string, f: (v: T) => void): unknown };
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    e.once(event, (v: T) => {
      clearTimeout(t);
      resolve(v);
    });
  });
}
