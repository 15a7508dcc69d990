import { afterEach, describe, expect, it } from 'vitest';
import type { SwitcherClient } from '../../../src/switcher/client.js';
import type { Registry } from '../../../src/switcher/registry.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { Cmd } from '../../../src/wire/constants.js';
import { makeFrame } from '../../../src/wire/frame.js';
import { encodeOpen, encodeOpenAck } from '../../../src/wire/open.js';
import { canGc, settleHeap } from '../../helpers/faulty-memory.js';
import { join, PASSWORD, type Raw } from './helpers.js';

/**
 * What a page of the admin's lists costs: a page that resumes after a cursor reads the items of
 * that page (and a binary search's few more), not every item before it. Counted in reads of the
 * items' ids, not timed: walked from the start, 300 clients (or streams) page by page read
 * 45,000 ids.
 */

const open: Switcher[] = [];
afterEach(async () => {
  for (const sw of open.splice(0)) await sw.close({ timeout: 500 });
});

function registryOf(sw: Switcher): Registry<SwitcherClient> {
  return (sw as unknown as { registry: Registry<SwitcherClient> }).registry;
}

/** Counts the reads of `id` on each of `items` from now on. */
function countIdReads(items: Iterable<{ id: number }>): { reads: number } {
  const counter = { reads: 0 };
  for (const item of items) {
    const id = item.id;
    Object.defineProperty(item, 'id', {
      get: () => {
        counter.reads++;
        return id;
      },
    });
  }
  return counter;
}

describe('the cost of a page of clients', () => {
  it('does not grow with the clients before the cursor', async () => {
    const sw = new Switcher({ password: PASSWORD });
    open.push(sw);
    const domains = Array.from({ length: 300 }, (_, i) => `n${i}`);
    for (const d of domains) await join(sw, d);
    const ids = sw.clients().map((c) => c.id);
    const counter = countIdReads(registryOf(sw).entries());

    const page = sw.clients(5, 0, ids[289]);
    expect(page.map((c) => c.domain)).toEqual(['n290', 'n291', 'n292', 'n293', 'n294']);
    expect(counter.reads).toBeLessThan(40);

    // Clients that left are skipped, and the list stays in order (cursor pages: switcher-cursor).
    for (const d of domains.slice(100, 280)) expect(sw.kick(d)).toBe(true);
    // The first read after them drops the 180 at once (their cost, paid once), then pages read
    // their own clients again.
    expect(sw.clients(1).map((c) => c.domain)).toEqual(['n0']);
    counter.reads = 0;
    expect(sw.clients(3, 0, ids[60]).map((c) => c.domain)).toEqual(['n61', 'n62', 'n63']);
    expect(sw.clients(3, 0, ids[98]).map((c) => c.domain)).toEqual(['n99', 'n280', 'n281']);
    expect(sw.clients(2, 1, ids[279]).map((c) => c.domain)).toEqual(['n281', 'n282']);
    expect(counter.reads).toBeLessThan(3 * 40);
    expect(sw.clients().length).toBe(120);
  });
});

/** Opens one stream from `a` to `b` on port `port` of both. */
async function openStream(a: Raw, b: Raw, port: number): Promise<void> {
  a.send(makeFrame(Cmd.OPEN, b.ip, port, a.ip, port, encodeOpen({ domain: '' })));
  await b.next((f) => f.cmd === Cmd.OPEN && f.dstPort === port);
  b.send(makeFrame(Cmd.OPEN_ACK, a.ip, port, b.ip, port, encodeOpenAck({ window: 0 })));
  await a.next((f) => f.cmd === Cmd.OPEN_ACK && f.srcPort === port);
}

