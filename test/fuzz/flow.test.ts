import { Writable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Node as WebNode, type WebStream } from '../../src/browser.js';
import { type FlexStream, Node, type NodeOptions } from '../../src/index.js';
import { admit } from '../../src/node/admit.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { memoryPair, seededRandom } from '../../src/transport/memory.js';
import type { Transport } from '../../src/transport/types.js';
import { ALL_CAPS, Caps } from '../../src/wire/constants.js';
import { drainOrClose } from '../helpers/streams.js';
import { budget, runs } from './scale.js';

/**
 * Flow control end to end: streams between two nodes, directly or through a switcher, over links
 * that cut bytes at random, with random windows and caps (plain v3 too), a stream of short
 * round trips beside them now and then (so bulk streams are held to sharedInflight and ask for
 * credit), and readers of every kind: flowing, pausing, read(n) records (larger than the window
 * too), async iteration, a pipe into a slow Writable, toWeb(), setEncoding, or none at all (the
 * stream is dropped once it has closed). The acceptor writes back while it reads and both
 * ends end at once, or a side destroys its stream midway. Properties, once everything settled:
 * every byte of a stream that was not destroyed arrived once and in order, with no error; every
 * stream closed on both sides; no stream is left in either node; and neither node still counts
 * received bytes against its receive budget.
 */

const PASSWORD = 'fuzz-flow';
const KiB = 1024;

type ReadMode = 'flow' | 'pauses' | 'records' | 'iter' | 'pipe' | 'web' | 'latin1' | 'hex' | 'drop';

interface StreamPlan {
  writes: number[];
  reply: number[];
  mode: ReadMode;
  record: number;
  /** Who ends the stream, and how. */
  ending: 'end' | 'destroyDialer' | 'destroyAcceptor';
  /** Destroy after this many of the dialer's writes (destroy endings). */
  at: number;
  /** The dialer's writes go out in turns of their own (a frame each, when credit allows). */
  spaced: boolean;
}

interface Scenario {
  via: 'direct' | 'switcher';
  dialerCaps: number;
  acceptorCaps: number;
  window: number;
  maxChunk: number | undefined;
  chatty: boolean;
  /** The dialer sends data behind its opens once it knows the path takes it (earlyData). */
  early: boolean;
  seed: number;
  streams: StreamPlan[];
}

const sizeArb = fc.oneof(
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 300 }) },
  { weight: 3, arbitrary: fc.integer({ min: 301, max: 2000 }) },
  { weight: 3, arbitrary: fc.integer({ min: 2001, max: 40_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 40_001, max: 140_000 }) },
);

const planArb: fc.Arbitrary<StreamPlan> = fc.record({
  writes: fc.array(sizeArb, { minLength: 1, maxLength: 12 }),
  reply: fc.array(sizeArb, { maxLength: 4 }),
  mode: fc.constantFrom<ReadMode>(
    'flow',
    'pauses',
    'records',
    'iter',
    'pipe',
    'web',
    'latin1',
    'hex',
    'drop',
  ),
  record: fc.oneof(fc.integer({ min: 1, max: 70_000 }), fc.integer({ min: 70_001, max: 300_000 })),
  ending: fc.oneof(
    { weight: 6, arbitrary: fc.constant('end' as const) },
    { weight: 1, arbitrary: fc.constant('destroyDialer' as const) },
    { weight: 1, arbitrary: fc.constant('destroyAcceptor' as const) },
  ),
  at: fc.integer({ min: 0, max: 8 }),
  spaced: fc.boolean(),
});

const capsArb = fc.constantFrom(
  ALL_CAPS,
  0, // plain v3, as a Go peer or a Go switcher's domain dial
  Caps.HALF_CLOSE | Caps.RESET, // an older flexmux: no FIN_RELEASE, no prompt credit
  ALL_CAPS & ~Caps.PROMPT_CREDIT,
);

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  via: fc.constantFrom('direct' as const, 'switcher' as const),
  dialerCaps: capsArb,
  acceptorCaps: capsArb,
  window: fc.constantFrom(16 * KiB, 64 * KiB, 256 * KiB, 2048 * KiB),
  maxChunk: fc.constantFrom(undefined, 1500, 70_000),
  chatty: fc.boolean(),
  early: fc.boolean(),
  seed: fc.integer({ min: 1, max: 0x7fffffff }),
  streams: fc.array(planArb, { minLength: 1, maxLength: 3 }),
});

