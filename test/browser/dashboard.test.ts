import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type AdminServer, startAdmin } from '../../src/admin/index.js';
import { buildProgram } from '../../src/cli/program.js';
import { BaseNode, FlexStream, memoryPair, Session } from '../../src/index.js';
import { PASSWORD, startTraffic, type Traffic } from '../integration/admin-fixture.js';
import { CHROMIUM, CHROMIUM_ARGS, describeBrowser } from './chromium.js';

/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core, against a
 * switcher with two nodes moving data. FLEXMUX_SKIP_BROWSER=1 skips it visibly; a missing browser
 * otherwise fails the test.
 */

const TOKEN = 'dashboard-token-42';
const WAIT = { timeout: 10_000, interval: 50 };

describeBrowser('admin dashboard in Chromium', () => {
  let t: Traffic;
  let admin: AdminServer;
  let profile: string;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    t = await startTraffic();
    admin = await startAdmin({ switcher: t.sw, port: 0, token: TOKEN, sampleInterval: 100 });
    profile = await mkdtemp(join(tmpdir(), 'flexmux-dashboard-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: [...CHROMIUM_ARGS],
      headless: true,
      viewport: { width: 1280, height: 900 },
      timeout: 20_000,
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
  }, 40_000);

  afterAll(async () => {
    await context?.close();
    await admin?.close();
    await t?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('shows both clients live, draws and updates the chart, and kicks a client', async () => {
    // The browser asks for gzip by itself, and the page reads the compressed stream as it comes.
    const stream = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/events');
    await page.goto(`${admin.url}#token=${TOKEN}`);
    // It asks for deltas: after the hello, only the fields that changed since the last sample.
    expect(new URL((await stream).url()).search).toBe('?delta=1');
    expect((await stream).headers()['content-encoding']).toBe('gzip');
    // The token leaves the address bar once read.
    await page.waitForFunction(() => location.hash === '');

    const rows = page.locator('#rows tr');
    await expect.poll(() => rows.count(), WAIT).toBe(2);
    expect(await page.locator('#rows tr td:first-child').allTextContents()).toEqual(['alice', 'bob']);
    await expect.poll(() => page.locator('#status').textContent(), WAIT).toBe('live');

    // The chart canvas has pixels, and they change as snapshots arrive.
    const canvas = page.locator('#chart canvas');
    await page.waitForFunction(() => Number(document.body.dataset.chartPoints ?? 0) >= 3);
    const before = await canvas.evaluate((c: HTMLCanvasElement) => c.toDataURL());
    const seen = Number(await page.evaluate(() => document.body.dataset.snapshots));
    await page.waitForFunction((n) => Number(document.body.dataset.snapshots) >= n + 3, seen);
    const after = await canvas.evaluate((c: HTMLCanvasElement) => c.toDataURL());
    expect(after).not.toBe(before);
    const inked = await canvas.evaluate((c: HTMLCanvasElement) => {
      const d = c.getContext('2d')?.getImageData(0, 0, c.width, c.height).data ?? new Uint8ClampedArray();
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) n++;
      return n;
    });
    expect(inked).toBeGreaterThan(1000);
    // Every row has a sparkline canvas.
    expect(await page.locator('#rows td.spark canvas').count()).toBe(2);
    // Rows follow the counters: bob's bytes sent grow as he writes, delta after delta.
    const bobIn = page.locator('#rows tr[data-name="bob"] td').nth(5);
    const firstIn = await bobIn.textContent();
    await expect.poll(() => bobIn.textContent(), WAIT).not.toBe(firstIn);

    // Sorting and filtering.
    await page.locator('th[data-key="domain"]').click();
    await expect
      .poll(() => page.locator('#rows tr td:first-child').allTextContents(), WAIT)
      .toEqual(['bob', 'alice']);
    await page.locator('#filter').fill('ali');
    await expect.poll(() => rows.count(), WAIT).toBe(1);
    expect(await page.locator('#empty').isVisible()).toBe(false);
    // The count says how many the filter keeps, not "2" over one row.
    expect(await page.locator('#count').textContent()).toBe('1 of 2 match');
    // A filter that matches no client says so, not "Nothing to show yet." under "Clients 2".
    await page.locator('#filter').fill('nobody-has-this');
    await expect.poll(() => rows.count(), WAIT).toBe(0);
    expect(await page.locator('#empty').isVisible()).toBe(true);
    expect(await page.locator('#empty').textContent()).toBe('Nothing matches the filter.');
    expect(await page.locator('#count').textContent()).toBe('0 of 2 match');
    await page.locator('#filter').fill('');
    await expect.poll(() => rows.count(), WAIT).toBe(2);
    expect(await page.locator('#count').textContent()).toBe('2');

    // A client's details and streams.
    await page.locator('#rows tr[data-name="bob"] td:first-child').click();
    await expect
      .poll(() => page.locator('#detail .streams').textContent(), WAIT)
      .toMatch(/1 stream\(s\) open/);

    await mkdir('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/dashboard.png', fullPage: true });

    // Kick alice through the button, accepting the confirmation.
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(`${d.type()}: ${d.message()}`);
      void d.accept();
    });
    const left = new Promise<string>((resolve) =>
      t.sw.on('clientLeft', (c, reason) => {
        if (c.domain === 'alice') resolve(reason);
      }),
    );
    await page.locator('#rows tr[data-name="alice"] button.kick').click();
    expect(await left).toBe('kicked');
    expect(dialogs).toEqual([expect.stringMatching(/^confirm: Kick alice\?/)]);
    await expect.poll(() => page.locator('#rows tr td:first-child').allTextContents(), WAIT).toEqual(['bob']);
    await expect.poll(() => page.locator('#events').textContent(), WAIT).toMatch(/alice left: kicked/);
    await page.screenshot({ path: 'test-results/dashboard-after-kick.png', fullPage: true });

    expect(pageErrors).toEqual([]);
  });

  it('takes a token with % or & from the fragment, as given or percent-encoded', async () => {
    // Any printable ASCII is a valid token. A '%' that starts no escape used to make
    // decodeURIComponent throw while the module loaded: the page stayed "connecting…" for good.
    const token = 'half%off&more%zz';
    const other = await startAdmin({ switcher: t.sw, port: 0, token, sampleInterval: 100 });
    const fresh = await context.newPage();
    const prompts: string[] = [];
    fresh.on('dialog', (d) => {
      prompts.push(d.message());
      void d.dismiss();
    });
    const errors: string[] = [];
    fresh.on('pageerror', (e) => errors.push(e.message));
    try {
      for (const fragment of [token, encodeURIComponent(token)]) {
        await fresh.goto(`${other.url}#token=${fragment}`);
        await expect.poll(() => fresh.locator('#status').textContent(), WAIT).toBe('live');
        // 'live' once the stream answers; its rows are drawn in a later frame.
        await expect.poll(() => fresh.locator('#rows tr').count(), WAIT).toBeGreaterThan(0);
        await fresh.goto('about:blank');
      }
      expect(prompts).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await fresh.close();
      await other.close();
    }
  });

  it('asks for the token when none is given', async () => {
    const fresh = await context.newPage();
    try {
      await fresh.evaluate(() => sessionStorage.clear()).catch(() => {});
      const prompts: string[] = [];
      const messages: string[] = [];
      fresh.on('dialog', (d) => {
        prompts.push(d.type());
        messages.push(d.message());
        void d.accept(TOKEN);
      });
      // A new tab has its own sessionStorage, so the token must come from the prompt.
      await fresh.goto(admin.url);
      await expect.poll(() => fresh.locator('#rows tr').count(), WAIT).toBe(1);
      expect(prompts[0]).toBe('prompt');
      // It named `flexmux --admin-token`, a flag no command has: where the token really comes from.
      const flags = new Set(buildProgram(() => {}).commands.flatMap((c) => c.options.map((o) => o.long)));
      const named = [...(messages[0] ?? '').matchAll(/--[a-z-]+/g)].map((m) => m[0]);
      expect(named.length).toBeGreaterThan(0);
      expect(named.filter((f) => !flags.has(f))).toEqual([]);
      expect(messages[0]).toContain('FLEXMUX_ADMIN_TOKEN');
    } finally {
      await fresh.close();
    }
  });

  it('shows markup that comes from nodes and their connections as text', async () => {
    // A remote address (what a transport reports; a proxy or a crafted link may set it) and the
    // error text of a departure reach the page from outside; none may become elements.
    const html = '<img src=x id=injected onerror="document.body.dataset.pwned=1">';
    const mallory = new Session<FlexStream>({
      connector: async () => {
        const [a, b] = memoryPair({ remoteAddresses: ['switcher', html] });
        t.sw.handle(b);
        return a;
      },
      makeNode: (tr, o) => new BaseNode(tr, o, (core) => new FlexStream(core)),
      password: PASSWORD,
      domain: 'mallory',
      reconnect: false,
    });
    mallory.on('disconnect', () => {});
    await mallory.ready({ timeout: 5_000 });
    const fresh = await context.newPage();
    try {
      await fresh.goto(`${admin.url}#token=${TOKEN}`);
      const row = fresh.locator('#rows tr[data-name="mallory"]');
      await expect.poll(() => row.count(), WAIT).toBe(1);
      expect(await row.locator('td').nth(2).textContent()).toBe(html);
      await row.locator('td:first-child').click();
      await expect.poll(() => fresh.locator('#detail-body').textContent(), WAIT).toContain(html);
      const kicked = await fetch(
        `${admin.url}api/v1/clients/mallory?reason=${encodeURIComponent(`<b id=bold>${html}`)}`,
        { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } },
      );
      expect(kicked.status).toBe(200);
      await expect
        .poll(() => fresh.locator('#events').textContent(), WAIT)
        .toContain(`mallory left: kicked (kicked by the switcher: <b id=bold>${html})`);
      expect(await fresh.locator('#injected, #bold').count()).toBe(0);
      expect(await fresh.evaluate(() => document.body.dataset.pwned)).toBeUndefined();
    } finally {
      await fresh.close();
      await mallory.close();
    }
  });

  it("shows a node's streams, with a sparkline each, in node mode", async () => {
    // carol dials bob, and bob dials carol (alice is kicked by the first test).
    t.bob.listen(9).on('stream', (s: FlexStream) => s.on('error', () => {}));
    const carol = t.session('carol');
    await carol.ready({ timeout: 5_000 });
    carol.listen(10).on('stream', (s: FlexStream) => s.on('error', () => {}));
    const stream = await carol.dial('bob:9', { timeout: 5_000 });
    stream.on('error', () => {});
    const accepted = await t.bob.dial('carol:10', { timeout: 5_000 });
    accepted.on('error', () => {});
    const nodeAdmin = await startAdmin({ node: carol, port: 0, token: TOKEN, sampleInterval: 100 });
    const fresh = await context.newPage();
    const errors: string[] = [];
    fresh.on('pageerror', (e) => errors.push(e.message));
    try {
      await fresh.goto(`${nodeAdmin.url}#token=${TOKEN}`);
      const rows = fresh.locator('#rows tr');
      await expect.poll(() => rows.count(), WAIT).toBe(2);
      expect(await fresh.locator('#table-title').textContent()).toBe('Streams');
      // The card's RTT is the switcher's; the table's RTT column is each stream's peer's.
      expect(await fresh.locator('#cards .label').allTextContents()).toContain('Switcher RTT');
      expect(await fresh.locator('#cards .label').allTextContents()).not.toContain('RTT');
      expect(await fresh.locator('#rows td.spark canvas').count()).toBe(2);
      // Keyed by the stream's serial, as the deltas are: its id is taken again by a later stream
      // between the same ports.
      const listed = await fetch(`${nodeAdmin.url}api/v1/streams`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      type View = { serial: number; dialed: boolean; local: { port: number }; remote: { port: number } };
      const views = ((await listed.json()) as { streams: View[] }).streams;
      const out = views.find((v) => v.dialed)!;
      const into = views.find((v) => !v.dialed)!;
      const dialed = fresh.locator(`#rows tr[data-key="${out.serial}"]`);
      expect(await dialed.locator('td').nth(1).textContent()).toBe('→ bob:9');
      // Named by its ports and peer, the arrow pointing from the end that dialled. It used to be
      // named by its id, as was the title of its details ("Stream 191740225586152").
      expect(await dialed.getAttribute('data-name')).toBe(`:${out.local.port} → bob:9`);
      expect(await fresh.locator(`#rows tr[data-key="${into.serial}"]`).getAttribute('data-name')).toBe(
        `:10 ← bob:${into.remote.port}`,
      );
      await dialed.locator('td:first-child').click();
      await expect
        .poll(() => fresh.locator('#detail-title').textContent(), WAIT)
        .toBe(`Stream :${out.local.port} → bob:9`);
      expect(errors).toEqual([]);
    } finally {
      await fresh.close();
      await nodeAdmin.close();
      stream.destroy();
      accepted.destroy();
      await carol.close();
    }
  });
});
