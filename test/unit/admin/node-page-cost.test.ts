import { afterEach, describe, expect, it, vi } from 'vitest';
import { NodeView } from '../../../src/admin/node-view.js';
import type { FlexStream } from '../../../src/index.js';
import type { StreamCore } from '../../../src/stream/core.js';
import { IdIndex } from '../../../src/util/id-index.js';
import { Cmd } from '../../../src/wire/constants.js';
import { makeFrame } from '../../../src/wire/frame.js';
import { encodeOpen } from '../../../src/wire/open.js';
import { rawLink } from '../../helpers/raw.js';

/**
 * What a page of a node's streams (GET /api/v1/streams on a node's admin) costs: a page after a
 * cursor reads the streams of that page (and a few more), not every stream of the node. Counted
 * in reads of the streams' fields, not timed: each page copied all the streams and read every
 * one's serial (and, with ?domain=, its peer), so a walk of 16,384 page by page cost the square.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** Counts the reads of `field` on each of `items` from now on. */
function countReads(items: Iterable<object>, field: 'serial' | 'remoteDomain'): { reads: number } {
  const counter = { reads: 0 };
  for (const item of items) {
    const value = (item as Record<string, unknown>)[field];
    Object.defineProperty(item, field, {
      get: () => {
        counter.reads++;
        return value;
      },
    });
  }
  return counter;
}

describe("the cost of a page of a node's streams", () => {
  it('does not grow with the streams before the cursor', async () => {
    const { node, raw } = rawLink({ heartbeatInterval: 0 });
    cleanups.push(() => node.destroy());
    const accepted: FlexStream[] = [];
    node.listen(80).on('stream', (s) => accepted.push(s));
    // 300 streams from the raw peer, every other one's dialer named bob, the rest carol.
    const peer = (i: number) => (i % 2 === 0 ? 'bob' : 'carol');
    raw.sendAll(
      Array.from({ length: 300 }, (_, i) =>
        makeFrame(Cmd.OPEN, 1, 80, 2, 5000 + i, encodeOpen({ domain: peer(i), window: 0 })),
      ),
    );
    await vi.waitFor(() => expect(accepted).toHaveLength(300));
    const cores = node.streamList();
    const serials = cores.map((s) => s.serial).sort((a, b) => a - b);
    const port = (s: { remote: { port: number } }) => s.remote.port - 5000;

    // No index until a page is asked for: an idle stream pays nothing for the admin's pages.
    expect((node as unknown as { bySerial: unknown }).bySerial).toBeNull();
    const view = new NodeView(node, null, 10, 10);
    const serialReads = countReads(cores, 'serial');
    // The first page makes the node's index (made once, on demand: a node nobody pages through
    // keeps none), reading every stream once; the pages after it read their own streams.
    expect(view.streams(undefined, { offset: 0, limit: 1 }).streams.map(port)).toEqual([0]);
    expect(serialReads.reads).toBeGreaterThanOrEqual(300);
    serialReads.reads = 0;
    const page = view.streams(undefined, { offset: 0, limit: 4, after: serials[289] });
    expect(page.streams.map(port)).toEqual([290, 291, 292, 293]);
    expect(page).toMatchObject({ count: 300, next: String(serials[293]) });
    expect(serialReads.reads).toBeLessThan(40);

    // With ?domain=: the first page counts the streams to bob; the next ones, with no stream
    // opened or ended meanwhile, read the streams they step over only.
    const peerReads = countReads(cores, 'remoteDomain');
    expect(view.streams('bob', { offset: 0, limit: 2 })).toMatchObject({ count: 150 });
    peerReads.reads = 0;
    const bob = view.streams('bob', { offset: 0, limit: 3, after: serials[279] });
    expect(bob.streams.map(port)).toEqual([280, 282, 284]);
    expect(bob.count).toBe(150);
    expect(peerReads.reads).toBeLessThan(40);

    // Streams that end are skipped, and counted out.
    for (const s of accepted.slice(100, 280)) s.destroy();
    await vi.waitFor(() => expect(node.streamCount).toBe(120));
    expect(view.streams('bob', { offset: 0, limit: 3, after: serials[96] }).streams.map(port)).toEqual([
      98, 280, 282,
    ]);
    expect(view.streams('bob', { offset: 0, limit: 1 }).count).toBe(60);
    serialReads.reads = 0;
    expect(view.streams(undefined, { offset: 1, limit: 2, after: serials[98] }).streams.map(port)).toEqual([
      280, 281,
    ]);
    expect(serialReads.reads).toBeLessThan(40);
  });
});

/** A stand-in for a core: the index reads its serial and key. */
const core = (serial: number, key: number) => ({ serial, key }) as StreamCore;

describe("an id index of a node's streams", () => {
  it('finds a stream that changed keys, and one pushed out of order', () => {
    const map = new Map<number, StreamCore>();
    const index = new IdIndex<number, StreamCore>(
      (key) => map.get(key),
      (s) => s.serial,
    );
    const add = (c: StreamCore) => {
      map.set(c.key, c);
      index.push(c.serial, c.key, map.size);
    };
    const a = core(1, 10);
    const b = core(2, 20);
    add(a);
    add(core(4, 40));
    add(b);
    // A rebound stream (an early-data dial answered from another address) takes a new key.
    map.delete(20);
    b.key = 21;
    map.set(21, b);
    index.rekey(b.serial, b.key);
    add(core(3, 30));
    const serialsOf = (list: StreamCore[]) => list.map((s) => s.serial);
    expect(serialsOf(index.page(0, 0, 10, map.size))).toEqual([1, 2, 3, 4]);
    // A key taken again by a later stream lists that one, once.
    map.delete(10);
    add(core(5, 10));
    expect(serialsOf(index.page(1, 0, 10, map.size))).toEqual([2, 3, 4, 5]);
    expect(index.added).toBe(5);
    // The ended are dropped once they outnumber the live.
    for (let i = 0; i < 100; i++) add(core(10 + i, 1000 + i));
    for (let i = 0; i < 99; i++) map.delete(1000 + i);
    expect(serialsOf(index.page(5, 0, 10, map.size))).toEqual([109]);
    expect(index.kept).toBeLessThan(2 * map.size + 33);
  });
});
