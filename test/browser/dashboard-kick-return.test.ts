import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type AdminServer, startAdmin } from '../../src/admin/index.js';
import { startTraffic, type Traffic } from '../integration/admin-fixture.js';
import { describeBrowser, launchChromium } from './chromium.js';

/**
 * A kicked node that reconnects at once (its session's reconnectSpread is short next to the
 * sample interval, as 500 ms is next to the default second) is listed in every snapshot: its row
 * must not stay marked as leaving, its Kick button disabled, for as long as the page is open.
 */

const TOKEN = 'kick-return-token';
const WAIT = { timeout: 15_000, interval: 50 };

describeBrowser('admin dashboard: a kicked client that comes back', () => {
  let t: Traffic;
  let admin: AdminServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    // alice reconnects after a lost connection within 50 ms (backoffInitial 50 caps the spread).
    t = await startTraffic({ aliceReconnect: true });
    // Samples far apart next to that: none falls between the kick and alice's return.
    admin = await startAdmin({ switcher: t.sw, port: 0, token: TOKEN, sampleInterval: 1_500 });
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    page.setDefaultTimeout(15_000);
    page.on('dialog', (d) => void d.accept());
  }, 40_000);

  afterAll(async () => {
    await browser?.close();
    await admin?.close();
    await t?.close();
  });

  it('shows it as an ordinary row again, its Kick button enabled', async () => {
    await page.goto(`${admin.url}#token=${TOKEN}`);
    await expect.poll(() => page.locator('#rows tr').count(), WAIT).toBe(2);
    const left = new Promise<string>((resolve) =>
      t.sw.on('clientLeft', (c, reason) => {
        if (c.domain === 'alice') resolve(reason);
      }),
    );
    const back = new Promise((resolve) => t.alice.once('ready', resolve));
    await page.locator('#rows tr[data-name="alice"] button.kick').click();
    expect(await left).toBe('kicked');
    await back;
    await expect.poll(() => page.locator('#events').textContent(), WAIT).toMatch(/alice left: kicked/);
    // Two snapshots after alice's return: both list her.
    const seen = Number(await page.evaluate(() => document.body.dataset.snapshots));
    await page.waitForFunction((n) => Number(document.body.dataset.snapshots) >= n + 2, seen, WAIT);
    const row = page.locator('#rows tr[data-name="alice"]');
    await expect.poll(() => row.count(), WAIT).toBe(1);
    expect(await row.getAttribute('class')).not.toMatch(/leaving/);
    expect(await row.locator('button.kick').isDisabled()).toBe(false);
  });

  it('does not kick the connection that came back through the row of the one that left', async () => {
    const row = page.locator('#rows tr[data-name="alice"]');
    await expect.poll(() => row.count(), WAIT).toBe(1);
    const stale = Number(await row.getAttribute('data-key'));
    expect(t.sw.client('alice')?.id).toBe(stale);
    // The DELETE is held until alice has lost her connection and reconnected: the kick arrives
    // when her domain is held by a new connection, as from a row drawn before she came back.
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let sent: unknown;
    await page.route('**/api/v1/clients/*', async (route) => {
      if (route.request().method() !== 'DELETE') return route.fallback();
      sent = route.request().postDataJSON();
      await held;
      await route.continue();
    });
    try {
      const left = new Promise<void>((resolve) =>
        t.sw.on('clientLeft', (c) => {
          if (c.id === stale) resolve();
        }),
      );
      const back = new Promise((resolve) => t.alice.once('ready', resolve));
      await row.locator('button.kick').click();
      await expect.poll(() => sent, WAIT).toBeDefined();
      expect(sent).toEqual({ reason: 'kicked from the dashboard', id: stale });
      expect(t.sw.kick('alice', 'lost')).toBe(true);
      await left;
      await back;
      const fresh = t.sw.client('alice')?.id;
      expect(fresh).toBeDefined();
      expect(fresh).not.toBe(stale);
      release();
      await expect
        .poll(() => page.locator('#events').textContent(), WAIT)
        .toContain(`kick alice failed: the domain "alice" is held by connection ${fresh}, not ${stale}`);
      // The switcher drops a kicked client from its tables at once: she is still the new one.
      expect(t.sw.client('alice')?.id).toBe(fresh);
    } finally {
      release();
      await page.unroute('**/api/v1/clients/*');
    }
  });
});
