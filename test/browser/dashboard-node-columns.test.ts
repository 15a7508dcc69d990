import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type AdminServer, startAdmin } from '../../src/admin/index.js';
import type { FlexStream } from '../../src/index.js';
import { startTraffic, type Traffic } from '../integration/admin-fixture.js';
import { describeBrowser, launchChromium } from './chromium.js';

/**
 * A node's dashboard at a 1280x800 window (dashboard-columns.test.ts checks a switcher's): the
 * streams table fits without sideways scrolling, and a peer of a 16-character domain with a
 * 5-digit port is shown whole. Its Local and Remote columns used to share what thirteen columns
 * left, some 124 px each: `build-agent-0042:1000` was cut.
 */

const TOKEN = 'node-columns-token';
/** 16 characters each: the node shown, and its peer. */
const NODE = 'office-printer-3';
const PEER = 'build-agent-0042';

describeBrowser('admin dashboard column widths in node mode in Chromium', () => {
  let t: Traffic;
  let admin: AdminServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const streams: FlexStream[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    t = await startTraffic();
    const node = t.session(NODE);
    const peer = t.session(PEER);
    await Promise.all([node.ready({ timeout: 5_000 }), peer.ready({ timeout: 5_000 })]);
    const sink = (s: FlexStream): void => {
      s.on('error', () => {});
      s.resume();
    };
    peer.listen(54321).on('stream', sink);
    node.listen(443).on('stream', sink);
    // One stream each way: the node dials the peer's port 54321, the peer dials the node's 443.
    streams.push(await node.dial(`${PEER}:54321`, { timeout: 5_000 }));
    streams.push(await peer.dial(`${NODE}:443`, { timeout: 5_000 }));
    for (const s of streams) s.on('error', () => {});
    admin = await startAdmin({ node, port: 0, token: TOKEN, sampleInterval: 200 });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    await page.goto(`${admin.url}#token=${TOKEN}`);
    await page.waitForFunction(() => document.getElementById('rows')?.dataset.rows === '2');
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await admin?.close();
    for (const s of streams) s.destroy();
    await t?.close();
  });

  it('shows a 16-character peer with its port whole, without sideways scrolling', async () => {
    const cells = await page.locator('#rows tr').evaluateAll((trs) =>
      trs.flatMap((tr) =>
        Array.from(tr.querySelectorAll('td'), (td) => {
          // What an IPv4 address with its port would take in this cell's font. No node address
          // has that form (a domain has no dots, a node's IP is a 16-bit number), but one as
          // long must fit too.
          const probe = document.createElement('span');
          probe.style.font = getComputedStyle(td).font;
          probe.textContent = '→ 127.0.0.1:54321';
          document.body.append(probe);
          const ipv4 = probe.getBoundingClientRect().width;
          probe.remove();
          const pad = Number.parseFloat(getComputedStyle(td).paddingLeft) * 2;
          return {
            text: td.textContent ?? '',
            scroll: td.scrollWidth,
            client: td.clientWidth,
            ipv4Fits: ipv4 <= td.clientWidth - pad,
          };
        }),
      ),
    );
    for (const c of cells) expect(c.scroll, c.text).toBeLessThanOrEqual(c.client);
    // The peer cells: the dialled stream's, and the accepted one's (its port is the peer's
    // dialling port, whichever it was given).
    const peers = cells.filter((c) => c.text.includes(PEER)).map((c) => c.text);
    expect(peers).toHaveLength(2);
    expect(peers).toContain(`→ ${PEER}:54321`);
    expect(
      peers.some((p) => new RegExp(`^← ${PEER}:\\d+$`).test(p)),
      peers.join(),
    ).toBe(true);
    for (const c of cells.filter((c) => c.text.includes(PEER))) expect(c.ipv4Fits, c.text).toBe(true);
    const scroller = await page
      .locator('.scroll')
      .evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
    expect(scroller.scroll).toBeLessThanOrEqual(scroller.client);
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
});
