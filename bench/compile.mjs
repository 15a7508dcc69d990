// How much optimising (TurboFan) compilation the shared harness's fresh processes do for one
// scenario: the harness's own lib/server.mjs and lib/client.mjs run with --trace-opt, and the
// compile jobs V8 reports are summed per process and per function (medians over the runs).
//
//   node bench/compile.mjs [S1] [--adapter FILE] [--runs 5] [--top 15] [--harness DIR]
//
// Deoptimisations are counted too (--trace-deopt): each one sends a function back to the
// interpreter and costs another compile job later. Early in a process many are expected (a
// branch first taken after the function was optimised: "Insufficient type feedback").
//
// On two cores those jobs run on V8's worker threads beside the two busy processes, so they are
// part of what a cold harness run costs (docs/performance.md, "Background compilation,
// counted"). Job times are wall time on the worker thread, so a loaded machine inflates them:
// compare adapters or builds in the same invocation, over several runs. Functions are named as
// V8 names them (no file), so `push` may be more than one function.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runScenario } from './lib/harness.mjs';
import { startWatchdog } from './lib/relay-ipc.mjs';
import { median } from './lib/targets.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    adapter: { type: 'string', default: path.join(here, 'adapters/flexmux.mjs') },
    runs: { type: 'string', default: '5' },
    top: { type: 'string', default: '15' },
    harness: { type: 'string', default: path.resolve(repo, '../shared/bench') },
  },
});
const scenario = positionals[0] ?? 'S1';
const runs = Number(opt.runs);

/**
 * `[completed compiling 0x... <JSFunction name (sfi = ...)> (target TURBOFAN) - took a, b, c ms]`.
 * An anonymous function is `<JSFunction (sfi = ...)>`: the name group is then empty (not "(sfi").
 */
const JOB =
  /completed (?:compiling|optimizing) .*?<JSFunction (.*?) ?\(sfi = .*?- took ([\d.]+), ([\d.]+), ([\d.]+) ms/;
/** `[bailout (kind: deopt-eager, reason: wrong map): begin. deoptimizing 0x..., <JSFunction name (sfi = ...` */
const DEOPT =
  /bailout \(kind: ([^,]+), reason: ([^)]+)\): begin\. deoptimizing .*?<JSFunction (.*?) ?\(sfi = /;

function collect(child) {
  let text = '';
  child.proc.stdout.setEncoding('utf8');
  child.proc.stdout.on('data', (d) => {
    text += d;
  });
  return () => {
    const perFunction = new Map();
    let jobs = 0;
    let ms = 0;
    const deopts = new Map();
    for (const line of text.split('\n')) {
      const d = DEOPT.exec(line);
      if (d !== null) {
        const key = `${d[3] || '(anonymous)'}: ${d[2]}`;
        deopts.set(key, (deopts.get(key) ?? 0) + 1);
        continue;
      }
      const m = JOB.exec(line);
      if (m === null) continue;
      const t = Number(m[2]) + Number(m[3]) + Number(m[4]);
      jobs++;
      ms += t;
      perFunction.set(m[1], (perFunction.get(m[1]) ?? 0) + t);
    }
    return { jobs, ms, perFunction, deopts };
  };
}

const total = (m) => [...m.values()].reduce((a, b) => a + b, 0);

async function once() {
  const jobs = {};
  const result = await runScenario({
    harness: opt.harness,
    adapter: opt.adapter,
    scenario,
    execArgv: () => ['--trace-opt', '--trace-deopt'],
    stdout: 'pipe',
    onFork: (child, side) => {
      jobs[side] = collect(child);
    },
  });
  return { result, server: jobs.server(), client: jobs.client() };
}

startWatchdog('compile.mjs', 120_000 * runs);
const results = [];
for (let i = 0; i < runs; i++) {
  const r = await once();
  results.push(r);
  console.log(
    `run ${i + 1}: ${JSON.stringify(r.result)} · server ${r.server.jobs} jobs ${r.server.ms.toFixed(0)} ms · ` +
      `client ${r.client.jobs} jobs ${r.client.ms.toFixed(0)} ms · deopts server ${total(r.server.deopts)} ` +
      `client ${total(r.client.deopts)}`,
  );
}

for (const side of ['server', 'client']) {
  const all = results.map((r) => r[side]);
  console.log(
    `\n${side}: median ${median(all.map((a) => a.jobs))} jobs, ${median(all.map((a) => a.ms)).toFixed(0)} ms of compile jobs`,
  );
  const names = new Set(all.flatMap((a) => [...a.perFunction.keys()]));
  const rows = [...names].map((n) => [n, median(all.map((a) => a.perFunction.get(n) ?? 0))]);
  rows.sort((a, b) => b[1] - a[1]);
  console.log('| function | median ms per run |\n|---|--:|');
  for (const [n, v] of rows.slice(0, Number(opt.top)))
    console.log(`| ${n || '(anonymous)'} | ${v.toFixed(1)} |`);
  const reasons = new Set(all.flatMap((a) => [...a.deopts.keys()]));
  const deopts = [...reasons]
    .map((k) => [k, median(all.map((a) => a.deopts.get(k) ?? 0))])
    .filter(([, v]) => v > 0);
  deopts.sort((a, b) => b[1] - a[1]);
  console.log(`\n${side}: median ${median(all.map((a) => total(a.deopts)))} deopts per run`);
  console.log('| function: reason | median per run |\n|---|--:|');
  for (const [k, v] of deopts.slice(0, Number(opt.top))) console.log(`| ${k} | ${v} |`);
}
