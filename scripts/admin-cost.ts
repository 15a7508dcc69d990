/**
 * What the switcher admin's periodic work costs with many clients: one sample (`tick`, every
 * `sampleInterval`), one dashboard snapshot (`snapshot`, pushed after every sample while a
 * dashboard is open), the dashboard's first message (`hello`), the client list of
 * `GET /api/v1/clients` and a Prometheus scrape. N raw nodes are admitted over memory transports
 * and each pings the switcher once (so every client has byte and frame counts); no HTTP server.
 * Times are warm: the best of `--runs` calls after as many unmeasured ones; they leave out the
 * JSON.stringify that sends each result, which this script does not change.
 *
 *   npx tsx scripts/admin-cost.ts [N...] [--runs 15]
 */
import { performance } from 'node:perf_hooks';
import { validateAdminOptions } from '../src/admin/config.js';
import { createRegistry } from '../src/admin/metrics.js';
import { SwitcherPanel } from '../src/admin/switcher-panel.js';
import { Switcher } from '../src/switcher/switcher.js';
import { now } from '../src/util/timers.js';
import { join, PASSWORD, type Raw } from '../test/unit/switcher/helpers.js';

const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 15;
const sizes = args.filter((a, i) => !a.startsWith('--') && (runsAt < 0 || i !== runsAt + 1)).map(Number);

/** Best (lowest) ms of `runs` calls of `f`, after `runs` warm-up calls. */
async function best(f: () => unknown): Promise<number> {
  let min = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 2 * runs; i++) {
    const t0 = performance.now();
    await f();
    const ms = performance.now() - t0;
    if (i >= runs) min = Math.min(min, ms);
  }
  return min;
}

async function measure(n: number): Promise<void> {
  const sw = new Switcher({ password: PASSWORD, maxClients: n + 10 });
  const raws: Raw[] = [];
  // Batches: admissions all at once would queue n sealed requests behind each other.
  for (let i = 0; i < n; i += 500) {
    const batch: Promise<Raw>[] = [];
    for (let j = i; j < Math.min(n, i + 500); j++) batch.push(join(sw, `c${j}`));
    raws.push(...(await Promise.all(batch)));
  }
  await Promise.all(raws.map((r) => r.barrier()));
  const o = validateAdminOptions({ switcher: sw });
  const registry = createRegistry('switcher', false);
  const panel = new SwitcherPanel(sw, o, registry);
  // Rates need two samples; the clock moves 1 s per tick as the server's would.
  let mono = now();
  const tick = () => {
    mono += 1000;
    panel.tick(mono, Date.now());
  };
  tick();
  const ms = {
    tick: await best(tick),
    snapshot: await best(() => panel.snapshot()),
    hello: await best(() => panel.hello()),
    list: await best(() => panel.view.clients()),
    scrape: await best(() => registry.metrics()),
  };
  const fmt = Object.entries(ms)
    .map(([k, v]) => `${k} ${v.toFixed(2)} ms`)
    .join(', ');
  console.log(`${n} clients (snapshot limit ${o.maxSnapshotItems}): ${fmt}`);
  panel.close();
  await sw.close({ timeout: 200 });
}

for (const n of sizes.length > 0 ? sizes : [1_000, 10_000]) await measure(n);
