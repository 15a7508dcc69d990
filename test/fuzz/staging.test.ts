import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Node as WebNode, type WebStream } from '../../src/browser.js';
import { type FlexStream, Node } from '../../src/index.js';
import { COPY_BELOW } from '../../src/stream/stage.js';
import { memoryPair, seededRandom } from '../../src/transport/memory.js';
import { Caps, Cmd } from '../../src/wire/constants.js';
import { encodeFrame, makeFrame } from '../../src/wire/frame.js';
import { decodeOpenAck, encodeOpen } from '../../src/wire/open.js';
import { captureLogger } from '../helpers/faulty-log.js';
import { HostilePeer } from '../helpers/faulty-peer.js';
import { budget, runs } from './scale.js';

/**
 * A raw peer sends bursts of data frames of random sizes (mostly small, some under COPY_BELOW,
 * some large) to a stream whose reader pauses and resumes at random, over a link that cuts bytes
 * at random places (so frames also arrive in pieces), then ends the stream with a FIN, often while
 * the reader is paused with bytes staged. Properties: the reader gets every byte once, in order,
 * before 'end'; whenever things settle, the node counts as consumed exactly what the reader took
 * (credit follows reading, staged bytes are not consumed); and what waits for a paused reader is
 * compact: a small chunk owns a buffer of about its size, and small chunks do not pile up (each
 * but the first is followed by a large one, which flushed the stage before it).
 */

const ME = 1;
const PEER = 2;
const SRC = 5000;
const WINDOW = 16 * 1024 * 1024; // never the limit here

type Op = { kind: 'burst'; sizes: number[] } | { kind: 'pause' } | { kind: 'resume' } | { kind: 'settle' };

const sizeArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 300 }) },
  { weight: 2, arbitrary: fc.integer({ min: 301, max: COPY_BELOW - 1 }) },
  { weight: 2, arbitrary: fc.integer({ min: COPY_BELOW, max: 65_535 }) },
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('burst' as const),
      sizes: fc.array(sizeArb, { minLength: 1, maxLength: 12 }),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'pause' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'resume' as const }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'settle' as const }) },
);

type Scenario = {
  ops: Op[];
  startPaused: boolean;
  pausedAtEnd: boolean;
  maxChunk: number | undefined;
  seed: number;
};

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  ops: fc.array(opArb, { maxLength: 30 }),
  startPaused: fc.boolean(),
  pausedAtEnd: fc.boolean(),
  maxChunk: fc.constantFrom(undefined, 97, 4096, 70_000),
  seed: fc.integer({ min: 1, max: 0x7fffffff }),
});

const byte = (i: number): number => (i * 13 + (i >>> 9)) & 0xff;

