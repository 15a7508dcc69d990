// How much of a shared-harness result is the first second of a process's life.
//
//   node bench/warmup.mjs [--scenario S5] [--adapters flexmux,tcp] [--clients 4] [--rounds 3]
//                         [--warm-client] [--params JSON] [--server-flags=--no-opt] [--harness DIR]
//
// The harness (../shared/bench) starts a fresh server and a fresh client process for every run,
// and its scenarios are short: S5's pings, for one, last 0.3-0.7 s for flexmux, starting half a
// second after the client connects. V8 optimises hot functions on a background thread, which on
// a 2-core machine competes with the two busy processes, so those runs measure code that is
// still partly unoptimised. This tool starts one harness server per adapter and round, then runs
// `--clients` harness clients against it one after another: client 1 meets a cold server (what
// the harness measures), the later ones a warm server (each client itself is always fresh).
// With --warm-client, one client process (lib/harness-client.mjs, running the harness's own
// scenario code) makes all `--clients` runs in turn, each on a new connection: run 1 is cold on
// both sides, the later runs warm on both.
// Adapters and rounds alternate, so all rows see the same machine. `flexmux` means our adapter;
// other names are the harness's own (`tcp` needs no npm install; others need `--harness` pointing
// to a copy with node_modules). Results: medians over rounds per client position, and raw JSON in
// bench/results/.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { HARNESS_PARAMS } from './lib/harness.mjs';
import { forkChild, stopChildren } from './lib/relay-ipc.mjs';
import { median } from './lib/targets.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');

const { values: opt } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'S5' },
    adapters: { type: 'string', default: 'flexmux,tcp' },
    clients: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '3' },
    'warm-client': { type: 'boolean', default: false },
    params: { type: 'string' },
    'server-flags': { type: 'string', default: '' },
    harness: { type: 'string', default: path.resolve(repo, '../shared/bench') },
  },
});

const METRICS = {
  S1: ['mbps'],
  S2: ['mbps'],
  S3par: ['rate'],
  S4: ['p50', 'p99'],
  S5: ['p50', 'p99', 'bulkMBps'],
};
const scenario = opt.scenario;
const metrics = METRICS[scenario];
if (!metrics) throw new Error(`scenario must be one of ${Object.keys(METRICS).join(', ')}`);
const params = opt.params ?? JSON.stringify(HARNESS_PARAMS[scenario]);
const clients = Number(opt.clients);
const rounds = Number(opt.rounds);
const adapterFile = (name) => (name === 'flexmux' ? path.join(here, 'adapters/flexmux.mjs') : name);
const adapters = opt.adapters.split(',');
const serverFlags = opt['server-flags'].split(' ').filter(Boolean); // besides --expose-gc
const warmClient = opt['warm-client'];

const harnessLib = (file) => path.join(opt.harness, 'lib', file);

/**
 * One harness server, then `clients` runs against it in turn: a fresh harness client per run,
 * or one of ours that makes every run (--warm-client). Returns the results in order.
 */
async function serverLife(adapter) {
  const file = adapterFile(adapter);
  const server = forkChild(harnessLib('server.mjs'), [file], `${adapter} server`, serverFlags);
  try {
    const { port } = await server.ready(10_000);
    const args = [file, scenario, port, params];
    const spawn = () =>
      warmClient
        ? forkChild(
            path.join(here, 'lib/harness-client.mjs'),
            [opt.harness, ...args, clients],
            `${adapter} client`,
          )
        : forkChild(harnessLib('client.mjs'), args, `${adapter} client`);
    const results = [];
    let client = null;
    for (let k = 0; k < clients; k++) {
      if (client === null || !warmClient) client = spawn();
      results.push((await client.next('result', 90_000)).result);
      if (!warmClient) await client.exited();
    }
    await client?.exited();
    return results;
  } finally {
    await stopChildren(3000);
  }
}

const t0 = Date.now();
const load0 = os.loadavg();
const runs = Object.fromEntries(adapters.map((a) => [a, []]));
for (let r = 0; r < rounds; r++) {
  for (const a of adapters) {
    const results = await serverLife(a);
    runs[a].push(results);
    const brief = results.map((x) => metrics.map((m) => Math.round(x[m])).join('/')).join('  ');
    console.error(`round ${r + 1} ${a.padEnd(8)} ${metrics.join('/')} by client: ${brief}`);
  }
}

const fmt = (v) => Math.round(v).toLocaleString('en-US');
const lines = [
  `bench/warmup.mjs · ${scenario} ${params} · ${rounds} round(s) × ${clients} clients per server · ` +
    `${warmClient ? 'one client process for all runs' : 'a fresh client process per run'} · ` +
    `server flags: ${['--expose-gc', ...serverFlags].join(' ')} · ${new Date(t0).toISOString()} · ` +
    `${Math.round((Date.now() - t0) / 1000)} s · Node ${process.version} · ${os.cpus().length} × ` +
    `"${os.cpus()[0]?.model.trim()}" · load average before ${load0.map((x) => x.toFixed(2)).join(' ')}`,
  '',
  `| adapter | ${warmClient ? 'run' : 'client'} | ${metrics.join(' | ')} |`,
  `|---|---|${metrics.map(() => '--:').join('|')}|`,
];
for (const a of adapters) {
  for (let k = 0; k < clients; k++) {
    const cells = metrics.map((m) => fmt(median(runs[a].map((life) => life[k][m]))));
    const who = warmClient
      ? k === 0
        ? '1 (cold client and server)'
        : `${k + 1} (warm client and server)`
      : k === 0
        ? '1 (cold server)'
        : `${k + 1} (warm server)`;
    lines.push(`| ${a} | ${who} | ${cells.join(' | ')} |`);
  }
}
console.log(lines.join('\n'));
const out = path.join(
  here,
  'results',
  `warmup-${scenario}-${new Date(t0).toISOString().replace(/[:.]/g, '-')}.json`,
);
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify({ scenario, params: JSON.parse(params), serverFlags, runs }, null, 2));
console.log(`\nraw results: ${path.relative(process.cwd(), out)}`);
