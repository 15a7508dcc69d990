// One switcher, many nodes, many streams: `node bench/scale.mjs` (after `npm run build`; about
// 30-60 s, hard limit 170 s). Forks lib/relay-switcher.mjs (the switcher, on loopback TCP) and
// `--processes` (4) client processes, lib/relay-scale-nodes.mjs, that connect `--nodes` (1,000)
// sessions between them. Each node serves an echo on virtual port 7 and opens `--streams` (10)
// streams to echo services of nodes in other client processes, all dials at once; with every
// stream open, `--rounds` (5) rounds of 64-byte pings go through all of them at once. Then the
// streams close and the nodes leave. The switcher reports its RSS and JS heap after gc() at each
// step over IPC: per-node and per-stream memory, and whether it returns when they are gone.
// Records time to connect and to open, fds in use, every error; prints a markdown table and
// writes JSON to bench/results/. `--quick`: 200 nodes × 10 streams. `--cycles 2` opens, pings and
// closes the streams twice between the same pairs of nodes, to tell memory kept per pair of nodes
// from memory leaked per stream; `--new-pairs` makes every cycle dial different nodes instead.
// `--heap-diff`: the switcher writes a heap snapshot with the nodes connected and none of their
// streams opened yet, and one after each cycle's close; what each of the latter holds beyond the
// first, per connected node and by constructor, is printed (snapshots in a temp dir, deleted;
// `--heap-dir DIR` keeps them there instead).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from './lib/direct-proto.mjs';
import { byType, diff } from './lib/heap-diff.mjs';
import {
  forkChild,
  killChildren,
  latency,
  listenDrops,
  machineInfo,
  openFileLimit,
  startWatchdog,
} from './lib/relay-ipc.mjs';
import { renderScaleTable } from './lib/relay-report.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const quick = process.argv.includes('--quick');
// --switcher-flags "FLAGS": V8/Node flags for the switcher process only, space-separated (e.g.
// "--max-semi-space-size=1": how much of the switcher's memory per stream is V8's young generation).
const flagsAt = process.argv.indexOf('--switcher-flags');
const switcherFlags = flagsAt < 0 ? [] : (process.argv[flagsAt + 1] ?? '').split(' ').filter(Boolean);
const P = {
  nodes: arg('nodes', quick ? 200 : 1000),
  processes: arg('processes', 4),
  streamsPerNode: arg('streams', 10),
  rounds: arg('rounds', 5),
  cycles: arg('cycles', 1),
  newPairs: process.argv.includes('--new-pairs'),
  heapDiff: process.argv.includes('--heap-diff'),
  pingSize: 64,
};
if (P.nodes % P.processes !== 0) throw new Error('--nodes must be a multiple of --processes');
const WATCHDOG_MS = 170_000;
const PASSWORD = 'bench-scale';

// Switcher-side limits this load meets are raised, and only those (see bench/README.md):
// - the TCP accept queue: Node's default backlog of 511 drops SYNs when 1,000 nodes connect at
//   once, and each drop costs a 1 s retransmit (a kernel queue, not a flexmux bound);
// - maxPendingAdmissions (default 1,024): every node may be in admission at the same moment, so
//   1,000 nodes come within 24 of it and `--nodes` above it would be refused.
// Node defaults all hold: a node has 10 dialed and about 10 accepted streams (maxStreams
// 16,384, maxPendingDials 4,096, backlog 32 with a 'stream' handler that takes every stream).
// `--default-limits` keeps both defaults, to see what they do.
const defaultLimits = process.argv.includes('--default-limits');
const switcherOptions = defaultLimits
  ? { password: PASSWORD }
  : { password: PASSWORD, maxPendingAdmissions: Math.max(1024, 2 * P.nodes) };