const byte = (tag: number, i: number): number => (i * 31 + tag * 7 + (i >>> 11)) & 0xff;

function pattern(tag: number, from: number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = byte(tag, from + i);
  return b;
}

function check(tag: number, got: Buffer, total: number, what: string): void {
  if (got.length !== total) throw new Error(`${what}: ${got.length} of ${total} bytes`);
  for (let i = 0; i < total; i++) {
    if (got[i] !== byte(tag, i)) throw new Error(`${what}: byte ${i} is ${got[i]}, not ${byte(tag, i)}`);
  }
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Reads `s` to its end in the given way; resolves with the bytes, rejects on error. */
function readAll(s: FlexStream, mode: ReadMode, record: number, rng: () => number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return new Promise<Buffer>((resolve, reject) => {
    const done = (): void => resolve(Buffer.concat(chunks));
    // Destroyed without an error: 'close' without 'end'.
    s.once('close', () => {
      if (!s.readableEnded) reject(new Error('closed before the end'));
    });
    switch (mode) {
      case 'flow':
      case 'pauses':
        s.on('data', (c: Buffer) => {
          chunks.push(c);
          if (mode === 'pauses' && rng() < 0.4) {
            s.pause();
            const wait = Math.floor(rng() * 4);
            void (async () => {
              for (let i = 0; i < wait; i++) await turn();
              s.resume();
            })();
          }
        });
        s.once('end', done);
        s.once('error', reject);
        return;
      case 'drop':
        // Reads nothing; once the stream has closed (both sides ended), the application drops it.
        void (async () => {
          while (s.core.state !== 'closed' && !s.destroyed) await turn();
          s.destroy();
        })();
        s.once('error', reject);
        return;
      case 'latin1':
        s.setEncoding('latin1');
        s.on('data', (c: string) => chunks.push(Buffer.from(c, 'latin1')));
        s.once('end', done);
        s.once('error', reject);
        return;
      case 'hex':
        // Strings of two characters a byte. (Not with read(n): Node 20.20's read(n) of a string
        // buffer loses track of it, flexmux or not.)
        s.setEncoding('hex');
        s.on('data', (c: string) => chunks.push(Buffer.from(c, 'hex')));
        s.once('end', done);
        s.once('error', reject);
        return;
      case 'records':
        s.on('readable', () => {
          for (;;) {
            const c = s.read(record) as Buffer | null;
            if (c === null) return;
            chunks.push(c);
          }
        });
        s.once('end', done);
        s.once('error', reject);
        return;
      case 'iter':
        // Not `for await (const c of s)`: a finished loop destroys the stream, which aborts what
        // this end is still writing back (as a socket's would), and the peer sees a reset.
        void (async () => {
          for await (const c of s.iterator({ destroyOnReturn: false })) chunks.push(c as Buffer);
        })().then(done, reject);
        return;
      case 'pipe': {
        const sink = new Writable({
          highWaterMark: 1024,
          write(c: Buffer, _e, cb) {
            chunks.push(c);
            if (rng() < 0.5) setImmediate(cb);
            else cb();
          },
        });
        s.once('error', reject);
        sink.once('finish', done);
        s.pipe(sink);
        return;
      }
      case 'web': {
        s.once('error', () => {}); // the web reader sees it
        const reader = s.toWeb().readable.getReader();
        void (async () => {
          for (;;) {
            const { done: end, value } = await reader.read();
            if (end) return;
            chunks.push(Buffer.from(value));
          }
        })().then(done, reject);
        return;
      }
    }
  });
}

/** Writes the pieces, waiting for 'drain' (or the stream's end) when told to. */
async function writeAll(
  s: FlexStream,
  tag: number,
  sizes: number[],
  stopAfter: number,
  stop: () => void,
  spaced = false,
): Promise<void> {
  let off = 0;
  for (let i = 0; i < sizes.length; i++) {
    if (i === stopAfter) {
      stop();
      return;
    }
    if (s.destroyed || s.writableEnded) return;
    const ok = s.write(pattern(tag, off, sizes[i]));
    off += sizes[i];
    // Writes in one turn share frames; a turn between them makes a frame of each.
    if (spaced) await turn();
    // (A 'drain' during that turn has come and gone.)
    if (!ok && s.writableNeedDrain && !s.destroyed) await drainOrClose(s);
  }
  if (stopAfter >= sizes.length) stop();
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

/** The first pieces that fit in `room` bytes. */
function within(xs: number[], room: number): number[] {
  const out: number[] = [];
  for (const x of xs) {
    if (x > room) break;
    out.push(x);
    room -= x;
  }
  return out;
}

async function connect(s: Scenario): Promise<{ a: Node; b: Node; close(): Promise<void> }> {
  const base: NodeOptions = { heartbeatInterval: 0, window: s.window };
  const linkOptions = (seed: number) =>
    s.maxChunk === undefined ? {} : { maxChunk: s.maxChunk, rng: seededRandom(seed) };
  if (s.via === 'direct') {
    const [x, y] = memoryPair(linkOptions(s.seed));
    const a = new Node(x, { ...base, domain: 'alice', ip: 1, caps: s.dialerCaps, earlyData: s.early });
    const b = new Node(y, { ...base, domain: 'bob', ip: 2, caps: s.acceptorCaps });
    return {
      a,
      b,
      close: async () => {
        a.destroy();
        b.destroy();
      },
    };
  }
  const sw = new Switcher({ password: PASSWORD });
  const join = async (domain: string, caps: number, seed: number, earlyData = false): Promise<Node> => {
    const [x, y] = memoryPair({
      ...linkOptions(seed),
      remoteAddresses: ['switcher', `198.51.100.${seed & 0xff}:1`],
    });
    sw.handle(y);
    const { ip, transport } = await admit(x as Transport, { password: PASSWORD, domain });
    return new Node(transport, { ...base, ip, domain, caps, earlyData });
  };
  const a = await join('alice', s.dialerCaps, s.seed, s.early);
  const b = await join('bob', s.acceptorCaps, s.seed + 1);
  return {
    a,
    b,
    close: async () => {
      a.destroy();
      b.destroy();
      await sw.close({ timeout: 100 });
    },
  };
}

const received = (n: Node): number => (n as unknown as { receiveBuffered: number }).receiveBuffered;

async function play(s: Scenario): Promise<void> {
  const { a, b, close } = await connect(s);
  const rng = seededRandom(s.seed ^ 0x5a5a);
  const errors: string[] = [];
  a.on('error', (e) => errors.push(`alice: ${e.message}`));
  b.on('error', (e) => errors.push(`bob: ${e.message}`));
  try {
    b.listen(8).on('stream', (p: FlexStream) => {
      p.on('error', () => {});
      p.on('data', (d: Buffer) => p.write(d));
      p.on('end', () => p.end());
    });
    const plans = s.streams;
    const accepted: FlexStream[] = [];
    const acceptedP = new Map<number, (x: FlexStream) => void>();
    b.listen(7).on('stream', (x: FlexStream) => {
      accepted.push(x);
      acceptedP.get(accepted.length - 1)?.(x);
    });
    const closed: Promise<void>[] = [];
    const closes = (x: FlexStream): Promise<void> =>
      new Promise<void>((r) => {
        if (x.destroyed && x.closed) r();
        else x.once('close', () => r());
      });
    let chatting = s.chatty;
    let chat: Promise<void> = Promise.resolve();
    if (s.chatty) {
      const ping = await a.dial('bob:8');
      ping.on('error', () => {});
      closed.push(closes(ping));
      chat = (async () => {
        while (chatting) {
          const back = new Promise<void>((r) => ping.once('data', () => r()));
          ping.write('p');
          await back;
          await turn();
        }
        ping.end();
        ping.resume();
      })();
    }
    const work = plans.map(async (plan, i) => {
      const tag = i + 1;
      const dialer = await a.dial('bob:7');
      dialer.on('error', () => {});
      const acceptor = accepted[i] ?? (await new Promise<FlexStream>((r) => acceptedP.set(i, r)));
      acceptor.on('error', () => {});
      closed.push(closes(dialer), closes(acceptor));
      // A plain v3 stream has no half-close: the acceptor's end would close the dialer's side.
      const v3 = dialer.core.caps === 0 || (dialer.core.caps & Caps.HALF_CLOSE) === 0;
      const reply = v3 ? [] : plan.reply;
      const destroying = plan.ending !== 'end' || plan.mode === 'drop';
      // A reader that takes nothing stops its writer after one window: write no more than that.
      // (Beside short messages too: what waits for the reader is not held to sharedInflight.)
      const writes = plan.mode !== 'drop' ? plan.writes : within(plan.writes, s.window);
      // Records of any size: one larger than the window too (a waiting read(n) takes what is there).
      const inbound = readAll(acceptor, plan.mode, plan.record, rng);
      inbound.catch(() => {});
      const back = readAll(dialer, 'flow', 0, rng);
      back.catch(() => {});
      const sending = writeAll(
        dialer,
        tag,
        writes,
        plan.ending === 'destroyDialer' ? plan.at : writes.length,
        () => (plan.ending === 'destroyDialer' ? dialer.destroy() : dialer.end()),
        plan.spaced,
      );
      if (plan.ending === 'destroyAcceptor') {
        void (async () => {
          for (let k = 0; k < plan.at; k++) await turn();
          acceptor.destroy();
        })();
      }
      // The acceptor writes back at once and ends when done (v3: only after the dialer's end).
      const replying = v3
        ? inbound.then(
            () => acceptor.end(),
            () => {},
          )
        : writeAll(acceptor, 100 + tag, reply, reply.length, () => acceptor.end());
      await sending;
      await replying;
      if (destroying) {
        await Promise.allSettled([inbound, back]);
        return;
      }
      check(tag, await inbound, sum(plan.writes), `stream ${tag} (${plan.mode}) dialer->acceptor`);
      check(100 + tag, await back, sum(reply), `stream ${tag} acceptor->dialer`);
    });
    let settled = false;
    const all = Promise.all(work).finally(() => {
      settled = true;
    });
    all.catch(() => {});
    for (let i = 0; !settled; i++) {
      if (i === 20_000) {
        const st = (n: Node) =>
          n
            .streamList()
            .map(
              (c) =>
                `${c.describe()} ${c.state} sent=${c.bytesWritten} read=${c.bytesRead} unread=${c.receiveBuffered} wq=${c.writeBuffered} credit=${c.sendCredit}`,
            )
            .join('; ');
        throw new Error(`transfers did not finish: alice [${st(a)}] bob [${st(b)}]`);
      }
      await turn();
    }
    await all;
    chatting = false;
    await chat;
    let allClosed = false;
    void Promise.all(closed).then(() => {
      allClosed = true;
    });
    for (let i = 0; !(allClosed && a.streamCount === 0 && b.streamCount === 0); i++) {
      if (i === 20_000) {
        throw new Error(
          `streams left: alice ${a.streamCount}, bob ${b.streamCount}, all closed ${allClosed}`,
        );
      }
      await turn();
    }
    expect(received(a)).toBe(0);
    expect(received(b)).toBe(0);
    expect(errors).toEqual([]);
  } finally {
    await close();
  }
}

/** A Web Streams acceptor: it reads slowly, writes back, and ends, cancels, aborts or drops. */
interface WebScenario {
  caps: number;
  window: number;
  maxChunk: number | undefined;
  writes: number[];
  reply: number[];
  /** Turns the reader waits after each chunk, in turn. */
  delays: number[];
  ending: 'end' | 'cancel' | 'abort' | 'drop' | 'destroyDialer';
  at: number;
  seed: number;
}

const webScenarioArb: fc.Arbitrary<WebScenario> = fc.record({
  caps: capsArb,
  window: fc.constantFrom(16 * KiB, 64 * KiB, 256 * KiB),
  maxChunk: fc.constantFrom(undefined, 1500),
  writes: fc.array(sizeArb, { minLength: 1, maxLength: 10 }),
  reply: fc.array(sizeArb, { maxLength: 5 }),
  delays: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 8 }),
  ending: fc.constantFrom(
    'end' as const,
    'cancel' as const,
    'abort' as const,
    'drop' as const,
    'destroyDialer' as const,
  ),
  at: fc.integer({ min: 0, max: 6 }),
  seed: fc.integer({ min: 1, max: 0x7fffffff }),
});

