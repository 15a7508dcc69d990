import type { ServerResponse } from 'node:http';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { validateAdminOptions } from '../../../src/admin/config.js';
import { HttpError, readPage } from '../../../src/admin/http.js';
import type { Context } from '../../../src/admin/router.js';
import { SwitcherPanel } from '../../../src/admin/switcher-panel.js';
import { type ClientView, SwitcherView } from '../../../src/admin/switcher-view.js';
import type { SwitcherClient } from '../../../src/switcher/client.js';
import type { Registry as SwitcherRegistry } from '../../../src/switcher/registry.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { Cmd } from '../../../src/wire/constants.js';
import { makeFrame } from '../../../src/wire/frame.js';
import { encodeOpen, encodeOpenAck } from '../../../src/wire/open.js';
import { join, PASSWORD, type Raw } from '../switcher/helpers.js';

/**
 * The admin lists page by cursor: `next` names the last item of a page (a client's or a
 * stream's id) and the next page resumes after it. Offsets shifted under churn: a client that
 * left between two pages made the next one skip a client that stayed, one that joined made a
 * client show twice.
 */

const open: Switcher[] = [];
afterEach(async () => {
  for (const sw of open.splice(0)) await sw.close({ timeout: 500 });
});

async function switcherWith(domains: string[]) {
  const sw = new Switcher({ password: PASSWORD });
  open.push(sw);
  const raws = new Map<string, Raw>();
  for (const d of domains) raws.set(d, await join(sw, d));
  return { sw, raws, view: new SwitcherView(sw, 10, 10) };
}

/** Opens one stream from `a` to `b` on port `port` of `b`. */
async function openStream(a: Raw, b: Raw, port: number): Promise<void> {
  a.send(makeFrame(Cmd.OPEN, b.ip, port, a.ip, port, encodeOpen({ domain: '' })));
  await b.next((f) => f.cmd === Cmd.OPEN && f.dstPort === port);
  b.send(makeFrame(Cmd.OPEN_ACK, a.ip, port, b.ip, port, encodeOpenAck({ window: 0 })));
  await a.next((f) => f.cmd === Cmd.OPEN_ACK && f.srcPort === port);
}

/** The JSON body a panel's GET route answers for `path` (handled synchronously). */
function get(panel: SwitcherPanel, path: string): unknown {
  const url = new URL(`http://127.0.0.1${path}`);
  const route = panel.routes.find((r) => r.method === 'GET' && r.path === url.pathname);
  let body = '';
  const res = { writeHead: () => res, end: (text: string) => (body = text) } as unknown as ServerResponse;
  void route!.handle({ url, res, params: {} } as unknown as Context);
  return JSON.parse(body);
}

interface ClientsPage {
  count: number;
  next: string | null;
  clients: ClientView[];
}

/** `readPage` of a query string. */
const page = (query: string) => readPage(new URL(`http://127.0.0.1/x?${query}`));

