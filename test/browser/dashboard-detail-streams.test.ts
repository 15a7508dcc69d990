import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type AdminServer, startAdmin } from '../../src/admin/index.js';
import { startTraffic, type Traffic } from '../integration/admin-fixture.js';
import { describeBrowser, launchChromium, type OpenedPage, openPage } from './chromium.js';

/**
 * The selected client's stream list in the details follows its streams: it was fetched once, on
 * selection, so streams that closed stayed listed under "0 stream(s) open" and streams opened
 * later never appeared.
 */

const TOKEN = 'detail-streams-token';
const WAIT = { timeout: 10_000, interval: 50 };

describeBrowser('admin dashboard details of a client in Chromium', () => {
  let t: Traffic;
  let admin: AdminServer;
  let browser: Browser;
  let opened: OpenedPage | undefined;

  beforeAll(async () => {
    t = await startTraffic();
    admin = await startAdmin({ switcher: t.sw, port: 0, token: TOKEN, sampleInterval: 100 });
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await opened?.context.close();
    await browser?.close();
    await admin?.close();
    await t?.close();
  });

  it("lists the selected client's streams as they open and close", async () => {
    const carol = t.session('carol');
    await carol.ready({ timeout: 5_000 });
    const dial = async () => {
      const s = await carol.dial('alice:7', { timeout: 5_000 });
      s.on('error', () => {});
      return s;
    };
    const first = await dial();
    opened = await openPage(browser, `${admin.url}#token=${TOKEN}`);
    const { page } = opened;
    const row = page.locator('#rows tr[data-name="carol"] td:first-child');
    await row.waitFor();
    await row.click();
    const listed = () => page.locator('#detail .stream-list li').allTextContents();
    const line = () => page.locator('#detail .streams').textContent();
    const toAlice = expect.stringMatching(/^carol:\d+ → alice:7 /);
    await expect.poll(listed, WAIT).toEqual([toAlice]);

    // A stream opened after the selection is listed once the counts show it.
    const second = await dial();
    await expect.poll(line, WAIT).toMatch(/^2 stream\(s\) open/);
    await expect.poll(listed, WAIT).toEqual([toAlice, toAlice]);

    // Streams that closed leave the list.
    first.destroy();
    second.destroy();
    await expect.poll(line, WAIT).toMatch(/^0 stream\(s\) open/);
    await expect.poll(listed, WAIT).toEqual([]);
    expect(opened.errors).toEqual([]);
  });
});
