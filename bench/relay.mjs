// flexmux through a switcher against a plain Node.js TCP relay, one run, three processes on
// 127.0.0.1: `node bench/relay.mjs` (after `npm run build`; about 1 min, hard limit 170 s).
// This process is the client node; lib/relay-switcher.mjs is the relay (a flexmux Switcher, and a
// plain TCP relay that pipes each accepted socket to a new connection to the server);
// lib/relay-server.mjs is the server (a flexmux node `server` on virtual port 80, and a plain TCP
// server). Every phase runs for flexmux (client -> switcher -> server) and for the TCP relay
// (client -> relay -> server) against the same processes. Measures one-stream bulk throughput
// (fixed bytes, until the server confirms the count), open+echo+close with 32 in flight, 64-byte
// echo RTT idle and beside a saturating stream, and flexmux's own ping through the switcher.
// Prints a markdown table with ratios; writes JSON to bench/results/. `--quick` shrinks it;
// `--phases bulk,open32,pingIdle,pingLoad,ctlPingIdle,ctlPingLoad` runs only those; `--window N`
// sets the stream window of both nodes; `--cpu-prof DIR` profiles the switcher and server;
// `--transport ws` has both nodes reach the switcher over ws:// (`--ws-zero-mask` with wsZeroMask).
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeOptions } from './adapters/flexmux.mjs';
import {
  COUNT_LEN,
  deadline,
  decodeCount,
  drained,
  echoPinger,
  OP,
  Reader,
  sleep,
} from './lib/direct-proto.mjs';
import {
  forkChild,
  latency,
  machineInfo,
  median,
  selfReport,
  startWatchdog,
  stopChildren,
} from './lib/relay-ipc.mjs';
import { renderRelayTable } from './lib/relay-report.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const { connect } = await import(new URL('../dist/index.js', import.meta.url).href);

const argValue = (name) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
};
const quick = process.argv.includes('--quick');
const only = argValue('phases')?.split(',');
const wanted = (name) => only === undefined || only.includes(name);
// --cpu-prof DIR: the switcher and server processes write V8 CPU profiles to DIR/<name>/ on exit
// (summarise them with `node bench/profile.mjs report DIR/switcher`).
const profDir = argValue('cpu-prof');
const profArgs = (name) =>
  profDir === undefined
    ? []
    : ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profDir, name)}`, '--cpu-prof-interval=250'];
// --switcher-flags "FLAGS": V8/Node flags for the switcher process only, space-separated (e.g.
// "--max-semi-space-size=1", to see what a smaller young generation costs a relay).
const switcherFlags = argValue('switcher-flags')?.split(' ').filter(Boolean) ?? [];
// --switcher-options JSON: Switcher options on top of the defaults (e.g. '{"maxBatchBytes":1048576}').
const switcherOptions = JSON.parse(argValue('switcher-options') ?? '{}');
// --window BYTES: the stream window both nodes offer (default 2 MiB), to see what it does to
// latency beside a saturating stream and to throughput.
const window = argValue('window') === undefined ? undefined : Number(argValue('window'));
// --transport ws: both nodes reach the switcher over ws:// instead of tcp:// (the plain relay stays
// TCP); --ws-zero-mask: their WebSocket frames carry an all-zero masking key (wsZeroMask).
const transport = argValue('transport') ?? 'tcp';
if (transport !== 'tcp' && transport !== 'ws') throw new Error('--transport is tcp or ws');
const wsZeroMask = process.argv.includes('--ws-zero-mask');
const nodeOpts = {
  ...nodeOptions,
  ...(window === undefined ? {} : { window }),
  ...(wsZeroMask ? { wsZeroMask } : {}),
};
const MiB = 1024 * 1024;
const P = {
  bulkBytes: (quick ? 64 : 256) * MiB,
  bulkRuns: quick ? 1 : 5,
  warmupBytes: 32 * MiB,
  chunk: 64 * 1024,
  pingSize: 64,
  pingWarmup: quick ? 50 : 200,
  pings: quick ? 500 : 3000,
  pingSecs: quick ? 1 : 3,
  loadWarmupMs: quick ? 200 : 400,
  opens: quick ? 1000 : 5000,
  concurrency: 32,
};
const WATCHDOG_MS = 170_000;
const PASSWORD = 'bench-relay';

startWatchdog('relay.mjs', WATCHDOG_MS);
const loadBefore = os.loadavg();
const t0run = Date.now();

// ------------------------------------------------------------------ the three processes

// Switcher defaults unless --switcher-options; the nodes raise maxStreams/maxPendingDials/backlog and turn the
// heartbeat off, exactly as the shared-harness adapter does (bench/adapters/flexmux.mjs).
const relay = forkChild(
  path.join(here, 'lib/relay-switcher.mjs'),
  [JSON.stringify({ switcher: { ...switcherOptions, password: PASSWORD } })],
  'switcher',
  [...profArgs('switcher'), ...switcherFlags],
);
const { port: switcherPort, wsPort } = await relay.ready();
const url = transport === 'ws' ? `ws://127.0.0.1:${wsPort}/flex/ws` : `tcp://127.0.0.1:${switcherPort}`;
const server = forkChild(
  path.join(here, 'lib/relay-server.mjs'),
  [JSON.stringify({ url, password: PASSWORD, nodeOptions: nodeOpts })],
  'server',
  profArgs('server'),
);
const { tcpPort } = await server.ready();
const { port: relayPort } = await relay.request('relay', { port: tcpPort });