describe("the cost of a page of a client's streams", () => {
  it('does not grow with the streams before the cursor', async () => {
    const sw = new Switcher({ password: PASSWORD });
    open.push(sw);
    const [a, b, c] = [await join(sw, 'a'), await join(sw, 'b'), await join(sw, 'c')];
    for (let port = 1; port <= 300; port++) await openStream(port % 2 === 0 ? a : c, b, port);
    const ids = sw.streams('b')!.map((s) => s.id);
    expect(ids).toHaveLength(300);
    const hub = registryOf(sw).byDomain('b')!;
    const counter = countIdReads(hub.streams.values());

    const page = sw.streams('b', { limit: 4, after: ids[289] })!;
    expect(page.map((s) => s.acceptor.port)).toEqual([291, 292, 293, 294]);
    expect(counter.reads).toBeLessThan(40);

    // c leaves with its streams (the odd ports): b's pages skip them, in order.
    expect(sw.kick('c')).toBe(true);
    await b.barrier();
    counter.reads = 0;
    expect(sw.streams('b', { limit: 3, after: ids[9] })!.map((s) => s.acceptor.port)).toEqual([12, 14, 16]);
    expect(sw.streams('b', { limit: 2, after: ids[289], offset: 1 })!.map((s) => s.acceptor.port)).toEqual([
      294, 296,
    ]);
    expect(counter.reads).toBeLessThan(2 * 40);
    expect(sw.streams('b')).toHaveLength(150);
    // Each stream once across clients: those b accepted, as the list without a domain has them.
    expect(sw.streams()!.map((s) => s.acceptor.port)).toEqual(
      Array.from({ length: 150 }, (_, i) => 2 * i + 2),
    );
  });
});

describe('the ordered lists of clients and streams', () => {
  it('keep no client that left from being collected', async () => {
    const sw = new Switcher({ password: PASSWORD });
    open.push(sw);
    const a = await join(sw, 'a');
    // Only a weak reference outlives this function: what keeps the client alive is the switcher.
    const gone = await (async () => {
      const b = await join(sw, 'b');
      await openStream(b, a, 1);
      const client = registryOf(sw).byDomain('b')!;
      const left = new Promise((resolve) => sw.once('clientLeft', resolve));
      b.t.destroy();
      await left;
      return new WeakRef(client);
    })();
    await a.barrier();
    expect(sw.clients().map((c) => c.domain)).toEqual(['a']);
    expect(sw.streams('a')).toEqual([]);
    if (canGc()) {
      await settleHeap();
      expect(gone.deref()).toBeUndefined();
    }
  });
});

describe("a client's index of its streams by id", () => {
  it('is made by the first page, and goes with the last stream', async () => {
    const sw = new Switcher({ password: PASSWORD });
    open.push(sw);
    const [a, b, c] = [await join(sw, 'a'), await join(sw, 'b'), await join(sw, 'c')];
    const kept = (domain: string): number | null =>
      (registryOf(sw).byDomain(domain) as unknown as { byId: { kept: number } | null }).byId?.kept ?? null;
    // None until a page asks: a switcher nobody pages through pays nothing per stream for it.
    for (let port = 1; port <= 10; port++) await openStream(a, b, port);
    expect(kept('b')).toBeNull();
    expect(sw.streams('b', { limit: 2 })!.map((s) => s.acceptor.port)).toEqual([1, 2]);
    expect(kept('b')).toBe(10);
    await openStream(a, b, 11);
    expect(kept('b')).toBe(11);
    // Fewer than the index's slack (it compacts once the dead outnumber the live by 32): kept
    // past the last close, ~150 B of switcher heap per stream a node had had.
    for (let port = 1; port <= 11; port++) a.send(makeFrame(Cmd.CLOSE, b.ip, port, a.ip, port));
    await a.barrier();
    await b.barrier();
    expect([kept('a'), kept('b')]).toEqual([null, null]);
    expect(sw.streams('b')).toEqual([]);

    // The same when the other end leaves with them.
    for (let port = 12; port <= 21; port++) await openStream(c, b, port);
    expect(sw.streams('b')).toHaveLength(10);
    expect(kept('b')).toBe(10);
    expect(sw.kick('c')).toBe(true);
    await b.barrier();
    expect(kept('b')).toBeNull();
  });
});
