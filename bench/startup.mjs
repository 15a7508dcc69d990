// What importing flexmux costs a fresh process: the time `import()` of an entry takes and the RSS
// it adds, medians over several processes, beside a process that imports nothing.
//
//   node bench/startup.mjs [--runs 9] [--entry dist/index.js] [--json FILE]
//
// Each run is a new `node` process (so nothing is cached in memory) that reports
// {ms, rssKiB} over stdout. Start-up is not one of issue 5's targets; it is here because `ws` used
// to be imported eagerly and cost about 45 ms of every import (docs/performance.md, "Start-up").
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { machineInfo } from './lib/relay-ipc.mjs';
import { median } from './lib/targets.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const { values: opt } = parseArgs({
  options: {
    runs: { type: 'string', default: '9' },
    entry: { type: 'string', default: 'dist/index.js' },
    json: { type: 'string' },
  },
});

function measure(entry) {
  const target = entry === null ? 'null' : JSON.stringify(pathToFileURL(path.resolve(repo, entry)).href);
  const script = `
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    const target = ${target};
    if (target !== null) await import(target);
    const ms = performance.now() - t0;
    console.log(JSON.stringify({ ms, rssKiB: (process.memoryUsage().rss - rss0) / 1024 }));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: repo,
    timeout: 30_000,
  });
  return JSON.parse(String(out));
}

const loadBefore = os.loadavg();
const runs = Number(opt.runs);
const rows = [];
for (const entry of [null, opt.entry]) {
  const samples = [];
  for (let i = 0; i < runs; i++) samples.push(measure(entry));
  const ms = median(samples.map((s) => s.ms));
  const rssKiB = median(samples.map((s) => s.rssKiB));
  rows.push({ entry: entry ?? '(nothing)', ms, rssKiB, samples });
}

console.log(`| import (${runs} processes each, medians) | ms | RSS added, KiB |`);
console.log('|---|--:|--:|');
for (const r of rows) console.log(`| ${r.entry} | ${r.ms.toFixed(1)} | ${r.rssKiB.toFixed(0)} |`);

const file =
  opt.json ?? path.join(here, 'results', `startup-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
fs.mkdirSync(path.dirname(file), { recursive: true });
fs.writeFileSync(file, `${JSON.stringify({ machine: machineInfo(loadBefore), runs, rows }, null, 2)}\n`);
console.log(`results in ${path.relative(process.cwd(), file)}`);