async function playWeb(s: WebScenario): Promise<void> {
  const [x, y] = memoryPair(
    s.maxChunk === undefined ? {} : { maxChunk: s.maxChunk, rng: seededRandom(s.seed) },
  );
  const a = new Node(x, { domain: 'alice', ip: 1, heartbeatInterval: 0, window: s.window, caps: s.caps });
  const b = new WebNode(y, { domain: 'bob', ip: 2, heartbeatInterval: 0, window: s.window });
  a.on('error', () => {});
  b.on('error', () => {});
  try {
    const accepting = new Promise<WebStream>((r) => b.listen(7).on('stream', (w: WebStream) => r(w)));
    const d: FlexStream = await a.dial('bob:7');
    d.on('error', () => {});
    const w = await accepting;
    const v3 = (d.core.caps & Caps.HALF_CLOSE) === 0;
    const reply = v3 ? [] : s.reply;
    // A reader that takes nothing stops its writer after one window: write no more than that.
    const writes = s.ending === 'drop' ? within(s.writes, s.window) : s.writes;
    const back = readAll(d, 'flow', 0, seededRandom(s.seed));
    back.catch(() => {});
    let dialerClosed = false;
    d.once('close', () => {
      dialerClosed = true;
    });
    const chunks: Uint8Array[] = [];
    let readEnd = false;
    const reader = w.readable.getReader();
    const reading = (async () => {
      for (let k = 0; ; k++) {
        if (s.ending === 'cancel' && k === s.at) return reader.cancel();
        if (s.ending === 'drop') {
          while (w.core.state !== 'closed' && !w.destroyed) await turn();
          return reader.cancel();
        }
        const { done, value } = await reader.read();
        if (done) {
          readEnd = true;
          return;
        }
        chunks.push(value);
        for (let i = s.delays[k % s.delays.length]; i > 0; i--) await turn();
      }
    })();
    reading.catch(() => {});
    const writer = w.writable.getWriter();
    const writing = (async () => {
      // A plain v3 stream has no half-close: the acceptor's close would close the dialer's side.
      if (v3) await reading;
      let off = 0;
      for (const n of reply) {
        await writer.write(pattern(200, off, n));
        off += n;
      }
      if (s.ending === 'abort') await writer.abort(new Error('aborted by the acceptor'));
      else await writer.close();
    })();
    writing.catch(() => {});
    await writeAll(d, 1, writes, s.ending === 'destroyDialer' ? s.at : writes.length, () =>
      s.ending === 'destroyDialer' ? d.destroy() : d.end(),
    );
    for (let i = 0; !(dialerClosed && a.streamCount === 0 && b.streamCount === 0); i++) {
      if (i === 20_000) {
        throw new Error(
          `not settled: dialer closed ${dialerClosed}, streams ${a.streamCount}/${b.streamCount}, ` +
            `acceptor ${w.core.state}, dialer ${d.core.state}`,
        );
      }
      await turn();
    }
    await Promise.allSettled([reading, writing, back]);
    if (s.ending === 'end') {
      expect(readEnd).toBe(true);
      check(1, Buffer.concat(chunks), sum(writes), 'dialer->web acceptor');
      check(200, await back, sum(reply), 'web acceptor->dialer');
    }
    expect(received(a)).toBe(0);
    expect(received(b as unknown as Node)).toBe(0);
  } finally {
    a.destroy();
    b.destroy();
  }
}

describe('flow control end to end', () => {
  it(
    'delivers every byte, closes every stream and returns every counted byte, under any reader',
    async () => {
      await fc.assert(fc.asyncProperty(scenarioArb, play), { numRuns: runs(40) });
    },
    budget(15_000),
  );

  it(
    'a Web Streams acceptor: every byte, every stream closed, every counted byte returned',
    async () => {
      await fc.assert(fc.asyncProperty(webScenarioArb, playWeb), { numRuns: runs(40) });
    },
    budget(5_000),
  );
});
