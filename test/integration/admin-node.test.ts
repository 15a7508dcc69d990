import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminServer, type NodeSnapshot, type StreamView, startAdmin } from '../../src/admin/index.js';
import { type FlexStream, Node } from '../../src/index.js';
import { memoryPair } from '../../src/transport/memory.js';
import { eventually, parseMetrics, startTraffic, type Traffic } from './admin-fixture.js';
import { collectEvents, request, type SseEvent } from './admin-http.js';

interface ApiError {
  error: { code: string; message: string };
}

describe('admin API for a node', () => {
  let t: Traffic;
  let bobAdmin: AdminServer;
  let aliceAdmin: AdminServer;

  beforeAll(async () => {
    t = await startTraffic();
    bobAdmin = await startAdmin({ node: t.bob, port: 0, sampleInterval: 50, pingInterval: 50 });
    aliceAdmin = await startAdmin({ node: t.alice, port: 0, sampleInterval: 50, pingInterval: 0 });
  });

  afterAll(async () => {
    await bobAdmin?.close();
    await aliceAdmin?.close();
    await t?.close();
  });

  it('GET /api/v1/info describes the session', async () => {
    const r = await request(bobAdmin.url, '/api/v1/info');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      mode: 'node',
      domain: 'bob',
      state: 'ready',
      connections: 1,
      totals: { connected: true, streams: 1 },
    });
  });

  it('GET /api/v1/streams shows addresses, state, window, buffers, bytes, rates and RTT', async () => {
    const s = await eventually(async () => {
      const r = await request(bobAdmin.url, '/api/v1/streams');
      expect(r.status).toBe(200);
      const [stream] = (r.json as { streams: StreamView[] }).streams;
      expect(stream.rateOut).toBeGreaterThan(0);
      expect(stream.rttMs).not.toBeNull();
      return stream;
    });
    expect(s.local.domain).toBe('bob');
    expect(s.remote).toMatchObject({ domain: 'alice', port: 7 });
    expect(s.dialed).toBe(true);
    expect(s.state).toBe('open');
    expect(s.window).toBeGreaterThan(0);
    expect(s.bytesWritten).toBeGreaterThan(0);
    expect(s.receiveBuffered).toBeGreaterThanOrEqual(0);
    expect(s.writeBuffered).toBeGreaterThanOrEqual(0);
    const info = (await request(bobAdmin.url, '/api/v1/info')).json as { totals: { rttMs: number | null } };
    expect(info.totals.rttMs).not.toBeNull();
  });

  it('GET /api/v1/listeners lists virtual ports', async () => {
    expect((await request(aliceAdmin.url, '/api/v1/listeners')).json).toEqual({ listeners: [{ port: 7 }] });
    expect((await request(bobAdmin.url, '/api/v1/listeners')).json).toEqual({ listeners: [] });
  });

  it('answers 404 for the switcher endpoints', async () => {
    const r = await request(bobAdmin.url, '/api/v1/clients');
    expect(r.status).toBe(404);
    expect((r.json as ApiError).error.message).toMatch(/only for a switcher/);
    // The kick too (`flexmux kick` pointed at a node): 404 as documented, not 405 "allowed: GET".
    const kick = await request(bobAdmin.url, '/api/v1/clients/alice', { method: 'DELETE' });
    expect(kick.status).toBe(404);
    expect((kick.json as ApiError).error.message).toMatch(/only for a switcher/);
  });

  it('GET /metrics has the node series and an RTT histogram that fills', async () => {
    const m = await eventually(async () => {
      const parsed = parseMetrics((await request(bobAdmin.url, '/metrics')).text);
      expect(parsed.get('flexmux_node_rtt_seconds_count{target="switcher"}')).toBeGreaterThan(0);
      expect(parsed.get('flexmux_node_rtt_seconds_count{target="peer"}')).toBeGreaterThan(0);
      return parsed;
    });
    expect(m.get('flexmux_info{version="0.1.0",protocol="20260225",mode="node"}')).toBe(1);
    expect(m.get('flexmux_node_connected')).toBe(1);
    expect(m.get('flexmux_node_streams')).toBe(1);
    expect(m.get('flexmux_node_streams_opened_total{side="dialed"}')).toBe(1);
    expect(m.get('flexmux_node_bytes_total{direction="out"}')).toBeGreaterThan(0);
    const before = m.get('flexmux_node_bytes_total{direction="in"}') ?? 0;
    await t.more(128 * 1024);
    const after = parseMetrics((await request(bobAdmin.url, '/metrics')).text);
    expect(after.get('flexmux_node_bytes_total{direction="in"}')).toBeGreaterThan(before + 128 * 1024);
    const alice = parseMetrics((await request(aliceAdmin.url, '/metrics')).text);
    expect(alice.get('flexmux_node_streams_opened_total{side="accepted"}')).toBe(1);
    expect(alice.get('flexmux_node_listeners')).toBe(1);
  });

  it('streams snapshots of the node', async () => {
    const events = await collectEvents(bobAdmin.url, '/api/v1/events', (ev) =>
      ev.some((e) => e.event === 'snapshot'),
    );
    const hello = events[0].data as { mode: string; snapshot: NodeSnapshot };
    expect(hello.mode).toBe('node');
    expect(hello.snapshot.streams).toHaveLength(1);
    const snap = events.find((e) => e.event === 'snapshot')?.data as NodeSnapshot;
    expect(snap.totals.connected).toBe(true);
  });
});