/** Turns the event loop until `pred` holds (bounded: throws after `turns`). */
async function until(pred: () => boolean, what: string, turns = 5_000): Promise<void> {
  for (let i = 0; !pred(); i++) {
    if (i === turns) throw new Error(`not settled: ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** What a face under test offers the property. */
interface Reader {
  readonly core: FlexStream['core'];
  /** Bytes the reader has taken so far. */
  taken(): number;
  /** Everything taken, in order. */
  bytes(): Buffer;
  /** True once 'end' (or done) was seen. */
  ended(): boolean;
  /** Bytes taken when 'end' (or done) came. */
  takenAtEnd(): number;
  /** Whether the reader is paused (not taking data). */
  paused(): boolean;
  /** Consumption is counted when the stream pulls (Web), not when the reader takes (Node). */
  readonly countsOnPull: boolean;
  pause(): void;
  resume(): void;
  /** Checks what waits for a paused reader (Node face: the readable buffer). */
  check(afterEnd: boolean): void;
}

function compact(c: Uint8Array): boolean {
  return c.length >= COPY_BELOW || c.buffer.byteLength <= Math.max(256, 2 * c.length);
}

function nodeReader(s: FlexStream, startPaused: boolean): Reader {
  const got: Buffer[] = [];
  let taken = 0;
  let ended = false;
  let paused = startPaused;
  s.on('data', (c: Buffer) => {
    got.push(c);
    taken += c.length;
  });
  let takenAtEnd = -1;
  s.on('end', () => {
    ended = true;
    takenAtEnd = taken;
  });
  if (startPaused) s.pause();
  return {
    core: s.core,
    countsOnPull: false,
    taken: () => taken,
    bytes: () => Buffer.concat(got),
    ended: () => ended,
    takenAtEnd: () => takenAtEnd,
    paused: () => paused,
    pause: () => {
      paused = true;
      s.pause();
    },
    resume: () => {
      paused = false;
      s.resume();
    },
    check: (afterEnd) => {
      if (!paused) return;
      const queued = [...(s as unknown as { readableBuffer: Iterable<Buffer> }).readableBuffer];
      for (const c of queued) {
        if (!compact(c))
          throw new Error(`a ${c.length}-byte chunk waits in a ${c.buffer.byteLength}-byte buffer`);
      }
      const small = queued.filter((c) => c.length < COPY_BELOW).length;
      // The end pushes the stage behind everything: one more small chunk.
      if (small > 1 + (queued.length - small) + (afterEnd ? 1 : 0)) {
        throw new Error(`${small} small chunks among ${queued.length} wait for the reader`);
      }
    },
  };
}

function webReader(s: WebStream, startPaused: boolean): Reader {
  const reader = s.readable.getReader();
  const got: Uint8Array[] = [];
  let taken = 0;
  let ended = false;
  let takenAtEnd = -1;
  let paused = true;
  let running = false;
  let failure: Error | null = null;
  const run = async (): Promise<void> => {
    running = true;
    while (!paused && !ended) {
      const { done, value } = await reader.read();
      if (done) {
        ended = true;
        takenAtEnd = taken;
        break;
      }
      // What the reader is handed is what waited in the queue (or went straight to it).
      if (!compact(value)) {
        failure ??= new Error(
          `a ${value.length}-byte chunk came in a ${value.buffer.byteLength}-byte buffer`,
        );
      }
      got.push(value);
      taken += value.length;
    }
    running = false;
  };
  const resume = (): void => {
    paused = false;
    // A read still pending from before the pause carries on with the loop that made it.
    if (!running) void run();
  };
  if (!startPaused) resume();
  return {
    core: s.core,
    countsOnPull: true,
    taken: () => taken,
    bytes: () => Buffer.concat(got),
    ended: () => ended,
    takenAtEnd: () => takenAtEnd,
    paused: () => paused,
    pause: () => {
      paused = true;
    },
    resume,
    check: () => {
      if (failure) throw failure;
    },
  };
}

async function open<S>(
  make: (t: ReturnType<typeof memoryPair>[0]) => {
    destroy(): void;
    listen(port: number): { accept(): Promise<S> };
  },
  maxChunk: number | undefined,
  seed: number,
) {
  const [a, b] = memoryPair(
    maxChunk === undefined
      ? { highWaterMark: 1 << 26 }
      : { highWaterMark: 1 << 26, maxChunk, rng: seededRandom(seed) },
  );
  const node = make(a);
  const peer = new HostilePeer(b);
  const accepting = node.listen(80).accept();
  peer.frame(
    Cmd.OPEN,
    ME,
    80,
    PEER,
    SRC,
    encodeOpen({ domain: 'raw', window: WINDOW, caps: Caps.HALF_CLOSE | Caps.RESET }),
  );
  const ack = decodeOpenAck((await peer.next((f) => f.cmd === Cmd.OPEN_ACK)).payload);
  if (!ack.ok) throw new Error('open refused');
  return { node, peer, b, stream: await accepting };
}

async function play(r: Reader, peer: HostilePeer, s: Scenario): Promise<void> {
  let sent = 0;
  const settle = async (afterEnd = false): Promise<void> => {
    await until(() => r.core.bytesRead === sent, `${r.core.bytesRead} of ${sent} bytes arrived`);
    // A reader that reads gets everything that arrived, staged bytes too, without more coming.
    if (!r.paused() && !afterEnd) await until(() => r.taken() === sent, `taken ${r.taken()} of ${sent}`);
    await new Promise((res) => setImmediate(res));
    // Credit follows reading: consumed is exactly what the reader took, staged bytes are not.
    // A ReadableStream tells its source only through pull, which it calls while its queue is under
    // the high-water mark: for a paused Web reader the count may lag (never run ahead) until then.
    const lag = r.core.receiveBuffered - (sent - r.taken());
    if (r.paused() && r.countsOnPull) expect(lag).toBeGreaterThanOrEqual(0);
    else expect(lag).toBe(0);
    r.check(afterEnd);
  };
  for (const op of s.ops) {
    if (op.kind === 'pause') r.pause();
    else if (op.kind === 'resume') r.resume();
    else if (op.kind === 'settle') await settle();
    else {
      const parts: Uint8Array[] = [];
      for (const n of op.sizes) {
        const p = new Uint8Array(n);
        for (let i = 0; i < n; i++) p[i] = byte(sent + i);
        parts.push(encodeFrame(makeFrame(Cmd.DATA, ME, 80, PEER, SRC, p)));
        sent += n;
      }
      peer.t.send(parts);
    }
  }
  if (s.pausedAtEnd) r.pause();
  peer.frame(Cmd.FIN, ME, 80, PEER, SRC);
  await settle(true);
  // No 'end' while bytes (staged ones too) wait for the reader.
  if (r.taken() < sent) expect(r.ended()).toBe(false);
  r.resume();
  await until(() => r.ended(), "'end'");
  // Everything arrived before the end, once and in order.
  expect(r.takenAtEnd()).toBe(sent);
  const got = r.bytes();
  expect(got.length).toBe(sent);
  for (let i = 0; i < sent; i++) {
    if (got[i] !== byte(i)) throw new Error(`byte ${i} is ${got[i]}, not ${byte(i)}`);
  }
  expect(r.core.receiveBuffered).toBe(0);
}

const options = () => ({ domain: 'alice', ip: ME, heartbeatInterval: 0, logger: captureLogger() });

/** Plays a scenario on a stream of one face, made by `make` and read by `reader`. */
function onFace<S>(make: Parameters<typeof open<S>>[0], reader: (s: S, startPaused: boolean) => Reader) {
  return async (s: Scenario): Promise<void> => {
    const { node, peer, b, stream } = await open<S>(make, s.maxChunk, s.seed);
    try {
      await play(reader(stream, s.startPaused), peer, s);
    } finally {
      node.destroy();
      b.destroy();
    }
  };
}

/** One scenario on each face: the Node.js Duplex and the Web Streams pair. */
const faces: [string, (s: Scenario) => Promise<void>][] = [
  ['Node face', onFace<FlexStream>((t) => new Node(t, options()), nodeReader)],
  ['Web Streams face', onFace<WebStream>((t) => new WebNode(t, options()), webReader)],
];

describe('staging of small payloads for a reader that falls behind', () => {
  for (const [face, run] of faces) {
    it(
      `${face}: order, content, end, credit and compact buffering under random pauses`,
      async () => {
        await fc.assert(fc.asyncProperty(scenarioArb, run), { numRuns: runs(60) });
      },
      budget(15_000),
    );
  }
});
