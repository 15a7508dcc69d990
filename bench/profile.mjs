// CPU profiles of flexmux under the shared harness's scenarios, and a self-time summary of them.
//
//   node bench/profile.mjs record S1 [--params JSON] [--out DIR] [--interval US] [--harness DIR]
//   node bench/profile.mjs report DIR_OR_FILES... [--top N]
//
// `record` runs the harness's own lib/server.mjs and lib/client.mjs (no npm install needed: they
// load only the adapter) with --cpu-prof, one scenario, and writes DIR/server/*.cpuprofile and
// DIR/client/*.cpuprofile (default DIR: bench/results/prof-<scenario>). The server is forked with an
// IPC channel so that disconnecting it makes it exit normally, which is when V8 writes the profile.
// `report` sums self time per function (mapped back to src/*.ts through dist's source maps) and per
// group (flexmux, node streams, net, GC, ...), per process.
import fs from 'node:fs';
import { SourceMap } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { HARNESS_PARAMS, runScenario } from './lib/harness.mjs';
import { startWatchdog } from './lib/relay-ipc.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    params: { type: 'string' },
    out: { type: 'string' },
    interval: { type: 'string', default: '250' },
    harness: { type: 'string', default: path.resolve(repo, '../shared/bench') },
    adapter: { type: 'string', default: path.join(here, 'adapters/flexmux.mjs') },
    top: { type: 'string', default: '15' },
  },
});

// ------------------------------------------------------------------ record

async function record(scenario) {
  const params = opt.params ?? JSON.stringify(HARNESS_PARAMS[scenario] ?? {});
  const out = path.resolve(opt.out ?? path.join(here, 'results', `prof-${scenario}`));
  for (const side of ['server', 'client']) fs.rmSync(path.join(out, side), { recursive: true, force: true });
  const flags = (side) => [
    '--cpu-prof',
    `--cpu-prof-dir=${path.join(out, side)}`,
    `--cpu-prof-interval=${opt.interval}`,
  ];
  startWatchdog('profile.mjs record', 90_000);
  const result = await runScenario({
    harness: opt.harness,
    adapter: opt.adapter,
    scenario,
    params,
    execArgv: flags,
  });
  console.log(`${scenario} ${JSON.stringify(result)}`);
  console.log(`profiles in ${path.relative(process.cwd(), out)}/{server,client}`);
}

// ------------------------------------------------------------------ report

function report(inputs) {
  const files = inputs.flatMap((p) =>
    fs.statSync(p).isDirectory()
      ? fs
          .readdirSync(p, { recursive: true })
          .filter((f) => String(f).endsWith('.cpuprofile'))
          .map((f) => path.join(p, String(f)))
      : [p],
  );
  if (files.length === 0) throw new Error('no .cpuprofile files found');
  for (const f of files.sort()) summarise(f, Number(opt.top));
}

const STARTUP = /^node:internal\/(modules|bootstrap|process\/pre_execution|main)/;
const STARTUP_LOC = { group: 'startup', file: '', name: '(start-up: module loading)' };

const maps = new Map();
function sourceMapFor(url) {
  if (!maps.has(url)) {
    let sm = null;
    try {
      const file = fileURLToPath(url);
      sm = new SourceMap(JSON.parse(fs.readFileSync(`${file}.map`, 'utf8')));
    } catch {}
    maps.set(url, sm);
  }
  return maps.get(url);
}

