import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startAdmin } from '../../src/admin/index.js';
import { ConfigError, type FlexStream, Node } from '../../src/index.js';
import { admit } from '../../src/node/admit.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { memoryPair } from '../../src/transport/memory.js';
import { captureLogger } from '../helpers/faulty-log.js';
import { eventually } from '../integration/admin-fixture.js';
import { collectEvents, request } from '../integration/admin-http.js';

/**
 * The admin API of a switcher under attack: without its token nothing is readable and nothing
 * can be kicked, however many guesses are made; without a token configured it answers only to
 * loopback names (no DNS rebinding) and refuses to listen beyond loopback.
 */

const PASSWORD = 'abuse-admin';
const TOKEN = 'admin-token-1f0c5a9e7d';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A connection to 127.0.0.1:`port` that never reads what it is sent (destroyed after the test). */
async function silentReader(port: number): Promise<Socket> {
  const s = connect(port, '127.0.0.1');
  cleanups.push(() => s.destroy());
  s.on('error', () => {});
  s.pause();
  await new Promise<void>((resolve) => s.once('connect', () => resolve()));
  return s;
}

async function switcherWithClient() {
  const sw = new Switcher({ password: PASSWORD });
  cleanups.push(() => sw.close({ timeout: 300 }));
  const [a, b] = memoryPair();
  sw.handle(b);
  const { ip, transport } = await admit(a, { password: PASSWORD, domain: 'holder' });
  const n = new Node(transport, { ip, domain: 'holder', heartbeatInterval: 0 });
  cleanups.push(() => n.destroy());
  return { sw, n };
}

