import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type AdminServer, startAdmin } from '../../src/admin/index.js';
import type { RefusalInfo } from '../../src/switcher/index.js';
import { startTraffic, type Traffic } from '../integration/admin-fixture.js';
import { describeBrowser, launchChromium } from './chromium.js';

/**
 * The dashboard's Events panel: a placeholder while nothing has happened since the page opened,
 * gone with the first event. A node's panel could stay empty for long (it logged session state
 * changes only), and an empty panel read as a broken one.
 */

const TOKEN = 'events-token';
const WAIT = { timeout: 10_000, interval: 50 };

describeBrowser('admin dashboard events panel in Chromium', () => {
  let t: Traffic;
  let browser: Browser;
  let context: BrowserContext;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    t = await startTraffic();
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await t?.close();
  });

  /** Opens the dashboard of `admin` and waits until it has drawn a snapshot. */
  async function open(admin: AdminServer): Promise<Page> {
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    await page.goto(`${admin.url}#token=${TOKEN}`);
    await page.waitForFunction(() => Number(document.body.dataset.snapshots ?? 0) >= 1);
    return page;
  }

  it('shows a placeholder in an empty Events panel, gone with the first event', async () => {
    const admin = await startAdmin({ switcher: t.sw, port: 0, token: TOKEN, sampleInterval: 100 });
    const page = await open(admin);
    try {
      // alice and bob joined before the page opened: nothing to log yet.
      const placeholder = page.locator('#events-empty');
      expect(await page.locator('#events li').count()).toBe(0);
      expect(await placeholder.isVisible()).toBe(true);
      expect(await placeholder.textContent()).toBe('No events yet.');
      expect(await placeholder.getAttribute('class')).toBe('muted');

      const carol = t.session('carol');
      await carol.ready({ timeout: 5_000 });
      await expect.poll(() => page.locator('#events li').count(), WAIT).toBe(1);
      expect(await page.locator('#events').textContent()).toMatch(/carol connected from/);
      expect(await placeholder.isVisible()).toBe(false);
      await carol.close();
      expect(pageErrors).toEqual([]);
    } finally {
      await page.close();
      await admin.close();
    }
  });

  it('logs a refused admission with what its reason means', async () => {
    const admin = await startAdmin({ switcher: t.sw, port: 0, token: TOKEN, sampleInterval: 100 });
    const page = await open(admin);
    const refused = new Promise<RefusalInfo>((resolve) => t.sw.once('refused', resolve));
    const mallory = t.session('mallory', { password: 'not-the-password', reconnect: false });
    try {
      await expect(mallory.ready({ timeout: 5_000 })).rejects.toThrow();
      const r = await refused;
      expect(r.message).not.toBe('');
      // "refused memory#3: decrypt" told an operator nothing of a wrong password.
      await expect
        .poll(() => page.locator('#events li').allTextContents(), WAIT)
        .toEqual([expect.stringContaining(`refused ${r.remoteAddress}: ${r.reason} (${r.message})`)]);
      expect(pageErrors).toEqual([]);
    } finally {
      await mallory.close();
      await page.close();
      await admin.close();
    }
  });

  it("logs a node's listeners and its session's reconnection, after the placeholder", async () => {
    const dave = t.session('dave', { reconnectSpread: 0 });
    await dave.ready({ timeout: 5_000 });
    const admin = await startAdmin({
      node: dave,
      port: 0,
      token: TOKEN,
      sampleInterval: 100,
      pingInterval: 0,
    });
    const page = await open(admin);
    try {
      const placeholder = page.locator('#events-empty');
      expect(await placeholder.isVisible()).toBe(true);
      const logged = () => page.locator('#events li').allTextContents();
      // Newest first; each line starts with the time it was logged.
      const l = dave.listen(12);
      await expect.poll(logged, WAIT).toEqual([expect.stringMatching(/ {2}listening on :12$/)]);
      expect(await placeholder.isVisible()).toBe(false);
      t.sw.kick('dave');
      await expect.poll(logged, WAIT).toContainEqual(expect.stringMatching(/ {2}session ready$/));
      expect((await logged()).reverse()).toEqual([
        expect.stringMatching(/listening on :12$/),
        expect.stringMatching(/session connecting$/),
        expect.stringMatching(/session ready$/),
      ]);
      l.close();
      await expect.poll(async () => (await logged())[0], WAIT).toMatch(/ {2}stopped listening on :12$/);
      expect(pageErrors).toEqual([]);
    } finally {
      await page.close();
      await admin.close();
      await dave.close();
    }
  });
});