const listenBacklog = defaultLimits ? undefined : Math.max(511, 2 * P.nodes);
const nodeOptions = { heartbeatInterval: 0 };
const settings =
  `switcher: listen backlog ${listenBacklog ?? 'default'} (Node default 511), maxPendingAdmissions ` +
  `${switcherOptions.maxPendingAdmissions ?? 'default'} (default 1024), everything else default; nodes: ` +
  'heartbeatInterval 0 (default 15 s, off so idle sessions add no traffic), everything else default ' +
  '(maxStreams 16384, maxPendingDials 4096, backlog 32, window 2 MiB).' +
  (switcherFlags.length > 0 ? ` Switcher process flags: ${switcherFlags.join(' ')}.` : '');

// A TCP connection takes one fd in the switcher and one in a client process; each process also
// holds a few dozen of its own (IPC, epoll, stdio, libuv). The limit is per process; Node raises
// its soft limit to the hard one at start-up, so `ulimit -Hn` is what counts (read here from /proc).
const fdLimit = openFileLimit();
const perProcessNeed = { switcher: P.nodes + 64, client: P.nodes / P.processes + 64 };
if (fdLimit !== null && fdLimit < perProcessNeed.switcher) {
  console.error(
    `scale.mjs: the open-file limit is ${fdLimit}, the switcher needs about ${perProcessNeed.switcher} ` +
      `for ${P.nodes} nodes: raise it (ulimit -n ${2 * perProcessNeed.switcher}, the hard limit) or pass a smaller --nodes`,
  );
  process.exit(2);
}

startWatchdog('scale.mjs', WATCHDOG_MS);
const loadBefore = os.loadavg();
const t0run = Date.now();
const log = (...a) => console.error(`[${((Date.now() - t0run) / 1000).toFixed(1)} s]`, ...a);

// ------------------------------------------------------------------ processes

const switcher = forkChild(
  path.join(here, 'lib/relay-switcher.mjs'),
  [JSON.stringify({ switcher: switcherOptions, listenBacklog })],
  'switcher',
  switcherFlags,
);
const { port } = await switcher.ready();
const url = `tcp://127.0.0.1:${port}`;
const per = P.nodes / P.processes;
const clients = Array.from({ length: P.processes }, (_, k) =>
  forkChild(
    path.join(here, 'lib/relay-scale-nodes.mjs'),
    [
      JSON.stringify({
        url,
        password: PASSWORD,
        first: k * per,
        count: per,
        nodes: P.nodes,
        processes: P.processes,
        perNode: P.streamsPerNode,
        pingSize: P.pingSize,
        nodeOptions,
      }),
    ],
    `client${k}`,
  ),
);
await Promise.all(clients.map((c) => c.ready()));

const all = (type, body, ms) => Promise.all(clients.map((c) => c.request(type, body, ms)));
const span = (replies) => Math.max(...replies.map((r) => r.last)) - Math.min(...replies.map((r) => r.t0));

/** Switcher and client memory after gc, with the switcher's own view of clients and streams. */
async function snapshot(label) {
  await sleep(200);
  const [sw, cl] = await Promise.all([
    switcher.request('report', { gc: true, clients: true }),
    all('report', { gc: true }),
  ]);
  const sum = (k) => cl.reduce((a, r) => a + r[k], 0);
  const snap = {
    label,
    loadavg1: Number(os.loadavg()[0].toFixed(2)),
    switcher: {
      rss: sw.rss,
      heapUsed: sw.heapUsed,
      heapTotal: sw.heapTotal,
      arrayBuffers: sw.arrayBuffers,
      external: sw.external,
      cpu: sw.cpu,
      fds: sw.fds,
      clients: sw.stats.clients,
      streamEnds: sw.clients.streamEnds,
      queuedBytes: sw.clients.queuedBytes,
      paused: sw.clients.paused,
    },
    clients: {
      rss: sum('rss'),
      heapUsed: sum('heapUsed'),
      fds: sum('fds'),
      cpu: sum('cpu'),
      ready: sum('ready'),
      dialed: sum('dialed'),
      accepted: sum('accepted'),
    },
    stats: sw.stats,
    events: sw.events,
  };
  log(
    `${label.padEnd(14)} switcher rss ${(snap.switcher.rss / 2 ** 20).toFixed(1)} MiB heap ` +
      `${(snap.switcher.heapUsed / 2 ** 20).toFixed(1)} MiB clients ${snap.switcher.clients} stream ends ` +
      `${snap.switcher.streamEnds} fds ${snap.switcher.fds}; client procs rss ` +
      `${(snap.clients.rss / 2 ** 20).toFixed(1)} MiB ready ${snap.clients.ready} dialed ${snap.clients.dialed} ` +
      `accepted ${snap.clients.accepted}`,
  );
  return snap;
}

