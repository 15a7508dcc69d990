/**
 * What the admin dashboard costs the browser tab that shows it, on a switcher with N clients:
 * main-thread time per update and JS heap, read from Chromium's own counters (CDP
 * `Performance.getMetrics`), not from timers in the page.
 *
 * N raw nodes are admitted over memory transports; before every sample each moves 0 to 5 pings'
 * worth of bytes (so most rows change every second, as on a busy switcher). The admin server
 * listens on 127.0.0.1 with the default `sampleInterval`; /usr/bin/chromium (headless, 1280x900)
 * opens the dashboard, and once all N rows are in, the script reads the counters over
 * `--updates` updates:
 *
 * - task, script, layout, style: ms of the renderer's main thread per update (TaskDuration,
 *   ScriptDuration, LayoutDuration, RecalcStyleDuration deltas divided by the updates);
 * - heap: JSHeapUsedSize after a forced garbage collection; nodes: DOM nodes; canvases.
 *
 *   npx tsx scripts/dashboard-cost.ts [N] [--updates 20]
 */
import { type CDPSession, chromium, type Page } from 'playwright-core';
import { startAdmin } from '../src/admin/index.js';
import { Switcher } from '../src/switcher/switcher.js';
import { join, PASSWORD, type Raw } from '../test/unit/switcher/helpers.js';

const args = process.argv.slice(2);
const updatesAt = args.indexOf('--updates');
const updates = updatesAt >= 0 ? Number(args[updatesAt + 1]) : 20;
const n = Number(args.find((a, i) => !a.startsWith('--') && i !== updatesAt + 1) ?? 1_000);

const sw = new Switcher({ password: PASSWORD, maxClients: n + 10 });
const raws: Raw[] = [];
for (let i = 0; i < n; i += 500) {
  const batch: Promise<Raw>[] = [];
  for (let j = i; j < Math.min(n, i + 500); j++) batch.push(join(sw, `client-${String(j).padStart(4, '0')}`));
  raws.push(...(await Promise.all(batch)));
}

// Traffic: each client pings 0 to 5 times per second, from a fixed sequence.
let seed = 1;
const pings = (): number => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed % 6;
};
let moving = false;
const traffic = setInterval(() => {
  if (moving) return;
  moving = true;
  void Promise.all(
    raws.map(async (r) => {
      for (let k = pings(); k > 0; k--) await r.barrier(k);
    }),
  ).finally(() => {
    moving = false;
  });
}, 1000);

const admin = await startAdmin({ switcher: sw, host: '127.0.0.1', port: 0, token: 'cost' });
// The flags of the browser tests (test/browser/chromium.ts, which needs vitest to load).
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  headless: true,
});

/** Waits until the page has shown `count` updates (data-snapshots), polling 4 times a second. */
async function updatesShown(page: Page, count: number): Promise<number> {
  await page.waitForFunction((c) => Number(document.body.dataset.snapshots ?? 0) >= c, count, {
    polling: 250,
    timeout: 20_000 + 2_000 * updates,
  });
  return Number(await page.evaluate(() => document.body.dataset.snapshots));
}

async function metrics(cdp: CDPSession): Promise<Record<string, number>> {
  const { metrics: list } = await cdp.send('Performance.getMetrics');
  return Object.fromEntries(list.map((m) => [m.name, m.value]));
}

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${admin.url}#token=cost`);
  await page.waitForFunction((c) => document.getElementById('rows')?.dataset.rows === String(c), n, {
    polling: 250,
    timeout: 60_000,
  });
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  // Two updates to settle (rows and sparklines created), then the measured ones.
  const first = await updatesShown(
    page,
    Number(await page.evaluate(() => document.body.dataset.snapshots)) + 2,
  );
  const m0 = await metrics(cdp);
  const last = await updatesShown(page, first + updates);
  const m1 = await metrics(cdp);
  const seen = last - first;
  const per = (k: string): string => (((m1[k] - m0[k]) * 1000) / seen).toFixed(1);
  await cdp.send('HeapProfiler.collectGarbage');
  const m2 = await metrics(cdp);
  const canvases = await page.evaluate(() => document.querySelectorAll('#rows canvas').length);
  console.log(
    `${n} clients, ${seen} updates: per update task ${per('TaskDuration')} ms, script ${per('ScriptDuration')} ms, ` +
      `layout ${per('LayoutDuration')} ms, style ${per('RecalcStyleDuration')} ms; ` +
      `heap ${(m2.JSHeapUsedSize / 1e6).toFixed(1)} MB, nodes ${m2.Nodes}, row canvases ${canvases}`,
  );
  await context.close();
} finally {
  clearInterval(traffic);
  await browser.close();
  await admin.close();
  await sw.close({ timeout: 500 });
}
