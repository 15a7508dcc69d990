import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type AdminServer, startAdmin } from '../../src/admin/index.js';
import { memoryPair } from '../../src/index.js';
import type { Transport } from '../../src/transport/types.js';
import { PASSWORD, startTraffic, type Traffic } from '../integration/admin-fixture.js';
import { admitRaw, connectRaw, Raw } from '../unit/switcher/helpers.js';
import { describeBrowser, launchChromium } from './chromium.js';

/**
 * A node that reconnects while its old connection is still retiring: the page lists the new
 * connection, then hears that the old one left. Rows were keyed by domain, so that departure
 * removed the new connection's row until the next sample (a second by default).
 */

const TOKEN = 'reconnect-token';
const WAIT = { timeout: 15_000, interval: 50 };

describeBrowser('admin dashboard: a node whose old connection leaves after its new one joined', () => {
  let t: Traffic;
  let admin: AdminServer;
  let browser: Browser;
  let page: Page;
  let old: Raw;
  let fresh: Raw;
  /** The switcher's end of carol's old connection. */
  let oldEnd: Transport;

  beforeAll(async () => {
    // The switcher gives a closing connection a minute (not 5 s) before it drops it.
    t = await startTraffic({ switcher: { closeTimeout: 60_000 } });
    // carol's link goes dark once she is admitted: the switcher's close of it waits for an answer
    // that never comes, until the test ends it (as the close timeout would).
    const [a, b] = memoryPair({ closeTimeout: 60_000 });
    oldEnd = b;
    t.sw.handle(b);
    old = new Raw(a);
    if ((await admitRaw(old, 'carol', { password: PASSWORD })).errCode !== 0) throw new Error('refused');
    // No sample while the test runs: the page sees its hello's snapshot and the events only.
    admin = await startAdmin({ switcher: t.sw, port: 0, token: TOKEN, sampleInterval: 60_000 });
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    page.setDefaultTimeout(15_000);
  }, 40_000);

  afterAll(async () => {
    await browser?.close();
    await admin?.close();
    oldEnd?.destroy();
    fresh?.t.destroy();
    await t?.close();
  });

  it('keeps the new connection listed when the old one leaves', async () => {
    (old.t as unknown as { blackhole(): void }).blackhole();
    const oldId = t.sw.client('carol')!.id;
    expect(t.sw.kick('carol')).toBe(true);
    fresh = connectRaw(t.sw);
    expect((await admitRaw(fresh, 'carol', { password: PASSWORD })).errCode).toBe(0);
    expect(t.sw.client('carol')!.id).not.toBe(oldId);

    await page.goto(`${admin.url}#token=${TOKEN}`);
    const names = () => page.locator('#rows tr td:first-child').allTextContents();
    await expect.poll(names, WAIT).toEqual(['alice', 'bob', 'carol']);
    await expect.poll(() => page.locator('#status').textContent(), WAIT).toBe('live');

    const left = new Promise<void>((resolve) => t.sw.once('clientLeft', () => resolve()));
    oldEnd.destroy();
    await left;
    await expect.poll(() => page.locator('#events').textContent(), WAIT).toMatch(/carol left: kicked/);
    // Two frames after the departure was taken in: the table has been drawn since.
    await page.evaluate(
      () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(null)))),
    );
    expect(await page.evaluate(() => document.body.dataset.received)).toBe('1');
    expect(await names()).toEqual(['alice', 'bob', 'carol']);
  });
});
