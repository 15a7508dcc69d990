import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AdminServer,
  type ClientStreamsView,
  type ClientView,
  startAdmin,
} from '../../src/admin/index.js';
import { startTraffic, type Traffic } from './admin-fixture.js';
import { request } from './admin-http.js';

/**
 * The switcher's lists come in pages: a busy switcher (1,000 clients, 10,000 streams) made
 * `GET /api/v1/streams` answer 2.7 MB at once, holding the event loop that relays traffic, and
 * 10,000 clients made `GET /api/v1/clients` answer 3.5 MB.
 */

interface StreamsPage {
  count: number;
  next: string | null;
  clients: ClientStreamsView[];
}

describe('admin API pages for a switcher', () => {
  let t: Traffic;
  let admin: AdminServer;
  const get = (path: string) => request(admin.url, path);

  beforeAll(async () => {
    t = await startTraffic();
    // carol opens 5 streams to alice: alice 6 streams, bob 1, carol 5 (12 entries, 6 streams).
    await t.dialFrom('carol', Array(5).fill('alice:7'));
    admin = await startAdmin({ switcher: t.sw, port: 0 });
  });

  afterAll(async () => {
    await admin?.close();
    await t?.close();
  });

  const entries = (p: StreamsPage): number => p.clients.reduce((n, c) => n + c.list.length, 0);

  it('GET /api/v1/streams?limit= answers at most limit entries and says where to go on', async () => {
    const seen = new Map<string, number>();
    let query = 'offset=0';
    let pages = 0;
    while (query !== '' && pages < 10) {
      const r = await get(`/api/v1/streams?limit=4&${query}`);
      expect(r.status).toBe(200);
      const p = r.json as StreamsPage;
      expect(p.count).toBe(3);
      expect(entries(p)).toBeLessThanOrEqual(4);
      for (const c of p.clients) {
        seen.set(c.domain, (seen.get(c.domain) ?? 0) + c.list.length);
        expect(c.omitted).toBe(c.streams - c.list.length);
      }
      query = p.next === null ? '' : `cursor=${encodeURIComponent(p.next)}`;
      pages++;
    }
    expect(query).toBe('');
    expect([...seen.keys()].sort()).toEqual(['alice', 'bob', 'carol']);
  });

  it('GET /api/v1/streams?domain=&limit=&cursor= pages through one client', async () => {
    const ends = new Set<string>();
    let query = 'offset=0';
    let pages = 0;
    while (query !== '' && pages < 10) {
      const p = (await get(`/api/v1/streams?domain=alice&limit=4&${query}`)).json as StreamsPage;
      expect(p.clients).toHaveLength(1);
      expect(p.clients[0]!.list.length).toBeLessThanOrEqual(4);
      for (const s of p.clients[0]!.list) ends.add(`${s.dialer.domain}:${s.dialer.port}`);
      query = p.next === null ? '' : `cursor=${encodeURIComponent(p.next)}`;
      pages++;
    }
    expect(pages).toBe(2);
    expect(ends.size).toBe(6);
  });

  it('GET /api/v1/streams lists up to 1,000 entries by default; bad pages are 400', async () => {
    const p = (await get('/api/v1/streams')).json as StreamsPage;
    expect(entries(p)).toBe(12);
    expect(p.next).toBeNull();
    for (const q of [
      'limit=0',
      'limit=10001',
      'limit=x',
      'offset=-1',
      'offset=1.5',
      'cursor=x',
      'cursor=1&offset=1',
    ]) {
      expect((await get(`/api/v1/streams?${q}`)).status, q).toBe(400);
    }
  });

  it('GET /api/v1/clients?limit=&cursor= pages through the clients', async () => {
    const domains: string[] = [];
    let query = 'offset=0';
    let pages = 0;
    while (query !== '' && pages < 10) {
      const r = await get(`/api/v1/clients?limit=2&${query}`);
      expect(r.status).toBe(200);
      const p = r.json as { count: number; next: string | null; clients: ClientView[] };
      expect(p.count).toBe(3);
      expect(p.clients.length).toBeLessThanOrEqual(2);
      domains.push(...p.clients.map((c) => c.domain));
      query = p.next === null ? '' : `cursor=${encodeURIComponent(p.next)}`;
      pages++;
    }
    expect(pages).toBe(2);
    expect(domains.sort()).toEqual(['alice', 'bob', 'carol']);
    const all = (await get('/api/v1/clients')).json as { next: string | null; clients: ClientView[] };
    expect(all.clients).toHaveLength(3);
    expect(all.next).toBeNull();
    for (const q of ['limit=0', 'limit=10001', 'offset=x', 'cursor=', 'cursor=1&offset=0']) {
      expect((await get(`/api/v1/clients?${q}`)).status, q).toBe(400);
    }
  });
});
