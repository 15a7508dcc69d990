import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type AdminServer, startAdmin } from '../../src/admin/index.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { join, PASSWORD, type Raw } from '../unit/switcher/helpers.js';
import { describeBrowser, launchChromium } from './chromium.js';
import { openRawTab } from './raw-tab.js';

/**
 * The dashboard of a switcher with 1,000 clients in real Chromium. It used to keep a row and a
 * uPlot canvas for every client and relay and redraw them all on every update; now only the
 * rows in view (and a few either side) are in the DOM, reused as the table scrolls, and a hidden
 * tab draws nothing. Nothing here is timed: scripts/dashboard-cost.ts measures the cost.
 */

const TOKEN = 'scale-token';
const CLIENTS = 1_000;
/** Rows the table renders beyond each edge of its view (OVERSCAN in static/table.js). */
const OVERSCAN = 6;
const WAIT = { timeout: 10_000, interval: 50 };
const name = (i: number): string => `client-${String(i).padStart(4, '0')}`;

describeBrowser('admin dashboard with 1,000 clients in Chromium', () => {
  let sw: Switcher;
  const raws: Raw[] = [];
  let admin: AdminServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    sw = new Switcher({ password: PASSWORD, maxClients: CLIENTS + 10 });
    // In batches: a thousand admissions at once would queue behind each other.
    for (let i = 0; i < CLIENTS; i += 250) {
      const batch: Promise<Raw>[] = [];
      for (let j = i; j < i + 250; j++) batch.push(join(sw, name(j)));
      raws.push(...(await Promise.all(batch)));
    }
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
    await page.waitForFunction((n) => document.getElementById('rows')?.dataset.rows === String(n), CLIENTS);
    // The table's scroller wholly inside the window, so what it shows can be hit-tested.
    await page.locator('.scroll').evaluate((el) => el.scrollIntoView());
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await admin?.close();
    await sw?.close({ timeout: 2_000 });
  });

  /**
   * The rows and sparkline canvases in the DOM, the rows the scroller's view holds, and whether
   * the table's top, middle and bottom of the view show a rendered row (not a spacer).
   */
  const view = () =>
    page.evaluate(() => {
      const scroller = document.querySelector('.scroll') as HTMLElement;
      const rows = document.querySelectorAll('#rows tr');
      const height = rows[0]?.getBoundingClientRect().height ?? 1;
      const box = scroller.getBoundingClientRect();
      const head = (document.getElementById('head') as HTMLElement).getBoundingClientRect().height;
      // What of the table the window shows: the scroller's box, less the head, within the window.
      const top = Math.max(box.top, 0) + head;
      const bottom = Math.min(box.bottom, window.innerHeight);
      const covered = [top + 2, (top + bottom) / 2, bottom - 2].every(
        (y) => document.elementFromPoint(box.left + 20, y)?.closest('tbody')?.id === 'rows',
      );
      return {
        rows: rows.length,
        canvases: document.querySelectorAll('#rows canvas').length,
        inView: Math.ceil((bottom - top) / height),
        covered,
        keys: Array.from(rows, (r) => (r as HTMLElement).dataset.name),
      };
    });

  it('renders only the rows in view, with a sparkline each, wherever the table is scrolled', async () => {
    expect(await page.locator('#count').textContent()).toBe(CLIENTS.toLocaleString('en-US'));
    for (const at of ['top', 'middle', 'bottom'] as const) {
      await page.locator('.scroll').evaluate((el, where) => {
        const max = el.scrollHeight - el.clientHeight;
        el.scrollTop = where === 'top' ? 0 : where === 'middle' ? max / 2 : max;
      }, at);
      // Once the frame after the scroll is drawn, the view shows rows all the way down.
      await expect.poll(async () => (await view()).covered, WAIT).toBe(true);
      const v = await view();
      // The DOM holds a view's worth, not a thousand (each with a canvas, as it used to).
      expect(v.inView).toBeGreaterThan(5);
      expect(v.rows).toBeLessThanOrEqual(v.inView + 2 * OVERSCAN + 2);
      expect(v.canvases).toBe(v.rows);
      if (at === 'top') expect(v.keys[0]).toBe(name(0));
      if (at === 'bottom') expect(v.keys.at(-1)).toBe(name(CLIENTS - 1));
    }
    // The last client's sparkline has its history drawn on a reused canvas.
    const inked = await page.locator(`#rows tr[data-name="${name(CLIENTS - 1)}"] canvas`).evaluate((c) => {
      const canvas = c as HTMLCanvasElement;
      const d = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? [];
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) n++;
      return n;
    });
    expect(inked).toBeGreaterThan(0);
    expect(pageErrors).toEqual([]);
  });

  it('sorts and filters all the rows, and a reused row kicks the client it shows', async () => {
    await page.locator('.scroll').evaluate((el) => {
      el.scrollTop = 0;
    });
    await page.locator('th[data-key="domain"]').click();
    await expect.poll(async () => (await view()).keys[0], WAIT).toBe(name(CLIENTS - 1));
    // Filtered from far down the list: the ten that match are shown, not the spacer of the
    // rows above where the view was.
    await page.locator('.scroll').evaluate((el) => {
      el.scrollTop = el.scrollHeight;
    });
    await expect.poll(async () => (await view()).keys.at(-1), WAIT).toBe(name(0));
    await page.locator('#filter').fill('client-099');
    // The draw that applies the filter renders the ten: it used to render none, leave the
    // content as tall as the thousand and shrink it a view at a time, a frame each.
    const drawn = await page.waitForFunction(() => {
      const body = document.getElementById('rows') as HTMLElement;
      // An object, so that a draw of no rows ends the wait too.
      return body.dataset.rows === '10' ? { rendered: body.children.length } : false;
    });
    expect(await drawn.jsonValue()).toEqual({ rendered: 10 });
    expect((await view()).keys).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0].map((i) => name(990 + i)));
    await expect.poll(async () => (await view()).covered, WAIT).toBe(true);

    // The row now showing client-0500 was made for another client: its button kicks 0500.
    await page.locator('#filter').fill('client-0500');
    await expect.poll(async () => (await view()).keys, WAIT).toEqual([name(500)]);
    const left = new Promise<string>((resolve) =>
      sw.on('clientLeft', (c, reason) => {
        if (c.domain === name(500)) resolve(reason);
      }),
    );
    page.once('dialog', (d) => void d.accept());
    await page.locator(`#rows tr[data-name="${name(500)}"] button.kick`).click();
    expect(await left).toBe('kicked');
    await expect.poll(async () => (await view()).keys, WAIT).toEqual([]);
    await page.locator('#filter').fill('');
    await expect
      .poll(() => page.locator('#count').textContent(), WAIT)
      .toBe((CLIENTS - 1).toLocaleString('en-US'));
    expect(sw.clients().length).toBe(CLIENTS - 1);
    expect(pageErrors).toEqual([]);
  });

  it('redraws the rows on a scroll, not the details of the selected client', async () => {
    // No snapshot after the hello for a minute: every draw here comes from the scroll.
    const still = await startAdmin({ switcher: sw, port: 0, token: TOKEN, sampleInterval: 60_000 });
    const fresh = await context.newPage();
    try {
      await fresh.goto(`${still.url}#token=${TOKEN}`);
      await fresh.locator(`#rows tr[data-name="${name(1)}"] td:first-child`).click();
      await expect.poll(() => fresh.locator('#detail-title').textContent(), WAIT).toBe(`Client ${name(1)}`);
      // Its streams have come (the details are rebuilt then), before the details are held.
      await expect.poll(() => fresh.locator('#detail .streams').count(), WAIT).toBe(1);
      const details = await fresh.locator('#detail-body dl').elementHandle();
      await fresh.locator('.scroll').evaluate((el) => {
        el.scrollTop = el.scrollHeight / 2;
      });
      // The frame after the scroll has drawn other rows.
      await fresh.waitForFunction(
        (first) => document.querySelector('#rows tr')?.getAttribute('data-name') !== first,
        name(0),
      );
      // The same element: it used to be rebuilt, stream list and all, in every frame.
      expect(await details?.evaluate((dl) => dl.isConnected)).toBe(true);
    } finally {
      await fresh.close();
      await still.close();
    }
  });

  it('draws nothing while the tab is hidden and catches up when it is shown', async () => {
    // Playwright keeps the pages it manages visible whatever is in front of them: this dashboard
    // is in a tab of its own (raw-tab.ts), hidden as a user's is, by another tab in front.
    const tab = await openRawTab(browser, `${admin.url}#token=${TOKEN}`);
    try {
      const counts = () =>
        tab.evaluate<{ drawn: number; received: number; state: string }>(
          `({
            drawn: Number(document.body.dataset.snapshots ?? 0),
            received: Number(document.body.dataset.received ?? 0),
            state: document.visibilityState,
          })`,
        );
      await expect.poll(async () => (await counts()).drawn, WAIT).toBeGreaterThan(0);
      await tab.hide();
      await expect.poll(async () => (await counts()).state, WAIT).toBe('hidden');
      const hidden = await counts();
      // Three more snapshots arrive and are taken in; none is drawn.
      await expect
        .poll(async () => (await counts()).received, WAIT)
        .toBeGreaterThanOrEqual(hidden.received + 3);
      expect((await counts()).drawn).toBe(hidden.drawn);
      await tab.show();
      await expect.poll(async () => (await counts()).state, WAIT).toBe('visible');
      await expect.poll(async () => (await counts()).drawn, WAIT).toBeGreaterThan(hidden.received + 2);
      expect(tab.errors).toEqual([]);
    } finally {
      await tab.close();
    }
    expect(pageErrors).toEqual([]);
  });

  it('keeps the Kick button of a client being kicked disabled when its row scrolls away and back', async () => {
    // The switcher is not asked: the DELETE is answered here, so the client stays listed while
    // marked as leaving, as it is between a kick and the next snapshot.
    await page.route('**/api/v1/clients/*', (route) =>
      route.request().method() === 'DELETE' ? route.fulfill({ status: 204 }) : route.fallback(),
    );
    try {
      const scrollTo = (where: 'top' | 'bottom') =>
        page.locator('.scroll').evaluate((el, w) => {
          el.scrollTop = w === 'top' ? 0 : el.scrollHeight;
        }, where);
      await scrollTo('top');
      await expect.poll(async () => (await view()).covered, WAIT).toBe(true);
      const key = (await view()).keys[0]!;
      const button = page.locator(`#rows tr[data-name="${key}"] button.kick`);
      page.once('dialog', (d) => void d.accept());
      await button.click();
      await expect.poll(() => page.locator(`#rows tr[data-name="${key}"].leaving`).count(), WAIT).toBe(1);
      expect(await button.isDisabled()).toBe(true);
      // Away: its row element goes to another client. Back: a row is bound to it again.
      await scrollTo('bottom');
      await expect.poll(async () => (await view()).keys.includes(key), WAIT).toBe(false);
      await scrollTo('top');
      await expect.poll(async () => (await view()).keys.includes(key), WAIT).toBe(true);
      expect(await button.isDisabled()).toBe(true);
      // And the rows that took its element over have theirs enabled.
      const others = page.locator(`#rows tr:not([data-name="${key}"]) button.kick:disabled`);
      expect(await others.count()).toBe(0);
    } finally {
      await page.unroute('**/api/v1/clients/*');
    }
    expect(pageErrors).toEqual([]);
  });
  it('disables the Kick button of a client kicked while its row was scrolled away and back', async () => {
    // The DELETE is held until the rows have moved: the element clicked went to another client
    // and the kicked client got another (enabled) one, so its leaving mark must disable that one.
    let answer: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      answer = resolve;
    });
    await page.route('**/api/v1/clients/*', async (route) => {
      if (route.request().method() !== 'DELETE') return route.fallback();
      await held;
      await route.fulfill({ status: 204 });
    });
    try {
      const scrollTo = (where: 'top' | 'bottom') =>
        page.locator('.scroll').evaluate((el, w) => {
          el.scrollTop = w === 'top' ? 0 : el.scrollHeight;
        }, where);
      await scrollTo('top');
      await expect.poll(async () => (await view()).covered, WAIT).toBe(true);
      const key = (await view()).keys[1]!;
      page.once('dialog', (d) => void d.accept());
      await page.locator(`#rows tr[data-name="${key}"] button.kick`).click();
      await scrollTo('bottom');
      await expect.poll(async () => (await view()).keys.includes(key), WAIT).toBe(false);
      await scrollTo('top');
      await expect.poll(async () => (await view()).keys.includes(key), WAIT).toBe(true);
      answer();
      await expect.poll(() => page.locator(`#rows tr[data-name="${key}"].leaving`).count(), WAIT).toBe(1);
      expect(await page.locator(`#rows tr[data-name="${key}"] button.kick`).isDisabled()).toBe(true);
    } finally {
      answer();
      await page.unroute('**/api/v1/clients/*');
    }
    expect(pageErrors).toEqual([]);
  });

  it('re-enables the Kick button of the client whose kick failed, not the element clicked', async () => {
    // One row shown at a time (by the filter), so the element clicked goes to the next client
    // shown. The kick of `failing` is held, then fails; that of `other` is answered here, so
    // `other` stays listed, marked as leaving, its button disabled.
    const failing = name(700);
    const other = name(701);
    let answer: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      answer = resolve;
    });
    await page.route('**/api/v1/clients/*', async (route) => {
      if (route.request().method() !== 'DELETE') return route.fallback();
      if (!route.request().url().endsWith(`/${failing}`)) return route.fulfill({ status: 204 });
      await held;
      await route.fulfill({
        status: 500,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'internal', message: 'refused by the test' } }),
      });
    });
    const button = (key: string) => page.locator(`#rows tr[data-name="${key}"] button.kick`);
    const show = async (filter: string, keys: string[]) => {
      await page.locator('#filter').fill(filter);
      await expect.poll(async () => (await view()).keys, WAIT).toEqual(keys);
    };
    const rowOf = (el: Element) => (el.closest('tr') as HTMLElement).dataset.name;
    // Sorted by domain, descending, whatever the tests before left: at most two clicks.
    const domainHead = page.locator('th[data-key="domain"]');
    for (let i = 0; i < 2 && (await domainHead.getAttribute('aria-sort')) !== 'descending'; i++) {
      await domainHead.click();
    }
    expect(await domainHead.getAttribute('aria-sort')).toBe('descending');
    try {
      await show(failing, [failing]);
      const clicked = await button(failing).elementHandle();
      page.once('dialog', (d) => void d.accept());
      await button(failing).click();
      expect(await button(failing).isDisabled()).toBe(true);
      // The element clicked now shows `other`, whose kick succeeds.
      await show(other, [other]);
      expect(await clicked?.evaluate(rowOf)).toBe(other);
      page.once('dialog', (d) => void d.accept());
      await button(other).click();
      await expect.poll(() => page.locator(`#rows tr[data-name="${other}"].leaving`).count(), WAIT).toBe(1);
      // Shown again, in a row bound afresh: its kick is still on its way.
      await show(failing, [failing]);
      expect(await button(failing).isDisabled()).toBe(true);
      await show(other, [other]);
      expect(await clicked?.evaluate(rowOf)).toBe(other);
      answer();
      await expect
        .poll(() => page.locator('#events').textContent(), WAIT)
        .toContain(`kick ${failing} failed: refused by the test`);
      // The failure left the element clicked alone: it shows a client being kicked.
      expect(await button(other).isDisabled()).toBe(true);
      // Both in view (descending, as sorted above): the failed one can be kicked
      // again, and only leaving rows are disabled.
      await show(
        name(700).slice(0, -1),
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0].map((i) => name(700 + i)),
      );
      expect(await button(failing).isDisabled()).toBe(false);
      expect(await button(other).isDisabled()).toBe(true);
      expect(await page.locator('#rows tr:not(.leaving) button.kick:disabled').count()).toBe(0);
      expect(await page.locator('#rows tr.leaving button.kick:enabled').count()).toBe(0);
    } finally {
      answer();
      await page.unroute('**/api/v1/clients/*');
      await page.locator('#filter').fill('');
    }
    // Chromium logs the failed DELETE itself; the page threw nothing.
    expect(pageErrors.filter((e) => !e.includes('status of 500'))).toEqual([]);
  });
});