const session = connect(url, { ...nodeOpts, password: PASSWORD, domain: 'client', reconnect: false });
const sessionErrors = [];
session.on('disconnect', (err) => sessionErrors.push(String(err?.message ?? err)));
await session.ready({ timeout: 10_000 });

function tcpOpen() {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port: relayPort, noDelay: true });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

const KINDS = {
  flexmux: { open: () => session.dial('server:80') },
  tcp: { open: tcpOpen },
};

// ------------------------------------------------------------------ measurements

const now = () => Number(process.hrtime.bigint()) / 1e6; // ms

/** CPU time (µs) of the three processes so far, and the frames the switcher took from each node. */
async function counters() {
  const [r, s] = await Promise.all([relay.request('report', { clients: true }), server.request('report')]);
  const cmd = (domain, name) => r.clients.byNode?.find((n) => n.domain === domain)?.byCmd[name] ?? 0;
  return {
    client: selfReport(false).cpu,
    relay: r.cpu,
    server: s.cpu,
    // client -> server data frames, and the server's credit returns (DATA_ACK), through the switcher
    data: cmd('client', 'data'),
    acks: cmd('server', 'data.ack'),
  };
}

/** Per-MB (or per-stream, with n = streams) CPU µs of each process between two `counters()`. */
const cpuPer = (c0, c1, n, unit) => ({
  [`clientCpuPer${unit}`]: (c1.client - c0.client) / n,
  [`relayCpuPer${unit}`]: (c1.relay - c0.relay) / n,
  [`serverCpuPer${unit}`]: (c1.server - c0.server) / n,
});

/** Writes `bytes` to a SINK stream in `chunk`s (or until `stop()`), ends it, returns the server's count. */
async function sink(stream, bytes, state, stop = () => false, yieldEach = false) {
  const reply = new Reader(stream).read(COUNT_LEN);
  reply.catch(() => {});
  const chunk = Buffer.alloc(P.chunk, 0xab);
  stream.write(Buffer.of(OP.SINK));
  let left = bytes;
  while (left > 0 && !stop()) {
    const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
    left -= piece.length;
    state.written += piece.length;
    if (!stream.write(piece)) await drained(stream);
    // Beside pings, yield a macrotask per chunk so this process's own pinger is not starved.
    if (yieldEach) await new Promise(setImmediate);
  }
  stream.end();
  return decodeCount(await reply);
}

/** One stream moves `bytes` to the server; MB/s until the server's count comes back. */
async function bulk(kind, bytes) {
  const stream = await KINDS[kind].open();
  const c0 = await counters();
  const t0 = now();
  const got = await sink(stream, bytes, { written: 0 });
  const secs = (now() - t0) / 1000;
  const c1 = await counters();
  if (got !== bytes) throw new Error(`server counted ${got} bytes of ${bytes}`);
  const mb = bytes / 1e6;
  const frames =
    kind === 'flexmux'
      ? {
          dataFramesPerMB: (c1.data - c0.data) / mb,
          ackFramesPerMB: (c1.acks - c0.acks) / mb,
          dataFramesPerWrite: (c1.data - c0.data) / Math.ceil(bytes / P.chunk),
        }
      : {};
  return { mbps: mb / secs, secs, ...cpuPer(c0, c1, mb, 'MB'), ...frames };
}

/** Echo round trips of `P.pingSize` bytes on one stream; with `load`, beside a saturating stream. */
async function pings(kind, load) {
  const { open } = KINDS[kind];
  const ping = await open();
  const pingMs = echoPinger(ping, P.pingSize);
  const once = async (i) => (await pingMs(i)) * 1000;
  const result = await underLoad(open, load, once);
  ping.end();
  return result;
}

/** flexmux's ping frame to the node `server` and back, through the switcher (control priority). */
function controlPings(load) {
  return underLoad(KINDS.flexmux.open, load, async () => (await session.ping('server')) * 1000);
}

/** Runs `once(i)` (resolving to µs) for warm-up, then up to P.pings or P.pingSecs, optionally beside bulk. */
async function underLoad(open, load, once) {
  let i = 0;
  for (let k = 0; k < P.pingWarmup; k++) await once(i++);
  let stop = false;
  const state = { written: 0 };
  let bulkDone = null;
  if (load) {
    bulkDone = sink(await open(), Number.POSITIVE_INFINITY, state, () => stop, true);
    bulkDone.catch(() => {});
    await sleep(P.loadWarmupMs);
  }
  const w0 = state.written;
  const t0 = now();
  const samples = [];
  while (samples.length < P.pings && now() - t0 < P.pingSecs * 1000) samples.push(await once(i++));
  const secs = (now() - t0) / 1000;
  const bulkMBps = (state.written - w0) / secs / 1e6;
  stop = true;
  if (bulkDone) await deadline(bulkDone, 10_000, 'bulk stream end');
  return { ...latency(samples), ...(load ? { bulkMBps } : {}) };
}