describe('admin API for a plain node on a direct link', () => {
  it('serves a BaseNode and reports it closed after the link ends', async () => {
    const [x, y] = memoryPair();
    const a = new Node(x, { domain: 'a', ip: 1 });
    const b = new Node(y, { domain: 'b', ip: 2 });
    b.listen(9);
    const admin = await startAdmin({ node: a, port: 0, pingInterval: 20 });
    try {
      const s = await a.dial('b:9');
      s.on('error', () => {});
      const streams = (await request(admin.url, '/api/v1/streams')).json as { streams: StreamView[] };
      expect(streams.streams[0].remote).toMatchObject({ domain: 'b', port: 9 });
      await eventually(async () => {
        const info = (await request(admin.url, '/api/v1/info')).json as { totals: { rttMs: number | null } };
        expect(info.totals.rttMs).not.toBeNull();
      });
      b.destroy();
      await new Promise<void>((resolve) => (a.closed ? resolve() : a.once('close', () => resolve())));
      const info = (await request(admin.url, '/api/v1/info')).json as {
        state: string;
        totals: { connected: boolean };
      };
      expect(info.state).toBe('closed');
      expect(info.totals.connected).toBe(false);
    } finally {
      await admin.close();
      a.destroy();
      b.destroy();
    }
  });
});

describe('admin events of a node', () => {
  // A node's event stream used to carry its session's state changes only: a node's dashboard
  // could log nothing for its whole life.
  it("sends 'listener' as a session's listeners come and go, and none for a reconnection", async () => {
    const t = await startTraffic();
    const dave = t.session('dave', { reconnectSpread: 0 });
    await dave.ready({ timeout: 5_000 });
    dave.listen(10);
    const admin = await startAdmin({ node: dave, port: 0, sampleInterval: 20, pingInterval: 0 });
    let seen: SseEvent[] = [];
    const has = (event: string, data: unknown) => () =>
      expect(seen).toContainEqual({ event, data: expect.objectContaining(data as object) });
    let script: Promise<void> = Promise.resolve();
    try {
      const events = await collectEvents(
        admin.url,
        '/api/v1/events',
        (ev) => {
          seen = ev;
          return ev.some((e) => e.event === 'listener' && (e.data as { open: boolean }).open === false);
        },
        {
          onOpen: () => {
            script = (async () => {
              const l = dave.listen(11);
              await eventually(has('listener', { port: 11, open: true }));
              // Its listeners leave with the connection and come back with the next one.
              t.sw.kick('dave');
              await eventually(has('state', { state: 'connecting' }));
              await eventually(has('state', { state: 'ready' }));
              await dave.ready({ timeout: 5_000 });
              l.close();
            })();
          },
        },
      );
      await script;
      expect(events.filter((e) => e.event === 'listener').map((e) => e.data)).toEqual([
        { port: 11, open: true },
        { port: 11, open: false },
      ]);
    } finally {
      await script.catch(() => {});
      await admin.close();
      await t.close();
    }
  });

  it("sends a plain node's close as 'state' closed", async () => {
    const [x, y] = memoryPair();
    const a = new Node(x, { domain: 'a', ip: 1 });
    const b = new Node(y, { domain: 'b', ip: 2 });
    const admin = await startAdmin({ node: a, port: 0, sampleInterval: 20, pingInterval: 0 });
    try {
      const events = await collectEvents(
        admin.url,
        '/api/v1/events',
        (ev) => ev.some((e) => e.event === 'state'),
        {
          onOpen: () => b.destroy(),
        },
      );
      expect(events.find((e) => e.event === 'state')?.data).toEqual({ state: 'closed' });
    } finally {
      await admin.close();
      a.destroy();
      b.destroy();
    }
  });
});

describe('admin API for a node: GET /api/v1/streams?domain=', () => {
  it('lists only the streams whose peer is that domain, as the switcher filters its clients', async () => {
    const [x, y] = memoryPair();
    const a = new Node(x, { domain: 'a', ip: 1 });
    const b = new Node(y, { domain: 'b', ip: 2 });
    b.listen(9);
    a.listen(8);
    const admin = await startAdmin({ node: a, port: 0, pingInterval: 0 });
    try {
      // Two streams to the peer (one dialed as "B", as a user may type it), one to ourselves.
      for (const s of [await a.dial('b:9'), await a.dial('B:9'), await a.dial('a:8')])
        s.on('error', () => {});
      const list = async (q: string) => {
        const r = await request(admin.url, `/api/v1/streams${q}`);
        expect(r.status).toBe(200);
        const body = r.json as { count: number; streams: StreamView[] };
        expect(body.count).toBe(body.streams.length);
        return body.streams.filter((v) => v.dialed).map((v) => `${v.remote.domain}:${v.remote.port}`);
      };
      expect((await list('')).sort()).toEqual(['B:9', 'a:8', 'b:9']);
      // Before: the filter was ignored, and every stream came back each time.
      expect((await list('?domain=b')).sort()).toEqual(['B:9', 'b:9']);
      expect((await list('?domain=%20B%20')).sort()).toEqual(['B:9', 'b:9']);
      expect(await list('?domain=a')).toEqual(['a:8']);
      // A node cannot tell whether anybody holds a domain: none of its streams is no error.
      expect(await list('?domain=carol')).toEqual([]);
      // Not a domain at all: 400, as on a switcher.
      const bad = await request(admin.url, '/api/v1/streams?domain=');
      expect(bad.status).toBe(400);
      expect((bad.json as ApiError).error.code).toBe('bad_request');
    } finally {
      await admin.close();
      a.destroy();
      b.destroy();
    }
  });
});

