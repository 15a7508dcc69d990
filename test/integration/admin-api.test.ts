import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AdminServer,
  type ClientStreamsView,
  type ClientView,
  openapiDocument,
  type SwitcherSnapshot,
  type SwitcherTotals,
  startAdmin,
} from '../../src/admin/index.js';
import { eventually, parseMetrics, startTraffic, type Traffic } from './admin-fixture.js';
import { collectEvents, request } from './admin-http.js';

interface ApiError {
  error: { code: string; message: string };
}

const TOKEN = 'test-token-0123456789';

describe('admin API for a switcher', () => {
  let t: Traffic;
  let admin: AdminServer;
  const get = (path: string) => request(admin.url, path, { token: TOKEN });

  beforeAll(async () => {
    t = await startTraffic();
    admin = await startAdmin({ switcher: t.sw, port: 0, token: TOKEN, sampleInterval: 50 });
  });

  afterAll(async () => {
    await admin?.close();
    await t?.close();
  });

  it('GET /api/v1/info describes the switcher', async () => {
    const r = await get('/api/v1/info');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    const info = r.json as {
      mode: string;
      protocol: number;
      totals: SwitcherTotals;
      admin: { tokenRequired: boolean };
    };
    expect(info.mode).toBe('switcher');
    expect(info.protocol).toBe(20260225);
    expect(info.totals.clients).toBe(2);
    expect(info.admin.tokenRequired).toBe(true);
  });

  it('GET /api/v1/clients lists both nodes with bytes, rates and addresses', async () => {
    const clients = await eventually(async () => {
      const r = await get('/api/v1/clients');
      expect(r.status).toBe(200);
      const list = (r.json as { count: number; clients: ClientView[] }).clients;
      expect(list.map((c) => c.domain).sort()).toEqual(['alice', 'bob']);
      for (const c of list) expect(c.rateIn).toBeGreaterThan(0);
      return list;
    });
    for (const c of clients) {
      expect(c.ip).toBeGreaterThan(0);
      expect(c.remoteAddress).toMatch(/^memory#/);
      expect(Date.parse(c.connectedAt)).toBeLessThanOrEqual(Date.now());
      expect(c.streams).toBe(1);
      expect(c.bytesIn).toBeGreaterThan(0);
      expect(c.bytesOut).toBeGreaterThan(0);
      expect(c.framesByCmd.data).toBeGreaterThan(0);
      expect(c).toHaveProperty('rttMs');
    }
  });

  it('GET /api/v1/clients/{domain} returns one client, 404 for nobody, 400 for a bad name', async () => {
    const r = await get('/api/v1/clients/BOB');
    expect(r.status).toBe(200);
    expect((r.json as { client: ClientView }).client.domain).toBe('bob');
    const missing = await get('/api/v1/clients/nobody');
    expect(missing.status).toBe(404);
    expect((missing.json as ApiError).error.code).toBe('not_found');
    const bad = await get('/api/v1/clients/no%20way!');
    expect(bad.status).toBe(400);
    expect((bad.json as ApiError).error.code).toBe('bad_request');
  });

  it('GET /api/v1/streams gives per-client stream counts and each stream', async () => {
    const all = await get('/api/v1/streams');
    expect(all.status).toBe(200);
    const body = all.json as { detail: string; clients: ClientStreamsView[] };
    expect(body.detail).toBe('streams');
    expect(body.clients).toHaveLength(2);
    const one = await get('/api/v1/streams?domain=alice');
    const c = (one.json as { clients: ClientStreamsView[] }).clients;
    expect(c).toEqual([expect.objectContaining({ domain: 'alice', streams: 1, streamsOpened: 1 })]);
    expect(c[0]!.list).toHaveLength(1);
    const s = c[0]!.list[0]!;
    expect([s.dialer.domain, s.acceptor.domain].sort()).toEqual(['alice', 'bob']);
    expect(s.since).toBeLessThanOrEqual(Date.now());
    expect((await get('/api/v1/streams?domain=nobody')).status).toBe(404);
    expect((await get('/api/v1/streams?domain=')).status).toBe(400);
  });

  it('GET /api/v1/listeners is for nodes only', async () => {
    const r = await get('/api/v1/listeners');
    expect(r.status).toBe(404);
    expect((r.json as ApiError).error.message).toMatch(/only for a node/);
  });

  it('requires the bearer token everywhere but the page, the OpenAPI document and /healthz', async () => {
    for (const path of [
      '/api/v1/info',
      '/api/v1/clients',
      '/api/v1/clients/bob',
      '/api/v1/streams',
      '/metrics',
      '/api/v1/events',
    ]) {
      const none = await request(admin.url, path);
      expect(none.status, path).toBe(401);
      expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
      expect((none.json as ApiError).error.code).toBe('unauthorized');
      const wrong = await request(admin.url, path, { token: `${TOKEN}x` });
      expect(wrong.status, path).toBe(401);
      if (path !== '/api/v1/events') {
        expect((await request(admin.url, `${path}?access_token=${TOKEN}`)).status, path).toBe(401);
      }
    }
    const viaQuery = await collectEvents(
      admin.url,
      `/api/v1/events?access_token=${TOKEN}`,
      (ev) => ev.length > 0,
    );
    expect(viaQuery[0].event).toBe('hello');
    await expect(collectEvents(admin.url, '/api/v1/events?access_token=nope', () => true)).rejects.toThrow(
      /401/,
    );
    expect((await request(admin.url, '/api/v1/clients/bob', { method: 'DELETE' })).status).toBe(401);
    expect((await request(admin.url, '/api/v1/openapi.json')).status).toBe(200);
    expect((await request(admin.url, '/healthz')).status).toBe(200);
    const page = await request(admin.url, '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/);
    expect((await request(admin.url, '/vendor/uPlot.iife.min.js')).text).toMatch(/uPlot/);
  });

  // The page holds the token and a kick button: a page of another site must not frame it
  // (clickjacking). Its CSP said so to browsers that read frame-ancestors; X-Frame-Options, which
  // the others (and scanners) look for, was on no answer.
  it('answers every request with headers that forbid framing and sniffing', async () => {
    const page = await request(admin.url, '/');
    const cached = await request(admin.url, '/', { headers: { 'if-none-match': String(page.headers.etag) } });
    expect(cached.status).toBe(304);
    for (const r of [page, cached]) {
      expect(r.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
    }
    const answers = {
      page,
      cached,
      script: await request(admin.url, '/dashboard.js'),
      json: await get('/api/v1/info'),
      unauthorized: await request(admin.url, '/api/v1/info'),
      missing: await request(admin.url, '/nope'),
      events: await request(admin.url, '/api/v1/events', { method: 'HEAD', token: TOKEN }),
      unparsable: await request(admin.url, '/healthz', { headers: { 'x-big': 'x'.repeat(20_000) } }),
    };
    for (const [what, r] of Object.entries(answers)) {
      expect([what, r.headers['x-frame-options']]).toEqual([what, 'DENY']);
      expect([what, r.headers['x-content-type-options']]).toEqual([what, 'nosniff']);
      expect([what, r.headers['referrer-policy']]).toEqual([what, 'no-referrer']);
    }
    expect(answers.unparsable.status).toBe(431);
  });

  it('streams live events: hello with history, then snapshots', async () => {
    const events = await collectEvents(
      admin.url,
      `/api/v1/events?access_token=${TOKEN}`,
      (ev) => ev.filter((e) => e.event === 'snapshot').length >= 2,
    );
    expect(events[0].event).toBe('hello');
    const hello = events[0].data as { mode: string; history: { t: number[] }; snapshot: SwitcherSnapshot };
    expect(hello.mode).toBe('switcher');
    expect(hello.history.t.length).toBeGreaterThan(0);
    expect(hello.snapshot.clients).toHaveLength(2);
    const snap = events.filter((e) => e.event === 'snapshot').at(-1)?.data as SwitcherSnapshot;
    expect(snap.totals.clients).toBe(2);
    expect(snap.t).toBeGreaterThan(hello.snapshot.t);
  });

  it('GET /metrics parses and its counters move with traffic', async () => {
    const scrape = async () => {
      const r = await get('/metrics');
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      return parseMetrics(r.text);
    };
    const before = await scrape();
    for (const name of [
      'flexmux_info{version="0.1.0",protocol="20260225",mode="switcher"}',
      'flexmux_switcher_clients',
      'flexmux_switcher_client_streams',
      'flexmux_switcher_frames_dropped_total',
      'flexmux_switcher_frames_spoofed_total',
      'flexmux_switcher_queued_bytes{stat="sum"}',
      'flexmux_switcher_client_rtt_seconds_count',
      'flexmux_switcher_early_routes',
    ]) {
      expect(before.has(name), name).toBe(true);
    }
    expect(before.get('flexmux_switcher_clients')).toBe(2);
    expect(before.get('flexmux_switcher_early_routes')).toBe(0); // nobody here uses earlyData
    expect(before.get('flexmux_switcher_client_streams')).toBe(2);
    await t.more(256 * 1024);
    const after = await scrape();
    const moved = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
    expect(moved('flexmux_switcher_bytes_total{direction="in"}')).toBeGreaterThan(256 * 1024);
    expect(moved('flexmux_switcher_bytes_total{direction="out"}')).toBeGreaterThan(256 * 1024);
    expect(moved('flexmux_switcher_frames_received_total{cmd="data"}')).toBeGreaterThan(0);
    expect(moved('flexmux_switcher_frames_forwarded_total')).toBeGreaterThan(0);
  });

  it('counts refused admissions by reason', async () => {
    const intruder = t.session('mallory', { password: 'wrong', reconnect: false });
    await new Promise<void>((resolve) => intruder.once('close', () => resolve()));
    const m = parseMetrics((await get('/metrics')).text);
    const refused = [...m].filter(([k]) => k.startsWith('flexmux_switcher_refusals_total{'));
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.reduce((n, [, v]) => n + v, 0)).toBeGreaterThanOrEqual(1);
  });

  it('two admin servers on one switcher keep separate registries', async () => {
    const second = await startAdmin({ switcher: t.sw, port: 0 });
    try {
      const a = parseMetrics((await request(second.url, '/metrics')).text);
      expect(a.get('flexmux_switcher_clients')).toBe(2);
      expect(second.registry).not.toBe(admin.registry);
    } finally {
      await second.close();
    }
    expect((await get('/metrics')).status).toBe(200);
  });

  it('every documented endpoint answers, and the document is OpenAPI 3.1', async () => {
    const doc = openapiDocument() as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe('3.1.0');
    const served = (await request(admin.url, '/api/v1/openapi.json')).json;
    expect(served).toEqual(JSON.parse(JSON.stringify(doc)));
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/',
        '/api/v1/clients',
        '/api/v1/clients/{domain}',
        '/api/v1/events',
        '/api/v1/info',
        '/api/v1/listeners',
        '/api/v1/openapi.json',
        '/api/v1/streams',
        '/healthz',
        '/metrics',
      ].sort(),
    );
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item).filter((k) => k === 'get' || k === 'delete')) {
        if (path === '/api/v1/events' || method === 'delete') continue;
        const r = await get(path.replace('{domain}', 'bob'));
        if (r.status === 404) expect((r.json as ApiError).error.message, path).not.toMatch(/no endpoint/);
        else expect(r.status, path).toBe(200);
      }
    }
    // The documented fields of a client are the ones the API gives.
    const schemas = (doc as unknown as { components: { schemas: Record<string, { properties: object }> } })
      .components.schemas;
    const clients = (await get('/api/v1/clients')).json as { clients: object[] };
    expect(clients.clients.length).toBeGreaterThan(0);
    for (const c of clients.clients) {
      expect(Object.keys(c).sort()).toEqual(Object.keys(schemas.Client.properties).sort());
    }
  });

  it('answers 404, 405 and HEAD properly', async () => {
    const nope = await get('/api/v2/nothing');
    expect(nope.status).toBe(404);
    expect((nope.json as ApiError).error.code).toBe('not_found');
    const wrong = await request(admin.url, '/api/v1/clients', { method: 'POST', token: TOKEN });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('GET, HEAD');
    expect((wrong.json as ApiError).error.code).toBe('method_not_allowed');
    const head = await request(admin.url, '/api/v1/info', { method: 'HEAD', token: TOKEN });
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
  });

  it('survives bad input', async () => {
    const cases: [string, Parameters<typeof request>[2], number][] = [
      ['/api/v1/clients/%E0%A4%A', { token: TOKEN }, 400],
      ['/../../etc/passwd', { token: TOKEN }, 404],
      ['//api/v1/info', { token: TOKEN }, 404],
      [
        '/api/v1/clients/bob',
        { method: 'DELETE', token: TOKEN, body: '{', headers: { 'content-type': 'application/json' } },
        400,
      ],
      [
        '/api/v1/clients/bob',
        { method: 'DELETE', token: TOKEN, body: '[1]', headers: { 'content-type': 'application/json' } },
        400,
      ],
      [
        '/api/v1/clients/bob',
        {
          method: 'DELETE',
          token: TOKEN,
          body: '{"reason":5}',
          headers: { 'content-type': 'application/json' },
        },
        400,
      ],
      [
        '/api/v1/clients/bob',
        { method: 'DELETE', token: TOKEN, body: 'reason=x', headers: { 'content-type': 'text/plain' } },
        415,
      ],
      [
        '/api/v1/clients/bob',
        {
          method: 'DELETE',
          token: TOKEN,
          body: 'x'.repeat(100_000),
          headers: { 'content-type': 'application/json' },
        },
        413,
      ],
      [`/api/v1/clients/bob?reason=${'r'.repeat(201)}`, { method: 'DELETE', token: TOKEN }, 400],
      ['/api/v1/clients/bob?reason=a%0Ab', { method: 'DELETE', token: TOKEN }, 400],
      // Not printable either: a line separator, a right-to-left override, a zero-width space, a
      // lone surrogate. The reason goes to the logs and to the node as it is.
      ['/api/v1/clients/bob?reason=a%E2%80%A8b', { method: 'DELETE', token: TOKEN }, 400],
      ['/api/v1/clients/bob?reason=a%E2%80%AEb', { method: 'DELETE', token: TOKEN }, 400],
      ['/api/v1/clients/bob?reason=a%E2%80%8Bb', { method: 'DELETE', token: TOKEN }, 400],
      [
        '/api/v1/clients/bob',
        {
          method: 'DELETE',
          token: TOKEN,
          body: '{"reason":"a\\ud800b"}',
          headers: { 'content-type': 'application/json' },
        },
        400,
      ],
      ['/api/v1/info', { headers: { authorization: 'Basic Zm9vOmJhcg==' } }, 401],
      ['/api/v1/info', { method: 'PATCH', token: TOKEN }, 405],
    ];
    for (const [path, o, status] of cases) {
      const r = await request(admin.url, path, o);
      expect(r.status, `${o?.method ?? 'GET'} ${path.slice(0, 60)}`).toBe(status);
      expect((r.json as ApiError).error.code).toBeTypeOf('string');
    }
    // Not even HTTP: Node's parser answers 400 and the server carries on.
    const junk = await request(admin.url, '/api/v1/info', { method: 'BREW', token: TOKEN });
    expect(junk.status).toBe(400);
    expect(t.sw.client('bob')).toBeDefined();
    expect((await get('/api/v1/info')).status).toBe(200);
  });

  it('DELETE /api/v1/clients/{domain} kicks the client', async () => {
    const left = new Promise<[string, string]>((resolve) =>
      t.sw.on('clientLeft', (c, reason) => {
        if (c.domain === 'alice') resolve([c.domain, reason]);
      }),
    );
    const r = await request(admin.url, '/api/v1/clients/alice', {
      method: 'DELETE',
      token: TOKEN,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'maintenance' }),
    });
    expect(r.status, r.text).toBe(200);
    expect(r.json).toEqual({
      kicked: { domain: 'alice', id: expect.any(Number), ip: expect.any(Number), reason: 'maintenance' },
    });
    expect(await left).toEqual(['alice', 'kicked']);
    const list = (await get('/api/v1/clients')).json as { clients: ClientView[] };
    expect(list.clients.map((c) => c.domain)).toEqual(['bob']);
    const again = await request(admin.url, '/api/v1/clients/alice?reason=twice', {
      method: 'DELETE',
      token: TOKEN,
    });
    expect(again.status).toBe(404);
    const m = parseMetrics((await get('/metrics')).text);
    expect(m.get('flexmux_switcher_clients_left_total{reason="kicked"}')).toBe(1);
  });

  it('close() ends event streams and frees the port', async () => {
    const extra = await startAdmin({ switcher: t.sw, port: 0 });
    let opened!: () => void;
    const open = new Promise<void>((r) => {
      opened = r;
    });
    const ended = collectEvents(extra.url, '/api/v1/events', () => false, { onOpen: () => opened() });
    await open;
    await extra.close();
    await extra.close();
    const events = await ended;
    expect(events[0].event).toBe('hello');
    await expect(request(extra.url, '/healthz')).rejects.toThrow(/ECONNREFUSED/);
  });
});
