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
  }, 40_000);

  afterAll(async () => {
    await browser?.close();
    await admin?.close();
    await t?.close();
  });

  it('shows it as an ordinary row again, its Kick button enabled', async () => {
    await page.goto(`${admin.url}#token=${TOKEN}`);
    await expect.poll(() => page.locator('#rows tr').count(), WAIT).toBe(2);
    page.on('dialog', (d) => void d.accept());
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
});