// ------------------------------------------------------------------ the run

const snaps = [];
const steps = { cycles: [] };
snaps.push(await snapshot('before'));

log(`connecting ${P.nodes} nodes`);
const drops0 = listenDrops();
steps.connect = await all('connect', {}, 90_000);
const drops1 = listenDrops();
snaps.push(await snapshot('nodes'));
const heapDirAt = process.argv.indexOf('--heap-dir');
const keepHeap = heapDirAt >= 0 ? process.argv[heapDirAt + 1] : undefined;
if (keepHeap !== undefined) fs.mkdirSync(keepHeap, { recursive: true });
const heapDir = !P.heapDiff ? null : (keepHeap ?? fs.mkdtempSync(path.join(os.tmpdir(), 'scale-heap-')));
const heapFile = async (label) =>
  (await switcher.request('heapSnapshot', { file: path.join(heapDir, `${label}.heapsnapshot`) }, 60_000))
    .file;
const heapNodes = heapDir === null ? null : byType(await heapFile('nodes'), { named: true });
const heapDiffs = [];

for (let c = 1; c <= P.cycles; c++) {
  const step = {};
  log(`cycle ${c}: opening ${P.nodes * P.streamsPerNode} streams`);
  step.open = await all('open', { shift: P.newPairs ? c - 1 : 0 }, 90_000);
  snaps.push(await snapshot(`streams#${c}`));
  log(`cycle ${c}: ${P.rounds} rounds of ${P.pingSize} B pings through every stream`);
  step.ping = await all('ping', { rounds: P.rounds }, 90_000);
  snaps.push(await snapshot(`pinged#${c}`));
  log(`cycle ${c}: closing the streams`);
  step.close = await all('closeStreams', {}, 60_000);
  snaps.push(await snapshot(`closed#${c}`));
  if (heapNodes !== null) {
    const file = await heapFile(`closed-${c}`);
    heapDiffs.push({
      cycle: c,
      rows: diff(heapNodes, byType(file, { named: true }), snaps[1].switcher.clients),
    });
    if (keepHeap === undefined) fs.rmSync(file);
  }
  steps.cycles.push(step);
}

log('closing the sessions');
await all('closeSessions', {}, 30_000);
for (let t = Date.now(); Date.now() - t < 10_000; ) {
  const r = await switcher.request('report');
  if (r.stats.clients === 0) break;
  await sleep(50);
}
snaps.push(await snapshot('nodes gone'));
const finalReports = await all('report', {});
await switcher.request('close', {}, 8000).catch(() => {});

// ------------------------------------------------------------------ results