describe('cursor pages of the switcher admin lists', () => {
  it('lists every client that stayed exactly once while others leave and join between pages', async () => {
    const names = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7'];
    const { sw } = await switcherWith(names);
    const panel = new SwitcherPanel(sw, validateAdminOptions({ switcher: sw }), new Registry());
    const list = (query: string) => get(panel, `/api/v1/clients?${query}`) as ClientsPage;
    try {
      const seen: string[] = [];
      let p = list('limit=3');
      seen.push(...p.clients.map((c) => c.domain));
      // c0 (already listed) leaves and c8 joins: by offset, the next page skipped c3.
      expect(sw.kick('c0')).toBe(true);
      await join(sw, 'c8');
      let pages = 1;
      while (p.next !== null && pages < 10) {
        p = list(`limit=3&cursor=${encodeURIComponent(p.next)}`);
        seen.push(...p.clients.map((c) => c.domain));
        if (pages === 1) {
          // c6 (not listed yet) leaves, and a newcomer joins: the rest come once each.
          expect(sw.kick('c6')).toBe(true);
          await join(sw, 'c9');
        }
        pages++;
      }
      expect(p.next).toBeNull();
      expect(seen).toEqual(['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c7', 'c8', 'c9']);
      // An offset still works, and its `next` is a cursor too.
      const byOffset = list('limit=2&offset=1');
      expect(byOffset.clients.map((c) => c.domain)).toEqual(['c2', 'c3']);
      const after = list(`limit=2&cursor=${byOffset.next}`);
      expect(after.clients.map((c) => c.domain)).toEqual(['c4', 'c5']);
      expect(after.count).toBe(8);
    } finally {
      panel.close();
    }
  });

  it('pages the per-client stream rows by client, across churn', async () => {
    const { sw, raws, view } = await switcherWith(['a', 'b', 'c', 'd']);
    const [a, b] = [raws.get('a')!, raws.get('b')!];
    await openStream(a, b, 1);
    const first = view.streams(undefined, page('limit=2'))!;
    expect(first.clients.map((c) => c.domain)).toEqual(['a', 'b']);
    expect(sw.kick('a')).toBe(true);
    const rest = view.streams(undefined, page(`limit=2&cursor=${first.next}`))!;
    expect(rest.clients.map((c) => c.domain)).toEqual(['c', 'd']);
    expect(rest.next).toBeNull();
  });

  it("pages one client's streams by stream id, across churn", async () => {
    const { sw, raws, view } = await switcherWith(['hub', 'x', 'y']);
    const [hub, x, y] = [raws.get('hub')!, raws.get('x')!, raws.get('y')!];
    // hub: 3 streams with x (ports 1-3) and 3 with y (ports 4-6).
    for (const port of [1, 2, 3]) await openStream(x, hub, port);
    for (const port of [4, 5, 6]) await openStream(y, hub, port);
    const ports = (p: { clients: { list: { acceptor: { port: number } }[] }[] }) =>
      p.clients[0].list.map((s) => s.acceptor.port);
    const first = view.streams('hub', page('limit=2'))!;
    expect(ports(first)).toEqual([1, 2]);
    // x leaves with its 3 streams, two of them listed: with offsets the next page skipped 4 and 5.
    expect(sw.kick('x')).toBe(true);
    await hub.barrier();
    await y.barrier();
    const seen = [...ports(first)];
    let p = first;
    for (let pages = 0; p.next !== null && pages < 10; pages++) {
      p = view.streams('hub', page(`limit=2&cursor=${p.next}`))!;
      seen.push(...ports(p));
    }
    expect(seen).toEqual([1, 2, 4, 5, 6]);
  });

  it("reads the page's clients only, not every client's counters for the count", async () => {
    const { sw, view } = await switcherWith(Array.from({ length: 200 }, (_, i) => `n${i}`));
    const ids = sw.clients().map((c) => c.id);
    // Reads of each client's byte counters (stats().clients summed them all to count them).
    let reads = 0;
    const registry = (sw as unknown as { registry: SwitcherRegistry<SwitcherClient> }).registry;
    for (const c of registry.entries()) {
      const stats = c.stats;
      Object.defineProperty(c, 'stats', {
        get: () => {
          reads++;
          return stats;
        },
      });
    }
    const clients = view.clientsPage(page(`limit=5&cursor=${ids[189]}`));
    expect(clients.clients.map((c) => c.domain)).toEqual(['n190', 'n191', 'n192', 'n193', 'n194']);
    expect(clients.count).toBe(200);
    const streams = view.streams(undefined, page(`limit=5&cursor=${ids[189]}`))!;
    expect(streams.clients.map((c) => c.domain)).toEqual(['n190', 'n191', 'n192', 'n193', 'n194']);
    expect(streams.count).toBe(200);
    // Each client of the two pages read for its own view: 12 clients at most, a few reads each.
    expect(reads).toBeLessThan(12 * 4);
  });

  it('builds records of the clients a page of streams lists, not of a whole page of clients', async () => {
    const { sw, raws, view } = await switcherWith(Array.from({ length: 60 }, (_, i) => `n${i}`));
    // n0 and n1: 20 streams between them, each listed under both.
    for (let port = 1; port <= 20; port++) await openStream(raws.get('n0')!, raws.get('n1')!, port);
    let built = 0;
    const clients = sw.clients.bind(sw);
    sw.clients = (...args) => {
      const list = clients(...args);
      built += list.length;
      return list;
    };
    const first = view.streams(undefined, page('limit=40'))!;
    expect(first.clients.map((c) => [c.domain, c.list.length])).toEqual([
      ['n0', 20],
      ['n1', 20],
    ]);
    // Records of the 2 clients listed and of those read with them, not of 41.
    expect(built).toBeLessThan(20);
    // The rest of the walk: every other client, once, with an empty list.
    const seen = first.clients.map((c) => c.domain);
    let p = first;
    for (let pages = 0; p.next !== null && pages < 10; pages++) {
      p = view.streams(undefined, page(`limit=40&cursor=${p.next}`))!;
      seen.push(...p.clients.map((c) => c.domain));
    }
    expect(seen).toEqual(Array.from({ length: 60 }, (_, i) => `n${i}`));
  });

  it('reads a cursor, and refuses a bad one or one with an offset', () => {
    expect(page('cursor=42&limit=5')).toEqual({ offset: 0, limit: 5, after: 42 });
    expect(page('limit=5')).toEqual({ offset: 0, limit: 5 });
    for (const q of ['cursor=', 'cursor=-1', 'cursor=x', 'cursor=1e3', 'cursor=1&offset=0']) {
      expect(() => page(q), q).toThrow(HttpError);
    }
  });
});
