import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type AdminServer, startAdmin } from '../../src/admin/index.js';
import { startTraffic, type Traffic } from '../integration/admin-fixture.js';
import { collectEvents } from '../integration/admin-http.js';
import { describeBrowser, launchChromium, openPage } from './chromium.js';

/**
 * An admin server without a token (loopback only) and a page of another origin open in the
 * operator's browser. The page cannot read the answers (no CORS), but its requests reach
 * 127.0.0.1 under a loopback Host: its iframes (or EventSources, or no-cors fetches) of the
 * event stream took every stream the server allows, and the operator's dashboard was answered
 * 503 for as long as the page stayed open.
 */

const STREAMS = 2;

describeBrowser('admin server without a token, and a page of another origin', () => {
  let t: Traffic;
  let admin: AdminServer;
  let other: Server;
  let browser: Browser;

  beforeAll(async () => {
    t = await startTraffic();
    admin = await startAdmin({ switcher: t.sw, port: 0, maxEventStreams: STREAMS });
    const events = `${admin.url}api/v1/events`;
    // A frame's document loads once its answer ended: an event stream's never does.
    const page = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><body><script>
      window.settled = 0;
      for (let i = 0; i < ${STREAMS}; i++) {
        const f = document.createElement('iframe');
        f.onload = () => { window.settled++; };
        f.src = '${events}?frame=' + i;
        document.body.append(f);
      }
    </script></body>`;
    other = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(page);
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    browser = await launchChromium();
  }, 40_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (other ? other.close(() => resolve()) : resolve()));
    await admin?.close();
    await t?.close();
  });

  it("takes none of the event streams, and the operator's still opens", async () => {
    const { port } = other.address() as AddressInfo;
    const opened = await openPage(browser, `http://127.0.0.1:${port}/`);
    try {
      await opened.page.waitForFunction(
        (n) => (window as unknown as { settled: number }).settled >= n,
        STREAMS,
      );
      const events = await collectEvents(admin.url, '/api/v1/events', (e) => e.length >= 1, { ms: 5_000 });
      expect(events[0]?.event).toBe('hello');
    } finally {
      await opened.context.close();
    }
  });

  it('serves the dashboard its own requests', async () => {
    const dashboard = await openPage(browser, admin.url);
    try {
      await dashboard.page.waitForSelector('#status[data-state="live"]');
      expect(dashboard.errors).toEqual([]);
    } finally {
      await dashboard.context.close();
    }
  });
});