/** Where a sampled function lives, named for the reader: src/x.ts:line for our code. */
function locate(frame) {
  const { url, functionName, lineNumber, columnNumber } = frame;
  const fn = functionName || '(anonymous)';
  if (url.includes('/dist/') && url.startsWith('file:')) {
    const e = sourceMapFor(url)?.findEntry(lineNumber, columnNumber);
    const rel = url.slice(url.indexOf('/dist/') + 6);
    const src = e?.originalSource
      ? `src/${e.originalSource.split('/src/').pop()}`
      : `src/${rel.replace(/\.js$/, '.ts')}`;
    const line = e?.originalLine != null ? e.originalLine + 1 : lineNumber + 1;
    return { group: 'flexmux', file: src, name: `${fn} (${src}:${line})` };
  }
  if (url === '') {
    const special = /^\((garbage collector|idle|program|root)\)$/.test(fn);
    return { group: special ? fn : 'native', file: '', name: fn };
  }
  let group = 'other js';
  if (url.startsWith('node:internal/streams')) group = 'node streams';
  else if (/^node:(net|internal\/stream_base|internal\/net)/.test(url)) group = 'node net';
  else if (url.startsWith('node:')) group = 'node other';
  else if (/\/lib\/(scenarios|server|client|stream-util|protocol)\.mjs$/.test(url)) group = 'harness';
  const short = url.replace(/^file:\/\/.*\/(lib|bench)\//, '$1/');
  return { group, file: short, name: `${fn} (${short}:${lineNumber + 1})` };
}

function summarise(file, top) {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  // Everything below a module-loading frame is start-up cost (natives such as fstat included).
  const startup = new Set();
  const mark = (node, inStartup) => {
    const here = inStartup || STARTUP.test(node.callFrame.url);
    if (here) startup.add(node.id);
    for (const c of node.children ?? []) mark(byId.get(c), here);
  };
  mark(prof.nodes[0], false);
  const self = new Map();
  const { samples, timeDeltas } = prof;
  // timeDeltas[i + 1] is the time from sample i to the next one: that time belongs to sample i.
  // On a loaded machine a descheduled process shows up as one huge delta; cap each delta at 3x
  // the median sampling interval so that wall time spent off the CPU is not taken for self time.
  const sortedDeltas = Float64Array.from(timeDeltas).sort();
  const cap = 3 * sortedDeltas[sortedDeltas.length >> 1];
  for (let i = 0; i < samples.length; i++) {
    const us = i + 1 < timeDeltas.length ? Math.min(timeDeltas[i + 1], cap) : 0;
    self.set(samples[i], (self.get(samples[i]) ?? 0) + us);
  }
  const fns = new Map();
  const groups = new Map();
  const files = new Map();
  let total = 0;
  for (const [id, us] of self) {
    const loc = startup.has(id) ? STARTUP_LOC : locate(byId.get(id).callFrame);
    total += us;
    fns.set(loc.name, (fns.get(loc.name) ?? 0) + us);
    groups.set(loc.group, (groups.get(loc.group) ?? 0) + us);
    if (loc.group === 'flexmux') files.set(loc.file, (files.get(loc.file) ?? 0) + us);
  }
  const idle = groups.get('(idle)') ?? 0;
  const boot = groups.get('startup') ?? 0;
  const busy = total - idle - boot;
  const pct = (us) => `${((100 * us) / busy).toFixed(1)}%`;
  const ms = (us) => (us / 1000).toFixed(0);
  const sorted = (m) => [...m].sort((a, b) => b[1] - a[1]);
  console.log(`\n### ${path.relative(process.cwd(), file)}`);
  console.log(
    `\nsampled ${ms(total)} ms: idle ${ms(idle)} ms, start-up ${ms(boot)} ms, busy ${ms(busy)} ms ` +
      '(percentages are of busy time, which excludes idle and start-up)\n',
  );
  console.log('| group | self ms | % busy |\n|---|---:|---:|');
  for (const [g, us] of sorted(groups))
    if (g !== '(idle)' && g !== 'startup') console.log(`| ${g} | ${ms(us)} | ${pct(us)} |`);
  console.log('\n| flexmux file | self ms | % busy |\n|---|---:|---:|');
  for (const [f, us] of sorted(files)) console.log(`| ${f} | ${ms(us)} | ${pct(us)} |`);
  console.log(`\n| top ${top} functions (all code) | self ms | % busy |\n|---|---:|---:|`);
  for (const [n, us] of sorted(fns)
    .filter(([n]) => n !== '(idle)' && n !== STARTUP_LOC.name)
    .slice(0, top))
    console.log(`| ${n} | ${ms(us)} | ${pct(us)} |`);
  const ours = sorted(fns).filter(([n]) => / \(src\//.test(n));
  console.log(`\n| top ${top} flexmux functions | self ms | % busy |\n|---|---:|---:|`);
  for (const [n, us] of ours.slice(0, top)) console.log(`| ${n} | ${ms(us)} | ${pct(us)} |`);
}

// ------------------------------------------------------------------ main

const [cmd, ...rest] = positionals;
if (cmd === 'record') await record(rest[0]);
else if (cmd === 'report') report(rest);
else {
  console.error('usage: node bench/profile.mjs record <S1|S2|S3par|S4|S5> | report <dir|file>...');
  process.exit(2);
}
