// Issue 5's targets, checked against one shared-harness JSON (bench/run-shared.sh writes it).
// The issue asks for "medians over several runs, each ratio taken within one run": the harness
// interleaves its runs (run 1 of every row, then run 2, ...), so run i of flexmux and run i of the
// anchor ran minutes apart at most. Each ratio is taken between those two runs, and the median of
// the per-run ratios is what is compared with the target. On a noisy VM this is steadier than the
// ratio of two medians, whose runs may come from different phases of the machine.

const KIB = 1024;

/**
 * Each target: which cells it reads, how one run's value is computed from them (null when a
 * cell's run is missing or failed), and the bound.
 */
const TARGETS = [
  {
    name: 'S1 one stream ÷ raw TCP',
    cells: [
      ['flexmux', 'S1'],
      ['tcp', 'S1'],
    ],
    value: ([f, t]) => f.mbps / t.mbps,
    op: '≥',
    bound: 0.75,
  },
  {
    name: 'S1 one stream ÷ libp2p-yamux',
    cells: [
      ['flexmux', 'S1'],
      ['yamux', 'S1'],
    ],
    value: ([f, y]) => f.mbps / y.mbps,
    op: '≥',
    bound: 1.3,
  },
  {
    name: 'S2 64 streams ÷ http2-tuned',
    cells: [
      ['flexmux', 'S2'],
      ['http2-tuned', 'S2'],
    ],
    value: ([f, h]) => f.mbps / h.mbps,
    op: '≥',
    bound: 1.2,
  },
  {
    name: 'S5 ping p99 under bulk ÷ S4 idle p99',
    cells: [
      ['flexmux', 'S5'],
      ['flexmux', 'S4'],
    ],
    value: ([load, idle]) => load.p99 / idle.p99,
    op: '≤',
    bound: 3,
  },
  {
    name: 'S5 bulk beside the pings, MB/s',
    cells: [['flexmux', 'S5']],
    value: ([load]) => load.bulkMBps,
    op: '≥',
    bound: 1000,
  },
  {
    name: 'S3par open+echo+close /s, 32 in flight',
    cells: [['flexmux', 'S3par']],
    value: ([m]) => m.rate,
    op: '≥',
    bound: 15_000,
  },
  perIdleStream('heap', 'clientHeapPerStream', 'serverHeapPerStream'),
  perIdleStream('RSS', 'clientRssPerStream', 'serverRssPerStream'),
];

/** S6's memory per idle stream: the larger of the two sides against the bound, both shown. */
function perIdleStream(what, client, server) {
  return {
    name: `S6 ${what} per idle stream, client / server, B`,
    cells: [['flexmux', 'S6']],
    value: ([m]) => Math.max(m[client], m[server]),
    op: '≤',
    bound: 2 * KIB,
    show: ([m]) => `${fmt(m[client])} / ${fmt(m[server])}`,
  };
}

/** Median of numbers (the mean of the middle two for an even count); NaN when empty. */
export function median(xs) {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >>> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function fmt(x) {
  if (!Number.isFinite(x)) return '–';
  if (Math.abs(x) >= 100) return Math.round(x).toLocaleString('en-US');
  return x.toFixed(2);
}

/** Run i's metrics of one cell, or null when that run is missing or failed. */
function runOf(results, [adapter, scenario], i) {
  const run = results?.[adapter]?.[scenario]?.runs?.[i];
  return run?.ok ? run.metrics : null;
}

/**
 * Evaluates every target whose cells are all in the JSON. Returns one row per target: the
 * per-run values (null where a run of one of its cells is missing), their median and whether
 * the median meets the bound.
 * @param {{ results: Record<string, Record<string, { runs?: { ok: boolean, metrics: object }[] }>> }} json
 */
export function evaluateTargets(json) {
  const rows = [];
  for (const t of TARGETS) {
    const counts = t.cells.map(([a, s]) => json.results?.[a]?.[s]?.runs?.length ?? 0);
    const n = Math.max(...counts);
    if (counts.some((c) => c === 0)) continue;
    const perRun = [];
    const shown = [];
    for (let i = 0; i < n; i++) {
      const metrics = t.cells.map((cell) => runOf(json.results, cell, i));
      if (metrics.some((m) => m === null)) {
        perRun.push(null);
        shown.push('–');
        continue;
      }
      const v = t.value(metrics);
      perRun.push(Number.isFinite(v) ? v : null);
      shown.push(t.show ? t.show(metrics) : fmt(v));
    }
    const values = perRun.filter((v) => v !== null);
    const med = median(values);
    const met = values.length > 0 && (t.op === '≥' ? med >= t.bound : med <= t.bound);
    rows.push({ name: t.name, op: t.op, bound: t.bound, perRun, shown, median: med, met });
  }
  return rows;
}

/** The rows as a markdown table. */
export function renderTargets(rows) {
  const out = ['| target | per run (within-run ratio or value) | median | met |', '|---|---|--:|---|'];
  for (const r of rows) {
    out.push(
      `| ${r.name} ${r.op} ${fmt(r.bound)} | ${r.shown.join(', ')} | ${fmt(r.median)} | ${r.met ? 'yes' : 'no'} |`,
    );
  }
  return out.join('\n');
}