describe('admin API abuse', () => {
  it('without the token: 401 on every API route and /metrics, however many guesses; no kick', async () => {
    const { sw, n } = await switcherWithClient();
    const log = captureLogger();
    const admin = await startAdmin({
      switcher: sw,
      port: 0,
      token: TOKEN,
      logger: log,
      sampleInterval: 1_000,
    });
    cleanups.push(() => admin.close());
    const routes: [string, string][] = [
      ['GET', '/api/v1/info'],
      ['GET', '/api/v1/clients'],
      ['GET', '/api/v1/clients/holder'],
      ['DELETE', '/api/v1/clients/holder'],
      ['GET', '/api/v1/streams'],
      ['GET', '/metrics'],
    ];
    const statuses = new Map<number, number>();
    for (let i = 0; i < 50; i++) {
      await Promise.all(
        routes.map(async ([method, path]) => {
          // No token, a wrong token, a token that only shares a prefix, and the token in the query.
          const guesses = [undefined, `guess-${i}`, TOKEN.slice(0, -1), `${TOKEN}x`];
          for (const token of guesses) {
            const r = await request(admin.url, path, { method, token });
            statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          }
          const q = await request(admin.url, `${path}?access_token=${TOKEN}`, { method });
          statuses.set(q.status, (statuses.get(q.status) ?? 0) + 1);
        }),
      );
    }
    expect(Object.fromEntries(statuses)).toEqual({ 401: 50 * routes.length * 5 });
    expect(sw.client('holder')).toBeDefined();
    expect(n.closed).toBe(false);
    expect(log.find('admin request', { status: 401 })).toHaveLength(50 * routes.length * 5);
    // The right token still works, and the server is still up after the guessing.
    expect((await request(admin.url, '/api/v1/clients', { token: TOKEN })).status).toBe(200);
    expect((await request(admin.url, '/healthz')).status).toBe(200);
  });

  it('without a token configured: loopback names only (no DNS rebinding), and no remote listening', async () => {
    const { sw } = await switcherWithClient();
    const admin = await startAdmin({ switcher: sw, port: 0, sampleInterval: 1_000 });
    cleanups.push(() => admin.close());
    const rebound = await request(admin.url, '/api/v1/clients', { headers: { host: 'evil.example:7090' } });
    expect(rebound.status).toBe(403);
    const local = await request(admin.url, '/api/v1/clients', {
      headers: { host: `localhost:${admin.port}` },
    });
    expect(local.status).toBe(200);
    await expect(startAdmin({ switcher: sw, port: 0, host: '0.0.0.0' })).rejects.toBeInstanceOf(ConfigError);
  });

  // A request target that starts with '//' is a path (RFC 9112 3.2.1), but a URL parser given it
  // as a reference reads the first segment as a host: '//x/api/v1/clients' was served as
  // /api/v1/clients. A reverse proxy that keeps /api/ and /metrics for some users passes such a
  // path on as one outside them, and the API answered it, kick included.
  it('a path that starts with // is no other path: no listing, no kick past a proxy rule', async () => {
    const { sw, n } = await switcherWithClient();
    const admin = await startAdmin({ switcher: sw, port: 0, sampleInterval: 1_000 });
    cleanups.push(() => admin.close());
    const host = { host: `localhost:${admin.port}` };
    expect((await request(admin.url, '//x/api/v1/clients', { headers: host })).status).toBe(404);
    expect((await request(admin.url, '//x/metrics', { headers: host })).status).toBe(404);
    expect((await request(admin.url, '//healthz', { headers: host })).status).toBe(404);
    const kick = await request(admin.url, '//x/api/v1/clients/holder', { method: 'DELETE', headers: host });
    expect(kick.status).toBe(404);
    expect(sw.client('holder')).toBeDefined();
    expect(n.closed).toBe(false);
    // The absolute form still names its path, and the plain paths still work.
    expect(
      (await request(admin.url, `http://localhost:${admin.port}/healthz`, { headers: host })).status,
    ).toBe(200);
    expect((await request(admin.url, '/api/v1/clients', { headers: host })).status).toBe(200);
  });

  // The same past a proxy that matches paths as sent (HAProxy does unless told to normalise): a
  // URL parser removes dot segments, '%2e%2e' included, so '/x/../api/v1/clients' was served as
  // /api/v1/clients. Browsers and curl remove them before sending; a path that holds one names
  // no endpoint.
  it('a path with dot segments is no other path: no listing, no kick past a proxy rule', async () => {
    const { sw, n } = await switcherWithClient();
    const admin = await startAdmin({ switcher: sw, port: 0, sampleInterval: 1_000 });
    cleanups.push(() => admin.close());
    const host = { host: `localhost:${admin.port}` };
    for (const path of [
      '/x/../api/v1/clients',
      '/x/%2e%2e/api/v1/clients',
      '/x/.%2E/api/v1/clients',
      '/api/v1/./clients',
      '/x/../metrics',
    ]) {
      expect((await request(admin.url, path, { headers: host })).status, path).toBe(404);
    }
    const kick = await request(admin.url, '/x/%2E%2E/api/v1/clients/holder', {
      method: 'DELETE',
      headers: host,
    });
    expect(kick.status).toBe(404);
    expect(sw.client('holder')).toBeDefined();
    expect(n.closed).toBe(false);
    expect((await request(admin.url, '/api/v1/clients?x=/../y', { headers: host })).status).toBe(200);
  });

  // The absolute form (what a client sends a forward proxy, and HAProxy passes on as it came) is
  // routed on its path as sent too: its dot segments were removed by the URL parser, so
  // 'http://h/x/../api/v1/clients' was served as /api/v1/clients past a rule on the path.
  it('an absolute-form target with dot segments is no other path either', async () => {
    const { sw, n } = await switcherWithClient();
    const admin = await startAdmin({ switcher: sw, port: 0, sampleInterval: 1_000 });
    cleanups.push(() => admin.close());
    const authority = `localhost:${admin.port}`;
    const host = { host: authority };
    for (const path of [
      `http://${authority}/x/../api/v1/clients`,
      `http://${authority}/x/%2e%2e/api/v1/clients`,
      `http://${authority}/api/v1/./clients`,
    ]) {
      expect((await request(admin.url, path, { headers: host })).status, path).toBe(404);
    }
    const kick = await request(admin.url, `http://${authority}/x/%2E%2E/api/v1/clients/holder`, {
      method: 'DELETE',
      headers: host,
    });
    expect(kick.status).toBe(404);
    expect(sw.client('holder')).toBeDefined();
    expect(n.closed).toBe(false);
    // Without dot segments the absolute form names its path, query and all.
    expect(
      (await request(admin.url, `http://${authority}/api/v1/clients?x=/../y`, { headers: host })).status,
    ).toBe(200);
    expect((await request(admin.url, `HTTP://${authority}/api/v1/clients`, { headers: host })).status).toBe(
      200,
    );
  });

  // Without a token, a page the operator visits may still send requests to 127.0.0.1 itself (the
  // Host is then a loopback name). A DELETE from another origin needs a CORS preflight first, and
  // the server grants none; what it answers a GET from another origin, the page cannot read.
  it('grants no CORS: no preflight for a kick, no Access-Control headers on reads', async () => {
    const { sw, n } = await switcherWithClient();
    const admin = await startAdmin({ switcher: sw, port: 0, sampleInterval: 1_000 });
    cleanups.push(() => admin.close());
    const origin = { host: `127.0.0.1:${admin.port}`, origin: 'http://evil.example' };
    const preflight = await request(admin.url, '/api/v1/clients/holder', {
      method: 'OPTIONS',
      headers: {
        ...origin,
        'access-control-request-method': 'DELETE',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(preflight.status).toBe(405);
    // Not even answered: see the next test.
    const read = await request(admin.url, '/api/v1/clients', { headers: origin });
    expect(read.status).toBe(403);
    for (const r of [preflight, read]) {
      expect(Object.keys(r.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
    }
    expect(sw.client('holder')).toBeDefined();
    expect(n.closed).toBe(false);
  });

  // ...but it could still make the requests, each held as long as the page liked: its iframes,
  // EventSources or no-cors fetches of /api/v1/events (Host 127.0.0.1, a loopback name) took
  // every event stream, and the operator's dashboard was answered 503 while the page was open.
  it('without a token configured: refuses what a browser sends for another site, not for this one', async () => {
    const { sw } = await switcherWithClient();
    const admin = await startAdmin({ switcher: sw, port: 0, sampleInterval: 1_000, maxEventStreams: 1 });
    cleanups.push(() => admin.close());
    const host = `127.0.0.1:${admin.port}`;
    for (const headers of <Record<string, string>[]>[
      { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'iframe' },
      { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'no-cors' },
      { origin: 'http://evil.example' },
      { origin: 'null' },
      { origin: `https://${host}` },
      { origin: `http://localhost:${admin.port}` },
    ]) {
      const r = await request(admin.url, '/api/v1/clients', { headers: { host, ...headers } });
      expect([r.status, headers]).toEqual([403, headers]);
    }
    const stream = { host, 'sec-fetch-site': 'cross-site' };
    const refused = await request(admin.url, '/api/v1/events', { headers: stream, timeout: 2_000 });
    expect(refused.status).toBe(403);
    // The dashboard's own requests, and a page typed in or reached by a link, are answered.
    const own = { host, 'sec-fetch-site': 'same-origin', origin: `http://${host}` };
    expect((await request(admin.url, '/api/v1/clients', { headers: own })).status).toBe(200);
    // Behind a reverse proxy that sends the upstream's Host, its kick carries the proxy's Origin.
    const proxied = { host, 'sec-fetch-site': 'same-origin', origin: 'https://admin.example' };
    expect((await request(admin.url, '/api/v1/clients', { headers: proxied })).status).toBe(200);
    expect(
      (await request(admin.url, '/api/v1/info', { headers: { host, 'sec-fetch-site': 'none' } })).status,
    ).toBe(200);
    const link = { host, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' };
    expect((await request(admin.url, '/', { headers: link })).status).toBe(200);
    expect((await request(admin.url, '/healthz', { headers: link })).status).toBe(200);
    // The one event stream is still free for the operator.
    const events = await collectEvents(admin.url, '/api/v1/events', (e) => e.length >= 1);
    expect(events[0]?.event).toBe('hello');
  });

  /** A crowd of TCP connections that never send a byte, and which of them the server closed. */
  interface Crowd {
    sockets: Socket[];
    closed: Set<Socket>;
    /** Resolves once `count` are closed, or after `ms` regardless. */
    waitClosed(count: number, ms: number): Promise<number>;
  }

  /** Opens `n` silent TCP connections one after another. */
  async function silentCrowd(port: number, n: number): Promise<Crowd> {
    const sockets: Socket[] = [];
    const closed = new Set<Socket>();
    let wake = (): void => {};
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
    });
    for (let i = 0; i < n; i++) {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => {});
      // Read what the server may send (a 408) so that its closing shows as 'close'.
      s.resume();
      s.on('close', () => {
        closed.add(s);
        wake();
      });
      sockets.push(s);
      await new Promise<void>((resolve) => s.once('connect', () => resolve()));
    }
    const waitClosed = (count: number, ms: number): Promise<number> =>
      new Promise<number>((resolve) => {
        const timer = setTimeout(() => resolve(closed.size), ms);
        wake = () => {
          if (closed.size < count) return;
          clearTimeout(timer);
          resolve(closed.size);
        };
        wake();
      });
    return { sockets, closed, waitClosed };
  }

  // An outsider needs no token to open TCP connections. Node's headersTimeout only starts at the
  // first byte, so a connection that never sends one was held for good, and nothing capped their
  // number: a few thousand took every file descriptor of the process, and the switcher beside the
  // admin server could no longer accept nodes.
  // With a token, the oldest connection that has not shown it makes room for a new one (a crowd
  // holding every slot kept the operator out: test/unit/admin/connections.test.ts); without one,
  // new connections are closed on arrival.
  it('connections beyond maxConnections close the oldest that has not shown the token', async () => {
    const { sw } = await switcherWithClient();
    const admin = await startAdmin({ switcher: sw, port: 0, token: TOKEN, maxConnections: 4 });
    cleanups.push(() => admin.close());
    const crowd = await silentCrowd(admin.port, 8);
    expect(await crowd.waitClosed(4, 3_000), 'connections over the cap closed by the server').toBe(4);
    expect(
      crowd.sockets.slice(0, 4).every((s) => crowd.closed.has(s)),
      'the oldest four',
    ).toBe(true);
    for (const s of crowd.sockets) s.destroy();
    // The right token still works once the crowd is gone.
    await eventually(async () => {
      expect((await request(admin.url, '/api/v1/info', { token: TOKEN })).status).toBe(200);
    });
  });

  it('without a token configured, connections beyond maxConnections are closed on arrival', async () => {
    const { sw } = await switcherWithClient();
    const admin = await startAdmin({ switcher: sw, port: 0, maxConnections: 4 });
    cleanups.push(() => admin.close());
    const crowd = await silentCrowd(admin.port, 8);
    expect(await crowd.waitClosed(4, 3_000), 'connections over the cap closed by the server').toBe(4);
    expect(crowd.sockets.slice(0, 4).some((s) => crowd.closed.has(s))).toBe(false);
    for (const s of crowd.sockets) s.destroy();
    await eventually(async () => {
      expect((await request(admin.url, '/api/v1/info')).status).toBe(200);
    });
  });

  it('a connection that never sends a request is closed after headersTimeout', async () => {
    const { sw } = await switcherWithClient();
    const admin = await startAdmin({ switcher: sw, port: 0, token: TOKEN, headersTimeout: 300 });
    cleanups.push(() => admin.close());
    const crowd = await silentCrowd(admin.port, 3);
    expect(await crowd.waitClosed(3, 5_000), 'silent connections closed by the server').toBe(3);
    expect((await request(admin.url, '/api/v1/info', { token: TOKEN })).status).toBe(200);
  });

  // After its first request a connection had no deadline of its own: one that pipelines requests
  // and never reads the answers stalls the server's writes (Node then stops reading it) and held
  // its socket and a maxConnections slot for good.
  it('a connection that stops reading its answers and pipelines more is closed, with a log line', async () => {
    const { sw } = await switcherWithClient();
    const logger = captureLogger();
    const admin = await startAdmin({
      switcher: sw,
      port: 0,
      token: TOKEN,
      headersTimeout: 300,
      maxConnections: 1,
      logger,
    });
    cleanups.push(() => admin.close());
    const s = await silentReader(admin.port);
    const one = 'GET /api/v1/openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
    // Answers far beyond what the socket buffers hold. Until requests waited for the answer
    // before them, this was closed once an answer stalled for headersTimeout (300 ms); now the
    // 18th request waiting is one too many, and that closes it at once.
    s.write(one.repeat(400));
    const line = await eventually(() => {
      const found = logger.find(
        'admin connection closed: too many requests pipelined behind an unfinished answer',
      );
      expect(found).toHaveLength(1);
      return found[0];
    });
    expect(line.level).toBe('warn');
    expect(line.fields.max).toBe(16);
    // Its slot is free again.
    await eventually(async () => {
      expect((await request(admin.url, '/api/v1/info', { token: TOKEN })).status).toBe(200);
    });
  });

  it('a connection that stops reading its answers is closed after headersTimeout, with a log line', async () => {
    // A node with 3,000 streams: 17 pages of them (one answered, 16 waiting: the most allowed)
    // are some 20 MB, far beyond what the socket buffers hold.
    const [x, y] = memoryPair();
    const a = new Node(x, { domain: 'a', ip: 1, heartbeatInterval: 0 });
    const b = new Node(y, { domain: 'b', ip: 2, heartbeatInterval: 0 });
    cleanups.push(() => {
      a.destroy();
      b.destroy();
    });
    b.listen(9).on('stream', (st: FlexStream) => st.on('error', () => {}));
    for (let i = 0; i < 3_000; i += 500) {
      const dials = Array.from({ length: 500 }, () => a.dial('b:9'));
      for (const st of await Promise.all(dials)) st.on('error', () => {});
    }
    const logger = captureLogger();
    const admin = await startAdmin({
      node: a,
      port: 0,
      token: TOKEN,
      headersTimeout: 300,
      maxConnections: 1,
      pingInterval: 0,
      logger,
    });
    cleanups.push(() => admin.close());
    const s = await silentReader(admin.port);
    const one = `GET /api/v1/streams?limit=10000 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`;
    s.write(one.repeat(17));
    const line = await eventually(() => {
      const found = logger.find('admin connection closed: no progress on a request or its answer');
      expect(found).toHaveLength(1);
      return found[0];
    });
    expect(line.level).toBe('warn');
    expect(line.fields.ms).toBe(300);
    // Its slot is free again.
    await eventually(async () => {
      expect((await request(admin.url, '/api/v1/info', { token: TOKEN })).status).toBe(200);
    });
  });

  it('the first-request deadline does not cut an event stream that is quieter than it', async () => {
    const { sw } = await switcherWithClient();
    const admin = await startAdmin({
      switcher: sw,
      port: 0,
      token: TOKEN,
      sampleInterval: 1_000,
      headersTimeout: 200,
    });
    cleanups.push(() => admin.close());
    // hello, then a snapshot one sample interval later: five times the headers timeout.
    const events = await collectEvents(admin.url, '/api/v1/events', (e) => e.length >= 2, { token: TOKEN });
    expect(events.map((e) => e.event)).toEqual(['hello', 'snapshot']);
  });
});