/** Open, send 16 B, read the echo, end; `concurrency` at a time; timed until every stream closed. */
async function openRate(kind, opens) {
  const { open } = KINDS[kind];
  const payload = Buffer.alloc(16, 0x5a);
  const msg = Buffer.concat([Buffer.of(OP.ECHO), payload]);
  const closed = [];
  let started = 0;
  const c0 = await counters();
  const t0 = now();
  const worker = async () => {
    while (started < opens) {
      started++;
      const s = await open();
      closed.push(new Promise((resolve) => s.once('close', resolve)));
      const reader = new Reader(s);
      s.write(msg);
      const got = await reader.read(payload.length);
      if (!got.equals(payload)) throw new Error('echo mismatch');
      s.end();
    }
  };
  await Promise.all(Array.from({ length: P.concurrency }, worker));
  await Promise.all(closed);
  const rate = opens / ((now() - t0) / 1000);
  return { rate, ...cpuPer(c0, await counters(), opens, 'Stream') };
}

// ------------------------------------------------------------------ main

const results = { flexmux: {}, tcp: {} };
const loadByPhase = {};

async function phase(name, kind, fn, ms = 40_000) {
  loadByPhase[`${kind} ${name}`] = Number(os.loadavg()[0].toFixed(2));
  let r;
  try {
    r = await deadline(fn(), ms, `${kind} ${name}`);
  } catch (err) {
    r = { error: String(err?.message ?? err) };
  }
  if (!name.startsWith('_')) console.error(`${kind.padEnd(8)} ${name.padEnd(12)} ${JSON.stringify(r)}`);
  await sleep(100);
  return r;
}

const kinds = Object.keys(KINDS);
// Warm-up: JIT-compile the data and open paths of all three processes before anything is timed.
for (const kind of kinds) {
  await phase('_warmBulk', kind, () => bulk(kind, P.warmupBytes));
  await phase('_warmOpen', kind, () => openRate(kind, 500));
}
// Bulk runs interleave the two relays, so a burst of load elsewhere hits both alike.
if (wanted('bulk')) {
  const runs = { flexmux: [], tcp: [] };
  for (let i = 0; i < P.bulkRuns; i++) {
    for (const kind of kinds)
      runs[kind].push(await phase(`bulk#${i + 1}`, kind, () => bulk(kind, P.bulkBytes)));
  }
  for (const kind of kinds) {
    const ok = runs[kind].filter((r) => !r.error);
    const mid = ok.find((r) => r.mbps === median(ok.map((x) => x.mbps)));
    results[kind].bulk = mid ? { ...mid, runs: runs[kind].map((r) => r.mbps ?? r.error) } : runs[kind][0];
  }
}
const PHASES = [
  ['open32', (kind) => openRate(kind, P.opens)],
  ['pingIdle', (kind) => pings(kind, false)],
  ['pingLoad', (kind) => pings(kind, true)],
];
for (const [name, fn] of PHASES.filter(([name]) => wanted(name))) {
  for (const kind of kinds) results[kind][name] = await phase(name, kind, () => fn(kind));
}
if (wanted('ctlPingIdle'))
  results.flexmux.ctlPingIdle = await phase('ctlPingIdle', 'flexmux', () => controlPings(false));
if (wanted('ctlPingLoad'))
  results.flexmux.ctlPingLoad = await phase('ctlPingLoad', 'flexmux', () => controlPings(true));

// What the processes saw: switcher counters and events, server-side stream errors, our session.
const [relayReport, serverReport] = await Promise.all([
  relay.request('report', { gc: true, clients: true }),
  server.request('report', { gc: true }),
]);
const health = {
  switcher: {
    stats: relayReport.stats,
    framesFromNode: relayReport.clients.byNode,
    events: relayReport.events,
    rss: relayReport.rss,
    heapUsed: relayReport.heapUsed,
  },
  tcpRelay: relayReport.relayed,
  serverFailures: serverReport.failures,
  clientSessionErrors: sessionErrors,
};
await deadline(session.close(), 5000, 'client session close').catch(() => {});

const machine = machineInfo(loadBefore);
const date = new Date().toISOString();
const info = {
  date,
  quick,
  params: { ...P, window, switcherFlags, switcherOptions, transport, wsZeroMask },
  secs: (Date.now() - t0run) / 1000,
  health,
};
console.log(renderRelayTable(results, machine, info));
const outDir = path.join(here, 'results');
fs.mkdirSync(outDir, { recursive: true });
const file = path.join(outDir, `relay-${quick ? 'quick-' : ''}${date.replace(/[:.]/g, '-')}.json`);
fs.writeFileSync(
  file,
  JSON.stringify(
    { date, machine, params: info.params, results, loadByPhase, health, nodeOptions: nodeOpts },
    null,
    2,
  ),
);
console.error(`raw results: ${path.relative(process.cwd(), file)}`);
await relay.request('close', {}, 8000).catch(() => {});
await stopChildren();
process.exit(0);