const at = (label) => snaps.find((s) => s.label === label);
const [before, nodes, streams, pinged, closed, gone] = [
  'before',
  'nodes',
  'streams#1',
  'pinged#1',
  'closed#1',
  'nodes gone',
].map(at);
const first = steps.cycles[0];
const nStreams = first.open.reduce((a, r) => a + r.opened, 0);
const connected = nodes.switcher.clients;
const samples = first.ping.flatMap((r) => r.samples);
const errorCount = finalReports.reduce((a, r) => a + r.errors.count, 0);
const cpuMs = (a, b) => ({
  switcher: (b.switcher.cpu - a.switcher.cpu) / 1000,
  clients: (b.clients.cpu - a.clients.cpu) / 1000,
});
const result = {
  connected,
  connectMs: span(steps.connect),
  connectRate: connected / (span(steps.connect) / 1000),
  // SYNs the kernel dropped at a full accept queue while the nodes connected (host-wide counter).
  listenDrops: drops0 && drops1 ? drops1.drops - drops0.drops : null,
  streamsOpen: nStreams,
  switcherStreamEnds: pinged.switcher.streamEnds,
  openMs: span(first.open),
  openRate: nStreams / (span(first.open) / 1000),
  echo: latency(samples),
  echoRate: samples.length / (span(first.ping) / 1000),
  closeMs: span(first.close),
  closeDialedMs:
    Math.max(...first.close.map((r) => r.dialedClosed)) - Math.min(...first.close.map((r) => r.t0)),
  switcher: [before, nodes, pinged, closed, gone].map((s) => s.switcher),
  closedByCycle: snaps.filter((s) => s.label.startsWith('closed#')).map((s) => s.switcher),
  perNode: {
    switcherRss: (nodes.switcher.rss - before.switcher.rss) / connected,
    switcherHeap: (nodes.switcher.heapUsed - before.switcher.heapUsed) / connected,
    clientRss: (nodes.clients.rss - before.clients.rss) / connected,
    clientHeap: (nodes.clients.heapUsed - before.clients.heapUsed) / connected,
  },
  perStream: {
    switcherRss: (pinged.switcher.rss - nodes.switcher.rss) / nStreams,
    switcherHeap: (pinged.switcher.heapUsed - nodes.switcher.heapUsed) / nStreams,
    clientRss: (pinged.clients.rss - nodes.clients.rss) / nStreams,
    clientHeap: (pinged.clients.heapUsed - nodes.clients.heapUsed) / nStreams,
    // What the switcher keeps once the streams are gone and the nodes still connected.
    switcherHeapKept: (closed.switcher.heapUsed - nodes.switcher.heapUsed) / nStreams,
  },
  fds: { switcher: pinged.switcher.fds, clients: pinged.clients.fds },
  cpuMs: {
    connect: cpuMs(before, nodes),
    open: cpuMs(nodes, streams),
    ping: cpuMs(streams, pinged),
    close: cpuMs(pinged, closed),
  },
  streamsLeftAfterClose: {
    switcherStreamEnds: closed.switcher.streamEnds,
    accepted: closed.clients.accepted,
  },
  errorCount,
  errorSamples: finalReports.flatMap((r) => r.errors.samples),
  events: gone.events,
  stats: gone.stats,
};

const machine = machineInfo(loadBefore);
const date = new Date().toISOString();
const info = { date, quick, params: { ...P }, secs: (Date.now() - t0run) / 1000, settings };
console.log(renderScaleTable(result, machine, info));
for (const { cycle, rows } of heapDiffs) {
  const total = rows.reduce((a, r) => a + r.bytes, 0);
  console.log(
    `\nSwitcher heap after cycle ${cycle}'s close beyond that of the nodes connected: ${total.toFixed(0)} B per node`,
  );
  console.log('| B/node | objects/node | type |\n|--:|--:|---|');
  for (const r of rows.filter((r) => Math.abs(r.bytes) >= 8)) {
    console.log(`| ${r.bytes.toFixed(1)} | ${r.count.toFixed(2)} | ${r.type} |`);
  }
}
if (heapDir !== null && keepHeap === undefined) fs.rmSync(heapDir, { recursive: true, force: true });
const outDir = path.join(here, 'results');
fs.mkdirSync(outDir, { recursive: true });
const file = path.join(outDir, `scale-${quick ? 'quick-' : ''}${date.replace(/[:.]/g, '-')}.json`);
fs.writeFileSync(
  file,
  JSON.stringify({ date, machine, params: P, settings, perProcessNeed, result, snaps }, null, 2),
);
console.error(`raw results: ${path.relative(process.cwd(), file)}`);
killChildren();
process.exit(0);
