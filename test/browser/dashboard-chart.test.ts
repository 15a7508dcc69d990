import type { Browser, BrowserContext, Page, Route } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type AdminServer, startAdmin } from '../../src/admin/index.js';
import { Switcher } from '../../src/switcher/index.js';
import { describeBrowser, launchChromium } from './chromium.js';

/**
 * The throughput chart's axes, at a 1280x800 window, fed a history chosen by the test: the page's
 * event stream is answered with a hello of that history (the info and the page come from a real
 * admin server). The tick labels are drawn on a canvas; the page leaves them, with the values
 * they stand for, in the chart element's `data-x-ticks` and `data-y-ticks` (axes.js, recordTicks).
 */

const TOKEN = 'chart-token';
/** 60 samples 1 s apart, starting off a whole second (as a sampler started at any time does). */
const START = Date.UTC(2026, 10, 27, 2, 25, 57, 372);

type Tick = [value: number, label: string];

function hello(values: readonly number[]): string {
  const t = values.map((_, i) => START + i * 1000);
  const snapshot = {
    t: t[t.length - 1],
    totals: {
      clients: 0,
      openStreams: 0,
      rateIn: 0,
      rateOut: 0,
      forwarded: 0,
      dropped: 0,
      spoofed: 0,
      refused: 0,
    },
    omitted: 0,
    clients: [],
  };
  const data = {
    mode: 'switcher',
    sampleInterval: 1000,
    history: { t, in: values, out: values.map((v) => v / 2) },
    itemTimes: [],
    itemHistory: {},
    snapshot,
  };
  return `retry: 2000\n\nevent: hello\ndata: ${JSON.stringify(data)}\n\n`;
}

describeBrowser('admin dashboard throughput chart axes in Chromium', () => {
  let sw: Switcher;
  let admin: AdminServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];
  /** The received rates the next event stream's hello carries. */
  let series: number[] = [];

  beforeAll(async () => {
    sw = new Switcher({ password: 'chart-secret' });
    admin = await startAdmin({ switcher: sw, port: 0, token: TOKEN });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    // The stream ends after its hello; the page reconnects a second later and gets it again.
    await context.route(
      (url) => url.pathname === '/api/v1/events',
      (route: Route) => route.fulfill({ status: 200, contentType: 'text/event-stream', body: hello(series) }),
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

  /** Loads the page with `values` as its history of received bytes/s; the ticks of `axis`. */
  async function ticks(values: number[], axis: 'xTicks' | 'yTicks'): Promise<Tick[]> {
    series = values;
    // A new document: a second goto to the same URL with its fragment would only move to it.
    await page.goto('about:blank');
    await page.goto(`${admin.url}#token=${TOKEN}`);
    const handle = await page.waitForFunction(
      ([n, key]) => {
        const el = document.getElementById('chart');
        return document.body.dataset.chartPoints === String(n) && el?.dataset[key];
      },
      [values.length, axis] as const,
    );
    return JSON.parse((await handle.jsonValue()) as string) as Tick[];
  }

  it('labels every y-axis tick differently, near zero traffic and at MiB/s alike', async () => {
    // Near zero, uPlot's own steps put ticks at 0.2, 0.4 ... bytes/s, printed in whole bytes:
    // "0 B/s" and "1 B/s" three times each.
    const cases: [name: string, values: number[]][] = [
      ['idle', Array.from({ length: 60 }, () => 0)],
      ['at most 2 B/s', Array.from({ length: 60 }, (_, i) => [0, 1, 2, 0.5, 1.5][i % 5])],
      ['a few hundred B/s', Array.from({ length: 60 }, (_, i) => 300 + (i % 7) * 90)],
      ['about 3 MiB/s', Array.from({ length: 60 }, (_, i) => 2.2e6 + (i % 4) * 3e5)],
    ];
    for (const [name, values] of cases) {
      const y = await ticks(values, 'yTicks');
      const labels = y.map(([, label]) => label);
      expect(labels.length, name).toBeGreaterThanOrEqual(2);
      expect(new Set(labels).size, `${name}: ${labels.join(', ')}`).toBe(labels.length);
      for (const [value, label] of y) {
        // Never a fraction of a byte; a label with at most two decimals and no trailing zero.
        expect(Number.isInteger(value), `${name}: ${value}`).toBe(true);
        expect(label, name).toMatch(/^(0|[1-9]\d*)(\.\d?[1-9])? (B|KiB|MiB)\/s$/);
      }
    }
    expect(pageErrors).toEqual([]);
  });

  it('puts time labels on whole seconds, or rounder times as the window grows, and few of them', async () => {
    // Every label ":SS", or "HH:MM:SS" for the first and where the minute changes; uPlot's own
    // steps labelled a few seconds every 250 ms (":26.250 :26.500 ...").
    for (const samples of [5, 60, 300]) {
      const x = await ticks(
        Array.from({ length: samples }, () => 100),
        'xTicks',
      );
      const at = x.map(([t]) => t);
      const labels = x.map(([, label]) => label);
      const what = `${samples} samples: ${labels.join(' ')}`;
      expect(labels.length, what).toBeGreaterThanOrEqual(samples === 5 ? 4 : 2);
      expect(labels.length, what).toBeLessThanOrEqual(12);
      for (const t of at) expect(t % 1000, what).toBe(0);
      // Evenly spaced, by a whole second or more.
      const step = at[1] - at[0];
      for (let i = 1; i < at.length; i++) expect(at[i] - at[i - 1], what).toBe(step);
      expect(labels[0], what).toMatch(/^\d\d:\d\d:\d\d$/);
      for (let i = 0; i < x.length; i++) {
        const [t, label] = x[i];
        const seconds = String(new Date(t).getUTCSeconds()).padStart(2, '0');
        expect(label.endsWith(`:${seconds}`), what).toBe(true);
        const minuteChanged = i === 0 || Math.floor(t / 60_000) !== Math.floor(at[i - 1] / 60_000);
        expect(label, what).toMatch(minuteChanged ? /^\d\d:\d\d:\d\d$/ : /^:\d\d$/);
      }
    }
    expect(pageErrors).toEqual([]);
  });
});
