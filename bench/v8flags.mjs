// One shared-harness scenario in fresh processes (as the harness runs it), with sets of V8 flags
// given to both processes, runs alternating between the sets so that every set sees the same
// machine. For questions such as "how much of a cold run is the optimising compiler?":
//
//   node bench/v8flags.mjs S1 --variant "" --variant "--no-opt" [--runs 7] [--adapter FILE]
//
// Each --variant is one set of flags, split on spaces ("" is V8's defaults). Prints the median
// and every run per set, and how many runs of each set beat the first set's run of the same
// round. The flags are a diagnostic: flexmux asks no V8 flag of its users.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runScenario } from './lib/harness.mjs';
import { startWatchdog } from './lib/relay-ipc.mjs';
import { median } from './lib/targets.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
// `--variant "--no-opt"`: parseArgs refuses a value that starts with a dash unless it is written
// `--variant=--no-opt`, so the argument after a bare --variant is joined to it here.
const args = process.argv.slice(2);
for (let i = 0; i < args.length - 1; i++) {
  if (args[i] === '--variant') args.splice(i, 2, `--variant=${args[i + 1]}`);
}
const { values: opt, positionals } = parseArgs({
  args,
  allowPositionals: true,
  options: {
    variant: { type: 'string', multiple: true, default: ['', '--no-opt'] },
    runs: { type: 'string', default: '7' },
    adapter: { type: 'string', default: path.join(here, 'adapters/flexmux.mjs') },
    harness: { type: 'string', default: path.resolve(repo, '../shared/bench') },
  },
});
const scenario = positionals[0] ?? 'S1';
const runs = Number(opt.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs wants a positive integer');
const variants = opt.variant.map((v) => v.split(' ').filter((f) => f !== ''));

/** The scenario's headline number: MB/s, streams/s or the p99 of a latency scenario (lower wins). */
const headline = (r) => r.mbps ?? r.rate ?? r.p99;
const better = (r) => (r.mbps !== undefined || r.rate !== undefined ? (a, b) => a > b : (a, b) => a < b);
let beats;

startWatchdog('v8flags.mjs', 60_000 * runs * variants.length);
const results = variants.map(() => []);
for (let i = 0; i < runs; i++) {
  for (let v = 0; v < variants.length; v++) {
    const r = await runScenario({
      harness: opt.harness,
      adapter: opt.adapter,
      scenario,
      execArgv: () => variants[v],
    });
    results[v].push(headline(r));
    beats ??= better(r);
    console.error(`round ${i + 1} ${JSON.stringify(variants[v])}: ${JSON.stringify(r)}`);
  }
}
console.log(`${scenario}, ${runs} rounds, ${new Date().toISOString()}, Node ${process.version}`);
console.log('| flags | median | beats the first set | runs |\n|---|--:|--:|---|');
variants.forEach((flags, v) => {
  const wins = results[v].filter((x, i) => beats(x, results[0][i])).length;
  const shown = results[v].map((x) => Math.round(x).toLocaleString('en-US')).join(', ');
  console.log(
    `| ${flags.join(' ') || '(defaults)'} | ${Math.round(median(results[v])).toLocaleString('en-US')} | ${v === 0 ? '—' : `${wins} of ${runs}`} | ${shown} |`,
  );
});
