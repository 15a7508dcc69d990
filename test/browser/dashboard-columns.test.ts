import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type AdminServer, startAdmin } from '../../src/admin/index.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { join, PASSWORD, type Raw } from '../unit/switcher/helpers.js';
import { describeBrowser, launchChromium } from './chromium.js';

/**
 * The dashboard draws only the table rows in view. Its columns used to be as wide as the drawn
 * rows' content, so they jumped as rows with longer or shorter text scrolled in; now they depend
 * on the window only. Here the clients sorted first have short domains and addresses, those
 * sorted last 63-character domains and IPv6 addresses.
 */

const TOKEN = 'columns-token';
const SHORT = 150;
const LONG = 150;
const WAIT = { timeout: 10_000, interval: 50 };
const shortName = (i: number): string => `a${i}`;
/** 63 characters, the longest domain there is. */
const longName = (i: number): string => `z${'x'.repeat(58)}${String(i).padStart(4, '0')}`;
const longRemote = (i: number): string => `[2001:db8:ffff:ffff:ffff:ffff:ffff:${i.toString(16)}]:65535`;
/** What an operator reads most: 16-character domains and IPv4 addresses, short and longest. */
const COMMON: [string, string][] = [
  ['office-printer-3', '127.0.0.1:54321'],
  ['build-agent-0042', '255.255.255.255:65535'],
];

describeBrowser('admin dashboard column widths in Chromium', () => {
  let sw: Switcher;
  const raws: Raw[] = [];
  let admin: AdminServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    sw = new Switcher({ password: PASSWORD, maxClients: SHORT + LONG + 10 });
    const joins: Promise<Raw>[] = [];
    for (let i = 0; i < SHORT; i++) joins.push(join(sw, shortName(i), { remote: `10.0.0.1:${i + 1}` }));
    for (let i = 0; i < LONG; i++) joins.push(join(sw, longName(i), { remote: longRemote(i) }));
    for (const [domain, remote] of COMMON) joins.push(join(sw, domain, { remote }));
    raws.push(...(await Promise.all(joins)));
    admin = await startAdmin({ switcher: sw, port: 0, token: TOKEN, sampleInterval: 200 });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    await page.goto(`${admin.url}#token=${TOKEN}`);
    await page.waitForFunction(
      (n) => document.getElementById('rows')?.dataset.rows === String(n),
      SHORT + LONG + COMMON.length,
    );
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await admin?.close();
    await sw?.close({ timeout: 2_000 });
  });

  /** The header cells' widths, and the domains of the first and last rows drawn. */
  const layout = () =>
    page.evaluate(() => {
      const rows = document.querySelectorAll<HTMLElement>('#rows tr');
      return {
        widths: Array.from(document.querySelectorAll('#head th'), (th) => th.getBoundingClientRect().width),
        first: rows[0]?.dataset.name,
        last: rows[rows.length - 1]?.dataset.name,
      };
    });

  const scrollTo = (where: 'top' | 'bottom') =>
    page.locator('.scroll').evaluate((el, w) => {
      el.scrollTop = w === 'top' ? 0 : el.scrollHeight;
    }, where);

  it('keeps every column as wide wherever the table is scrolled', async () => {
    await scrollTo('top');
    await expect.poll(async () => (await layout()).first, WAIT).toBe(shortName(0));
    const top = await layout();
    // Short content only is drawn at the top.
    expect(top.last?.startsWith('a')).toBe(true);
    await scrollTo('bottom');
    await expect.poll(async () => (await layout()).last, WAIT).toBe(longName(LONG - 1));
    const bottom = await layout();
    expect(bottom.first?.startsWith('z')).toBe(true);
    expect(bottom.widths).toEqual(top.widths);
    // And back to the short rows: not the widths of the long ones kept.
    await scrollTo('top');
    await expect.poll(async () => (await layout()).first, WAIT).toBe(shortName(0));
    expect((await layout()).widths).toEqual(top.widths);
    expect(pageErrors).toEqual([]);
  });

  it('gives every heading room for its sort arrow', async () => {
    const clipped = await page.evaluate(() => {
      const heads = Array.from(document.querySelectorAll<HTMLElement>('#head th.sortable'));
      const sorted = heads.find((th) => th.hasAttribute('aria-sort'));
      for (const th of heads) th.setAttribute('aria-sort', 'descending');
      const cut = heads.filter((th) => th.scrollWidth > th.clientWidth).map((th) => th.textContent);
      for (const th of heads) if (th !== sorted) th.removeAttribute('aria-sort');
      return cut;
    });
    expect(clipped).toEqual([]);
  });

  it('shows a cut-off cell whole in its title, one line per row', async () => {
    await scrollTo('bottom');
    const row = page.locator(`#rows tr[data-name="${longName(LONG - 1)}"]`);
    await expect.poll(() => row.count(), WAIT).toBe(1);
    const cells = await row.locator('td').evaluateAll((tds) =>
      tds.slice(0, 3).map((td) => ({
        text: td.textContent,
        title: (td as HTMLElement).title,
        cut: td.scrollWidth > td.clientWidth,
      })),
    );
    // Domain, IP, remote: 63 characters do not fit in 1280 px, the IP does; a cut-off cell has
    // its full text as a title.
    expect(cells[0]?.cut).toBe(true);
    expect(cells[1]?.cut).toBe(false);
    for (const c of cells) if (c.cut) expect(c.title).toBe(c.text);
    // One line per row, long content or short: the table measures one row's height for all.
    // (The first row drawn is half a border shorter or taller, as borders collapse.)
    const heights = await page.evaluate(() =>
      Array.from(document.querySelectorAll('#rows tr'), (tr) => tr.getBoundingClientRect().height),
    );
    expect(Math.max(...heights) - Math.min(...heights)).toBeLessThan(1);
    await page.screenshot({ path: 'test-results/dashboard-columns.png' });
    expect(pageErrors).toEqual([]);
  });

  it('shows an IPv4 address and a 16-character domain whole at a 1280 px window', async () => {
    // They used to share what the number columns left, some 110 px each: `127.0.0.1:54321` was cut.
    await page.setViewportSize({ width: 1280, height: 800 });
    try {
      for (const [domain, remote] of COMMON) {
        await page.locator('#filter').fill(domain);
        const row = page.locator(`#rows tr[data-name="${domain}"]`);
        await expect.poll(() => row.count(), WAIT).toBe(1);
        const cells = await row
          .locator('td')
          .evaluateAll((tds) =>
            tds
              .slice(0, 3)
              .map((td) => ({ text: td.textContent, scroll: td.scrollWidth, client: td.clientWidth })),
          );
        expect(cells[0]?.text).toBe(domain);
        expect(cells[2]?.text).toBe(remote);
        for (const c of [cells[0], cells[2]])
          expect(c?.scroll, c?.text ?? '').toBeLessThanOrEqual(c?.client ?? 0);
      }
      // And the table fits the window: no sideways scrolling.
      const scroller = await page
        .locator('.scroll')
        .evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
      expect(scroller.scroll).toBeLessThanOrEqual(scroller.client);
    } finally {
      await page.locator('#filter').fill('');
      await page.setViewportSize({ width: 1280, height: 900 });
    }
    expect(pageErrors).toEqual([]);
  });
});
