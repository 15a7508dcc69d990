import { mkdir } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type DemoHandler, demoHandler, listenDemo } from '../../src/demo/index.js';
import { BaseNode, FlexStream, memoryPair, Session } from '../../src/index.js';
import { Switcher } from '../../src/switcher/switcher.js';
import type { Listener } from '../../src/transport/tcp.js';
import { describeBrowser, launchChromium, type OpenedPage, openPage } from './chromium.js';
import { type BrowserServer, buildBundle, startServer } from './fixture.js';

/**
 * The demo page: its HTTP side (paths, headers, caching, the closing switcher) and, in Chromium,
 * two browser nodes that join through the form, ping, chat on port 5 and use the echo terminal.
 */

const PASSWORD = 'demo-secret';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(url: string, o: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: o.method ?? 'GET', headers: o.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('demo handler over HTTP', () => {
  let sw: Switcher;
  let demo: DemoHandler;
  let server: http.Server;
  let base: string;
  let listener: Listener | null = null;
  let bundle: Uint8Array;

  beforeAll(async () => {
    bundle = await buildBundle();
    sw = new Switcher({ password: PASSWORD });
    demo = await demoHandler(sw, { base: '/demo/', listPeers: true, bundle });
    server = http.createServer((req, res) => {
      if (!demo.handle(req, res)) res.writeHead(404).end('not ours');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await demo.echo?.ready({ timeout: 5_000 });
  });

  afterEach(async () => {
    await listener?.close();
    listener = null;
  });

  afterAll(async () => {
    await demo?.close();
    await sw?.close({ timeout: 1_000 });
    server?.closeAllConnections();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
  });

  it('serves the page with its CSP, the script, the style sheet and the bundle', async () => {
    const page = await request(`${base}/demo/`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.body).toContain('data-ws-path="/flex/ws"');
    expect(page.body).toContain('data-echo="echo:7"');
    expect(page.body).toContain('data-list-peers="true"');
    expect((await request(`${base}/demo/index.html`)).body).toBe(page.body);
    const js = await request(`${base}/demo/demo.js`);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.body).toContain("from './flexmux.browser.js'");
    expect((await request(`${base}/demo/demo.css`)).headers['content-type']).toBe('text/css; charset=utf-8');
    const lib = await request(`${base}/demo/flexmux.browser.js`);
    expect(lib.status).toBe(200);
    expect(Buffer.byteLength(lib.body)).toBe(bundle.length);
  });

  it('runs the echo node as a client of the switcher and lists the connected domains', async () => {
    expect(sw.client('echo')).toBeDefined();
    const peers = await request(`${base}/demo/peers.json`);
    expect(peers.headers['content-type']).toBe('application/json');
    expect(JSON.parse(peers.body)).toEqual({ peers: ['echo'] });
  });

  it('leaves other paths alone, redirects the bare base, answers HEAD, 304 and 405', async () => {
    expect(await request(`${base}/other`)).toMatchObject({ status: 404, body: 'not ours' });
    expect(await request(`${base}/demo/nothing.js`)).toMatchObject({ status: 404, body: 'not ours' });
    expect(await request(`${base}/demo`)).toMatchObject({ status: 301, headers: { location: '/demo/' } });
    const head = await request(`${base}/demo/demo.js`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(Number(head.headers['content-length'])).toBeGreaterThan(0);
    const etag = String(head.headers.etag);
    expect((await request(`${base}/demo/demo.js`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    expect((await request(`${base}/demo/`, { method: 'POST' })).status).toBe(405);
  });

  it('refuses bad options at once', async () => {
    await expect(demoHandler(sw, { base: 'demo/' })).rejects.toThrow(/base must start with/);
    await expect(demoHandler(sw, { base: '/demo' })).rejects.toThrow(/base must end with/);
    await expect(demoHandler(sw, { echoPort: 0 })).rejects.toThrow(/echoPort/);
  });

  it('listenDemo serves the page and the WebSocket on one port, and both stop with the switcher', async () => {
    const own = new Switcher({ password: PASSWORD });
    listener = await listenDemo(own, { host: '127.0.0.1', port: 0, echo: false, bundle });
    const origin = `http://127.0.0.1:${listener.address.port}`;
    const page = await request(`${origin}/`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('data-echo=""');
    const upgradeRequired = await request(`${origin}/flex/ws`);
    expect(upgradeRequired.status).toBe(426);
    // RFC 9110 15.5.22: a 426 must say which protocol to switch to.
    expect(upgradeRequired.headers.upgrade).toBe('websocket');
    expect((await request(`${origin}/nothing`)).status).toBe(404);
    await own.close({ timeout: 1_000 });
    await expect(request(`${origin}/`)).rejects.toThrow();
  });

  it('answers 503 once the switcher is closing', async () => {
    const own = new Switcher({ password: PASSWORD });
    const d = await demoHandler(own, { echo: false, bundle });
    const srv = http.createServer((req, res) => {
      if (!d.handle(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/`;
      expect((await request(url)).status).toBe(200);
      await own.close({ timeout: 1_000 });
      expect(await request(url)).toMatchObject({ status: 503, body: 'the switcher is closing\n' });
    } finally {
      await d.close();
      srv.closeAllConnections();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    }
  });
});

describeBrowser('demo page in Chromium', () => {
  let srv: BrowserServer;
  let demo: DemoHandler;
  let browser: Browser;
  const pages: OpenedPage[] = [];

  beforeAll(async () => {
    const bundle = await buildBundle();
    let handle: DemoHandler['handle'] = () => false;
    srv = await startServer({}, { switcher: { password: PASSWORD }, handle: (req, res) => handle(req, res) });
    demo = await demoHandler(srv.switcher, { bundle, listPeers: true });
    handle = demo.handle;
    await demo.echo?.ready({ timeout: 5_000 });
    // demo.test resolves to 127.0.0.1 but is not a secure context, unlike 127.0.0.1 itself.
    browser = await launchChromium(['--host-resolver-rules=MAP demo.test 127.0.0.1']);
  }, 60_000);

  afterEach(async () => {
    const opened = pages.splice(0);
    await Promise.all(opened.map((p) => p.context.close()));
    for (const p of opened) expect(p.errors, 'errors in the page').toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await demo?.close();
    await srv?.close();
  });

  async function open(origin = srv.origin): Promise<Page> {
    const p = await openPage(browser, `${origin}/`);
    pages.push(p);
    await p.page.waitForSelector('body[data-loaded="true"]');
    return p.page;
  }

  async function submit(page: Page, domain: string): Promise<void> {
    await page.fill('#password', PASSWORD);
    await page.fill('#domain', domain);
    await page.click('#connect');
  }

  async function join(page: Page, domain: string): Promise<void> {
    await submit(page, domain);
    await page.waitForSelector('body[data-state="ready"]');
  }

  it('two browser nodes join, ping each other, chat on port 5 and use the echo terminal', async () => {
    const alice = await open();
    const bob = await open();
    expect(await alice.inputValue('#url')).toBe(srv.wsUrl);
    expect(await alice.inputValue('#term-target')).toBe('echo:7');
    await join(alice, 'alice');
    await join(bob, 'bob');
    // The virtual IP as the CLI's `clients` and a dial (`IP:PORT`) write it: a number, not dotted.
    expect(await alice.textContent('#status')).toMatch(/^alice @ \d+$/);

    // Peers: loaded from peers.json, then pinged.
    await alice.click('#refresh-peers');
    await expect.poll(() => alice.inputValue('#peer-names')).toMatch(/^(bob\necho|echo\nbob)$/);
    await alice.fill('#peer-names', 'bob\nnobody');
    await alice.click('#ping');
    await alice.waitForSelector('#peer-list li.online[data-peer="bob"]');
    await alice.waitForSelector('#peer-list li.offline[data-peer="nobody"]');

    // Chat both ways over the stream alice opened.
    await alice.fill('#chat-to', 'bob');
    await alice.fill('#chat-text', 'hi bob');
    await alice.press('#chat-text', 'Enter');
    await bob.waitForSelector('#chat-log li:has-text("alice: hi bob")');
    await bob.fill('#chat-to', 'alice');
    await bob.fill('#chat-text', 'hello alice');
    await bob.press('#chat-text', 'Enter');
    await alice.waitForSelector('#chat-log li:has-text("bob: hello alice")');
    expect(await alice.locator('#chat-log li').allTextContents()).toEqual([
      'me → bob: hi bob',
      'bob: hello alice',
    ]);

    // Terminal: echo, half-close, then a reset.
    await alice.click('#term-open');
    await alice.waitForSelector('#term-in:enabled');
    await alice.fill('#term-in', 'hello echo');
    await alice.press('#term-in', 'Enter');
    await expect.poll(() => alice.textContent('#term-out')).toContain('[connected to echo:7]\nhello echo\n');
    await alice.click('#term-end');
    await expect.poll(() => alice.textContent('#term-out')).toContain('[echo:7 closed its side]');
    await alice.click('#term-open');
    await alice.waitForSelector('#term-reset:enabled');
    await alice.click('#term-reset');
    await expect
      .poll(() => alice.textContent('#term-out'))
      .toContain('[you reset the stream with code 0x100]');

    await mkdir('test-results', { recursive: true });
    await alice.screenshot({ path: 'test-results/demo.png', fullPage: true });

    // Leaving closes the session; the switcher forgets alice.
    await alice.click('#disconnect');
    await alice.waitForSelector('body[data-state="idle"]');
    await expect.poll(() => srv.switcher.client('alice')).toBeUndefined();
  });

  // Any node on the switcher may open a chat with a browser node. What it sends used to pile up
  // in the page without end: every line in the chat log, and a line without a newline in one
  // growing string, until the tab ran out of memory.
  it('keeps the chat log bounded whatever a peer sends', async () => {
    const page = await open();
    await join(page, 'carol');
    const peer = new Session<FlexStream>({
      connector: async () => {
        const [a, b] = memoryPair();
        srv.switcher.handle(b);
        return a;
      },
      makeNode: (t, o) => new BaseNode(t, o, (core) => new FlexStream(core)),
      password: PASSWORD,
      domain: 'flood',
      reconnect: false,
    });
    peer.on('disconnect', () => {});
    try {
      await peer.ready({ timeout: 5_000 });
      const stream = await peer.dial('carol:5', { timeout: 5_000 });
      stream.on('error', () => {});
      const lines = Array.from({ length: 1_500 }, (_, i) => `line ${i}\n`).join('');
      const write = (text: string) => new Promise<void>((resolve) => stream.write(text, () => resolve()));
      await write(lines);
      await write('x'.repeat(1 << 20));
      await write('\nlast line\n');
      const log = page.locator('#chat-log li');
      // Bounded by the harness's 30 s, not by a guess at how fast a loaded machine renders.
      await expect.poll(() => log.last().textContent(), { timeout: 20_000 }).toBe('flood: last line');
      const texts = await log.allTextContents();
      expect(texts.length).toBeLessThanOrEqual(500);
      expect(Math.max(...texts.map((t) => t.length))).toBeLessThanOrEqual(4_200);
      stream.destroy();
    } finally {
      await peer.close();
    }
  });

  it('says why it cannot join from an insecure origin (no Web Crypto there)', async () => {
    const port = new URL(srv.origin).port;
    const page = await open(`http://demo.test:${port}`);
    expect(await page.evaluate(() => window.isSecureContext)).toBe(false);
    await submit(page, 'insecure');
    await page.waitForSelector('body[data-state="error"]');
    expect(await page.textContent('#events')).toContain('Web Crypto is unavailable');
  });
});
