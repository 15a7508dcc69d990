import type { Browser, BrowserContext, Page, Route } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type AdminServer, startAdmin } from '../../src/admin/index.js';
import { Switcher } from '../../src/switcher/index.js';
import { describeBrowser, launchChromium } from './chromium.js';

/**
 * The rows' sparklines share one scale. Each used to be scaled to its own maximum: a client
 * pinging at 11 B/s drew a zigzag as tall as one moving 30 KiB/s. The page's event stream is
 * answered with a hello of two such clients (the info and the page come from a real admin server),
 * and the test reads where each row's canvas has ink.
 */

const TOKEN = 'spark-token';
const START = Date.UTC(2026, 10, 27, 2, 25, 57, 0);
const SAMPLES = 60;
/** SPARK_H in static/table.js; its plot spans rows 2 to 26 (padding 2 above and below). */
const SPARK_H = 28;

function client(id: number, domain: string, rate: number) {
  return {
    id,
    domain,
    ip: id,
    remoteAddress: `127.0.0.1:${40000 + id}`,
    connectedAt: new Date(START).toISOString(),
    streams: 0,
    streamsOpened: 0,
    bytesIn: 0,
    bytesOut: 0,
    rateIn: rate,
    rateOut: 0,
    framesIn: 0,
    framesOut: 0,
    framesByCmd: {},
    queuedBytes: 0,
    paused: false,
    dropped: 0,
    spoofed: 0,
    rttMs: 1,
  };
}

function hello(): string {
  const t = Array.from({ length: SAMPLES }, (_, i) => START + i * 1000);
  // busy moves 25 to 35 KiB/s; idle pings, 11 B/s every other second.
  const busy = t.map((_, i) => (25 + (i % 11)) * 1024);
  const idle = t.map((_, i) => (i % 2) * 11);
  const zero = t.map(() => 0);
  const snapshot = {
    t: t[SAMPLES - 1],
    totals: {
      clients: 2,
      openStreams: 0,
      rateIn: 0,
      rateOut: 0,
      forwarded: 0,
      dropped: 0,
      spoofed: 0,
      refused: 0,
    },
    omitted: 0,
    clients: [client(1, 'busy', busy[SAMPLES - 1]), client(2, 'idle', idle[SAMPLES - 1])],
  };
  const data = {
    mode: 'switcher',
    sampleInterval: 1000,
    history: { t, in: zero, out: zero },
    itemTimes: t,
    itemHistory: { 1: { in: busy, out: zero }, 2: { in: idle, out: zero } },
    snapshot,
  };
  return `retry: 2000\n\nevent: hello\ndata: ${JSON.stringify(data)}\n\n`;
}

describeBrowser('admin dashboard sparklines in Chromium', () => {
  let sw: Switcher;
  let admin: AdminServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    sw = new Switcher({ password: 'spark-secret' });
    admin = await startAdmin({ switcher: sw, port: 0, token: TOKEN });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.route(
      (url) => url.pathname === '/api/v1/events',
      (route: Route) => route.fulfill({ status: 200, contentType: 'text/event-stream', body: hello() }),
    );
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await admin?.close();
    await sw?.close({ timeout: 1_000 });
  });

  /** The topmost row of `name`'s sparkline with ink, in CSS pixels, once it has any. */
  async function inkTop(name: string): Promise<number> {
    const handle = await page.waitForFunction((n) => {
      const c = document.querySelector(`#rows tr[data-name="${n}"] canvas`) as HTMLCanvasElement | null;
      const d = c?.getContext('2d')?.getImageData(0, 0, c.width, c.height).data;
      if (!c || !d) return null;
      for (let i = 3; i < d.length; i += 4) {
        if (d[i] !== 0) return Math.floor((i - 3) / 4 / c.width) / (c.height / c.clientHeight || 1);
      }
      return null;
    }, name);
    return (await handle.jsonValue()) as number;
  }

  it('draws every row to one scale, and a row of pings flat', async () => {
    await page.goto(`${admin.url}#token=${TOKEN}`);
    await page.locator('#rows tr[data-name="idle"]').waitFor();
    // busy reaches the top of its plot; idle's 11 B/s is a flat line on the bottom.
    expect(await inkTop('busy')).toBeLessThan(6);
    expect(await inkTop('idle')).toBeGreaterThan(SPARK_H - 6);
    // The scale is the busiest row's peak: 35 KiB/s.
    expect(await page.locator('#rows').getAttribute('data-spark-top')).toBe(String(35 * 1024));
    // Alone in the table, idle still draws flat: the scale reaches 1 KiB/s at least.
    await page.locator('#filter').fill('idle');
    await page.waitForFunction(() => document.getElementById('rows')?.dataset.sparkTop === '1024');
    await page.locator('#rows tr[data-name="busy"]').waitFor({ state: 'detached' });
    expect(await inkTop('idle')).toBeGreaterThan(SPARK_H - 6);
    expect(pageErrors).toEqual([]);
  });
});
