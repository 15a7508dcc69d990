import { afterEach, describe, expect, it, vi } from 'vitest';
import { type FlexStream, Node, type NodeOptions } from '../../src/index.js';
import { memoryPair } from '../../src/transport/memory.js';
import { Caps, Cmd } from '../../src/wire/constants.js';
import { roundTrip } from '../helpers/pings.js';
import { type RawPeer, rawLink, rawStream } from '../helpers/raw.js';

/**
 * Readers that ask for a number of bytes (`read(n)` on 'readable', as parsers of length-prefixed
 * records do) and so leave a partial record in the readable buffer while they wait for the rest.
 */

const nodes: Node[] = [];
afterEach(() => {
  for (const n of nodes.splice(0)) n.destroy();
  vi.useRealTimers();
});

/** Turns the event loop until `pred` holds; throws after `turns` turns (no timers involved). */
async function until(pred: () => boolean, what: () => string, turns = 2_000): Promise<void> {
  for (let i = 0; !pred(); i++) {
    if (i === turns) throw new Error(`not settled: ${what()}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** Takes `size`-byte records with read(size) whenever the stream is readable. */
function recordReader(s: FlexStream, size: number): { got(): number } {
  let got = 0;
  s.on('readable', () => {
    for (;;) {
      const c = s.read(size) as Buffer | null;
      if (c === null) return;
      got += c.length;
    }
  });
  return { got: () => got };
}

async function opened(window: number, caps?: number): Promise<{ raw: RawPeer; accepted: FlexStream }> {
  const { node, raw } = rawLink({ heartbeatInterval: 0 });
  nodes.push(node);
  const { ack, accepted } = await rawStream(node, raw, window, caps);
  expect(ack.ok).toBe(true);
  return { raw, accepted };
}

/** Two nodes on a memory link: alice's `bulk` to bob:7 (`sink`), and `ping` to an echo on bob:8. */
async function pair(aOptions: NodeOptions = {}, window?: number) {
  const [x, y] = memoryPair();
  const a = new Node(x, { domain: 'alice', ip: 1, heartbeatInterval: 0, ...aOptions });
  const b = new Node(y, { domain: 'bob', ip: 2, heartbeatInterval: 0 });
  nodes.push(a, b);
  b.listen(8).on('stream', (s: FlexStream) => s.on('data', (d: Buffer) => s.write(d)));
  const accepting = b.listen(7).accept();
  const ping = await a.dial('bob:8');
  const bulk = await a.dial('bob:7', window === undefined ? {} : { window });
  return { ping, bulk, sink: await accepting };
}

describe('read(n) readers', () => {
  it('get small payloads that arrive while they wait for the rest of a record', async () => {
    const { raw, accepted } = await opened(64 * 1024, Caps.HALF_CLOSE | Caps.RESET);
    const r = recordReader(accepted, 1000);
    // 100-byte payloads, one per turn: the reader's first read(1000) finds 100 bytes and waits.
    for (let i = 0; i < 20; i++) {
      raw.send(Cmd.DATA, 1, 80, 2, 5000, new Uint8Array(100).fill(i));
      await new Promise((res) => setImmediate(res));
    }
    await until(
      () => r.got() === 2000,
      () => `the reader got ${r.got()} of 2000 bytes, ${accepted.readableLength} in its buffer`,
    );
  });

  it('get credit back beside short messages (sharedInflight) while they wait mid-record', async () => {
    const { ping, bulk, sink } = await pair();
    // Short writes from idle on another stream: the bulk stream keeps 256 KiB in flight and asks
    // for credit with an empty data frame once half of it is out.
    await roundTrip(ping);
    await roundTrip(ping);
    const r = recordReader(sink, 1000);
    bulk.write(Buffer.alloc(300_000, 7));
    // 262,144 bytes arrive; the reader takes 262 records and waits with 144 bytes for the 263rd.
    await until(
      () => r.got() === 300_000,
      () =>
        `the reader got ${r.got()} of 300000 bytes; ${bulk.core.window - bulk.core.sendCredit} in flight, ` +
        `${sink.core.receiveBuffered} unread`,
    );
  });

  it('get credit back on a plain v3 stream whose sender is held to 16 frames in flight', async () => {
    // caps 0: no caps byte, as through a Go switcher's domain dial; a 64 KiB window allows a Go
    // receiver 16 frames, so the sender keeps at most 16 unacknowledged.
    const { bulk, sink } = await pair({ caps: 0 }, 64 * 1024);
    expect(sink.core.caps).toBe(0);
    const r = recordReader(sink, 1050);
    for (let i = 0; i < 63; i++) {
      bulk.write(Buffer.alloc(100, i)); // one frame each
      await new Promise((res) => setImmediate(res));
    }
    // 16 frames (1,600 bytes) arrive; the reader takes one record and waits with 550 bytes.
    await until(
      () => r.got() === 6_300,
      () => `the reader got ${r.got()} of 6300 bytes; ${sink.core.receiveBuffered} unread`,
    );
  });

  it('get a record larger than sharedInflight while short messages go on beside it', async () => {
    const { ping, bulk, sink } = await pair();
    // Frozen clocks: the hold on bulk streams never runs out while the round trips go on.
    vi.useFakeTimers({ toFake: ['Date', 'performance'] });
    await roundTrip(ping);
    await roundTrip(ping);
    const r = recordReader(sink, 300_000);
    bulk.write(Buffer.alloc(600_000, 7));
    for (let i = 0; i < 200 && r.got() < 600_000; i++) {
      await roundTrip(ping);
      // A memory link delivers in microtasks: leave the event loop a turn ('readable' is a tick).
      await new Promise((res) => setImmediate(res));
    }
    expect(r.got(), `${sink.core.receiveBuffered} unread`).toBe(600_000);
  });

  it('get a record larger than what a plain v3 sender may have in flight in small frames', async () => {
    const { bulk, sink } = await pair({ caps: 0 }, 64 * 1024);
    const r = recordReader(sink, 2_000);
    for (let i = 0; i < 40; i++) {
      bulk.write(Buffer.alloc(100, i)); // one frame each: 16 frames are 1,600 bytes
      await new Promise((res) => setImmediate(res));
    }
    await until(
      () => r.got() === 4_000,
      () => `the reader got ${r.got()} of 4000 bytes; ${sink.core.receiveBuffered} unread`,
    );
  });

  it('still stop their peer after about one window when they stop reading after a read(n)', async () => {
    const window = 64 * 1024;
    const { bulk, sink } = await pair({}, window);
    let asked = false;
    sink.once('readable', () => {
      asked = true;
      expect(sink.read(1000)).toBe(null); // 100 bytes there; the reader then goes away
    });
    bulk.write(Buffer.alloc(100, 1));
    await until(
      () => asked,
      () => 'no readable',
    );
    bulk.write(Buffer.alloc(1024 * 1024, 2));
    for (let i = 0; i < 200; i++) await new Promise((res) => setImmediate(res));
    // What the waiting read asked for may be counted as taken; nothing more is.
    expect(sink.core.bytesRead).toBeLessThanOrEqual(window + 1000);
    expect(sink.core.bytesRead).toBeGreaterThanOrEqual(window);
  });
});