describe('admin API for a node: GET /api/v1/streams pages', () => {
  // A node may hold 16,384 streams (maxStreams): 10,000 made a single answer of 3.9 MB.
  it('answers at most ?limit= streams with count and a cursor; bad pages are 400', async () => {
    const [x, y] = memoryPair();
    const a = new Node(x, { domain: 'a', ip: 1 });
    const b = new Node(y, { domain: 'b', ip: 2 });
    b.listen(9);
    const admin = await startAdmin({ node: a, port: 0, pingInterval: 0 });
    try {
      for (let i = 0; i < 5; i++) (await a.dial('b:9')).on('error', () => {});
      const ids = new Set<number>();
      let query = 'offset=0';
      let pages = 0;
      for (; pages < 10; pages++) {
        const r = await request(admin.url, `/api/v1/streams?domain=b&limit=2&${query}`);
        expect(r.status).toBe(200);
        const body = r.json as { count: number; next: string | null; streams: StreamView[] };
        expect(body.count).toBe(5);
        expect(body.streams.length).toBeLessThanOrEqual(2);
        for (const v of body.streams) ids.add(v.id);
        if (body.next === null) break;
        expect(typeof body.next).toBe('string');
        query = `cursor=${encodeURIComponent(body.next)}`;
      }
      expect(pages).toBe(2);
      expect(ids.size).toBe(5);
      // The same rules as a switcher's lists.
      for (const q of ['limit=0', 'limit=10001', 'offset=-1', 'cursor=x', 'cursor=', 'cursor=1&offset=1']) {
        expect((await request(admin.url, `/api/v1/streams?${q}`)).status, q).toBe(400);
      }
    } finally {
      await admin.close();
      a.destroy();
      b.destroy();
    }
  });

  it('lists each stream that stays open once, following next while streams close and open', async () => {
    const [x, y] = memoryPair();
    const a = new Node(x, { domain: 'a', ip: 1 });
    const b = new Node(y, { domain: 'b', ip: 2 });
    b.listen(9);
    const admin = await startAdmin({ node: a, port: 0, pingInterval: 0 });
    const dial = async (): Promise<FlexStream> => {
      const s = await a.dial('b:9');
      s.on('error', () => {});
      return s;
    };
    /** Closes `list` and waits until the node no longer holds them. */
    const close = async (list: FlexStream[]): Promise<void> => {
      const left = a.streamCount - list.length;
      for (const s of list) s.destroy();
      await eventually(() => expect(a.streamCount).toBe(left));
    };
    try {
      const first: FlexStream[] = [];
      for (let i = 0; i < 12; i++) first.push(await dial());
      const portOf = (s: FlexStream): number => s.core.localPort;
      const listed: number[] = [];
      const page = async (query: string): Promise<string | null> => {
        const r = await request(admin.url, `/api/v1/streams?limit=4&${query}`);
        expect(r.status).toBe(200);
        const body = r.json as { next: string | null; streams: StreamView[] };
        for (const v of body.streams) listed.push(v.local.port);
        return body.next;
      };
      let next = await page('');
      // Between pages: two listed streams close (by offset, the next page skipped two that
      // stayed), one not yet listed closes, and two open.
      await close([first[0]!, first[2]!, first[6]!]);
      const later = [await dial(), await dial()];
      next = await page(`cursor=${encodeURIComponent(next!)}`);
      await close([first[5]!, first[9]!]);
      for (let pages = 0; next !== null && pages < 10; pages++) {
        next = await page(`cursor=${encodeURIComponent(next)}`);
      }
      expect(next).toBeNull();
      const stayed = [...first.filter((_, i) => ![0, 2, 5, 6, 9].includes(i)), ...later].map(portOf);
      for (const port of stayed)
        expect(
          listed.filter((p) => p === port),
          `port ${port}`,
        ).toHaveLength(1);
      expect(new Set(listed).size).toBe(listed.length);
      // Pages come in the order the streams were opened.
      expect(listed.filter((p) => stayed.includes(p))).toEqual(stayed);
    } finally {
      await admin.close();
      a.destroy();
      b.destroy();
    }
  });
});
