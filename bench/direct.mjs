// flexmux against raw TCP in one run, one process pair over loopback: `node bench/direct.mjs`
// (after `npm run build`). This process is the client; lib/direct-server.mjs is forked as the
// server. Measures one-stream and 64-stream throughput, ping RTT idle and beside a saturating
// stream, open+echo+close with 32 in flight, and memory per idle stream; prints a markdown table
// with ratios to raw TCP and the targets, and writes JSON to bench/results/.
// Raw TCP uses one connection per stream (64 in the 64-stream case, a new one per open, a second
// one for the bulk data beside pings). `--runs N` (default 3) repeats every timed phase N times,
// flexmux and TCP back to back each time, and reports medians with each ratio taken within a run;
// memory per idle stream is measured once. `--quick` shortens every phase and runs each once;
// `--phases idle,open32` runs only the named phases (idle, bulk1, bulk64, pingIdle, pingLoad, open32).
// `SERVER_FLAGS='--trace-gc ...'` passes Node.js and V8 flags to the forked server process.
import { fork } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
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
import { renderTable } from './lib/direct-report.mjs';
import { latency, machineInfo, startWatchdog } from './lib/relay-ipc.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const { Node, tcpTransport } = await import(new URL('../dist/index.js', import.meta.url).href);
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

const quick = process.argv.includes('--quick');
const argOf = (name) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : '');
const only = argOf('--phases');
const RUNS = quick ? 1 : Number(argOf('--runs') || 3);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error('--runs wants a positive integer');
const P = {
  bulkSecs: quick ? 0.5 : 2,
  streams: 64,
  chunk: 64 * 1024,
  pingSize: 64,
  pingWarmup: quick ? 50 : 200,
  pings: quick ? 500 : 3000,
  pingSecs: quick ? 1 : 3,
  loadWarmupMs: quick ? 200 : 400,
  opens: quick ? 1000 : 5000,
  concurrency: 32,
  idleStreams: quick ? 2000 : 10_000,
};
const WATCHDOG_MS = 60_000 + RUNS * 75_000;

// ------------------------------------------------------------------ the server process

const server = fork(path.join(here, 'lib/direct-server.mjs'), [], {
  execArgv: [
    '--expose-gc',
    ...(process.env.SERVER_FLAGS ? process.env.SERVER_FLAGS.split(' ').filter(Boolean) : []),
  ],
});
const killServer = () => server.exitCode === null && server.kill('SIGKILL');
process.on('exit', killServer);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));
startWatchdog('direct.mjs', WATCHDOG_MS);

const ports = await deadline(
  new Promise((resolve) => server.once('message', resolve)),
  10_000,
  'server start',
);
let memId = 0;
function serverMem(withGc) {
  const id = ++memId;
  return deadline(
    new Promise((resolve) => {
      const on = (m) => {
        if (m?.type === 'mem' && m.id === id) {
          server.off('message', on);
          resolve(m);
        }
      };
      server.on('message', on);
      server.send({ type: 'mem', id, gc: withGc });
    }),
    10_000,
    'server memory report',
  );
}

function connect(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, noDelay: true });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

// ------------------------------------------------------------------ the two contenders

async function flexConn() {
  const node = new Node(tcpTransport(await connect(ports.flexPort)), {
    ...nodeOptions,
    ip: 1,
    domain: 'client',
  });
  node.on('error', () => {});
  return {
    open: () => node.dial('server:80'),
    close: async () => {
      await deadline(node.close(), 3000, 'flexmux close').catch(() => node.destroy());
    },
  };
}

async function tcpConn() {
  const sockets = new Set();
  return {
    open: async () => {
      const s = await connect(ports.tcpPort);
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
      return s;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
    },
  };
}

const KINDS = { flexmux: flexConn, tcp: tcpConn };

// ------------------------------------------------------------------ measurements

const now = () => Number(process.hrtime.bigint()) / 1e6; // ms

async function sinkUntil(stream, until, chunk, state, yieldEach) {
  const reply = new Reader(stream).read(COUNT_LEN);
  reply.catch(() => {});
  stream.write(Buffer.of(OP.SINK));
  while (now() < until() && !state.failed) {
    state.written += chunk.length;
    if (!stream.write(chunk)) await drained(stream);
    // Beside pings, yield a macrotask per chunk: a write/'drain' cycle that completes in
    // microtasks would otherwise starve this process's own pinger and measure that instead.
    if (yieldEach) await new Promise(setImmediate);
  }
  stream.end();
  return decodeCount(await reply);
}

const cpuNow = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

/**
 * `n` streams each write for `secs`, then end; rate = bytes the server counted / time to last
 * reply. Also CPU time of both processes per MB moved, which other load on the machine distorts
 * far less than the rate.
 */
async function bulk(conn, n, secs) {
  const streams = [];
  for (let i = 0; i < n; i++) streams.push(await conn.open());
  const chunk = Buffer.alloc(P.chunk, 0xab);
  const before = await serverMem(false);
  const client0 = cpuNow();
  const t0 = now();
  const state = { written: 0, failed: false };
  const counts = await Promise.all(streams.map((s) => sinkUntil(s, () => t0 + secs * 1000, chunk, state)));
  const elapsed = (now() - t0) / 1000;
  const clientCpu = cpuNow() - client0;
  const after = await serverMem(false);
  const total = counts.reduce((a, b) => a + b, 0);
  const mb = total / 1e6;
  return {
    mbps: mb / elapsed,
    bytes: total,
    clientCpuPerMB: clientCpu / mb,
    serverCpuPerMB: (after.cpu - before.cpu) / mb,
    // flexmux only (zero for TCP): frames (or frame pieces) decoded and transport writes (ACKs)
    // by the receiving server, per MB of payload
    serverFramesInPerMB: (after.wire.framesIn - before.wire.framesIn) / mb,
    serverWritesPerMB: (after.wire.writes - before.wire.writes) / mb,
  };
}

/** Sequential 64-byte echoes on one stream; with `load`, a second stream (connection) saturates. */
async function pings(conn, load) {
  const ping = await conn.open();
  const pingMs = echoPinger(ping, P.pingSize);
  const once = async (i) => (await pingMs(i)) * 1000;
  let i = 0;
  for (let k = 0; k < P.pingWarmup; k++) await once(i++);
  let stop = false;
  const state = { written: 0, failed: false };
  let bulkDone = null;
  if (load) {
    const chunk = Buffer.alloc(P.chunk, 0xee);
    bulkDone = sinkUntil(await conn.open(), () => (stop ? 0 : Number.POSITIVE_INFINITY), chunk, state, true);
    bulkDone.catch(() => {
      state.failed = true;
    });
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
  ping.end();
  return { ...latency(samples), ...(load ? { bulkMBps } : {}) };
}

/** Open, send 16 B, read the echo, end; `concurrency` at a time; timed until every stream closed. */
async function openRate(conn) {
  const payload = Buffer.alloc(16, 0x5a);
  const msg = Buffer.concat([Buffer.of(OP.ECHO), payload]);
  const closed = [];
  let started = 0;
  const t0 = now();
  const worker = async () => {
    while (started < P.opens) {
      started++;
      const s = await conn.open();
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
  return { rate: P.opens / ((now() - t0) / 1000) };
}

function localMem() {
  gc();
  gc();
  const { rss, heapUsed, heapTotal, arrayBuffers } = process.memoryUsage();
  const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((x) => [x.space_name, x.space_size]));
  return { rss, heapUsed, heapTotal, arrayBuffers, spaces };
}

/** Committed bytes each V8 heap space grew by (new space staying large after gc shows up here). */
function spaceGrowth(a, b) {
  return Object.fromEntries(
    Object.keys(b)
      .map((k) => [k, b[k] - (a[k] ?? 0)])
      .filter(([, d]) => d !== 0),
  );
}

/** RSS and heap growth per idle stream in both processes, after gc. */
async function idleMemory(conn, kind) {
  const keep = [];
  const openHeld = async (n) => {
    let left = n;
    const worker = async () => {
      while (left-- > 0) {
        const s = await conn.open();
        s.on('error', () => {});
        s.write(Buffer.of(OP.HOLD));
        keep.push(s);
      }
    };
    await Promise.all(Array.from({ length: 128 }, worker));
    const target = keep.length;
    const t0 = now();
    while ((await serverMem(false)).held < target) {
      if (now() - t0 > 20_000) throw new Error('server did not see every idle stream');
      await sleep(20);
    }
  };
  await openHeld(16); // warm the code paths
  await sleep(100);
  const c0 = localMem();
  const s0 = await serverMem(true);
  await openHeld(P.idleStreams);
  await sleep(200);
  const c1 = localMem();
  const s1 = await serverMem(true);
  const n = P.idleStreams;
  /** Growth per stream of `field` in each process between snapshots [client, server] a and b. */
  const per = (name, field, [ca, sa], [cb, sb]) => ({
    [`client${name}`]: (cb[field] - ca[field]) / n,
    [`server${name}`]: (sb[field] - sa[field]) / n,
  });
  const at0 = [c0, s0];
  const at1 = [c1, s1];
  const first = {
    ...per('Rss', 'rss', at0, at1),
    ...per('Heap', 'heapUsed', at0, at1),
    // Where RSS beyond live objects comes from: heap kept committed after gc, array buffers.
    ...per('HeapTotal', 'heapTotal', at0, at1),
    ...per('ArrayBuffers', 'arrayBuffers', at0, at1),
    clientSpaces: spaceGrowth(c0.spaces, c1.spaces),
    serverSpaces: spaceGrowth(s0.spaces, s1.spaces),
  };
  if (kind !== 'flexmux') return first; // a socket per stream: 30,000 would pass the fd limit
  // Two more batches as large: V8's young generation grows while the first batch is made (its
  // survivors take the semi-spaces from 1 to 16 MiB) and stays committed after gc, and its pages
  // count in RSS as they are first touched, during the second batch too. That is a fixed cost of
  // the process, not of a stream; the third batch's growth is what each further stream costs.
  await openHeld(n);
  await sleep(200);
  const at2 = [localMem(), await serverMem(true)];
  await openHeld(n);
  await sleep(200);
  const at3 = [localMem(), await serverMem(true)];
  return {
    ...first,
    ...per('RssSecond', 'rss', at1, at2),
    ...per('RssThird', 'rss', at2, at3),
    ...per('HeapThird', 'heapUsed', at2, at3),
    clientSpacesLater: spaceGrowth(c1.spaces, at3[0].spaces),
    serverSpacesLater: spaceGrowth(s1.spaces, at3[1].spaces),
  };
}

/** Lets the server finish tearing down the idle streams and both processes collect the garbage. */
async function settle() {
  await sleep(300);
  await serverMem(true);
  gc();
  return {};
}

// Names starting with '_' are not reported.
const PHASES = [
  ['idle', idleMemory],
  ['_settle', settle],
  ['_warmup', (c) => bulk(c, 4, P.bulkSecs / 4)], // JIT-compile the data path before timing it
  ['bulk1', (c) => bulk(c, 1, P.bulkSecs)],
  ['bulk64', (c) => bulk(c, P.streams, P.bulkSecs)],
  ['pingIdle', (c) => pings(c, false)],
  ['pingLoad', (c) => pings(c, true)],
  ['open32', openRate],
];

// ------------------------------------------------------------------ main

const loadBefore = os.loadavg();
// phase -> one result per run
const results = { flexmux: {}, tcp: {} };
const t0 = Date.now();
const wanted = (phase) =>
  !only || only.split(',').includes(phase) || (phase.startsWith('_') && /bulk|ping|open/.test(only)); // settle and warm up before timed phases
/** Phases measured once: memory while both processes are fresh, then settling and JIT warm-up. */
const ONCE = new Set(['idle', '_settle', '_warmup']);

async function runPhase(phase, fn, run) {
  for (const kind of Object.keys(KINDS)) {
    const conn = await KINDS[kind]();
    let result;
    try {
      result = await deadline(fn(conn, kind), 30_000, `${kind} ${phase}`);
    } catch (err) {
      result = { error: String(err?.message ?? err) };
    } finally {
      await conn.close();
    }
    if (!phase.startsWith('_')) {
      results[kind][phase] ??= [];
      results[kind][phase].push(result);
      console.error(`${kind.padEnd(8)} ${phase.padEnd(9)} run ${run + 1} ${JSON.stringify(result)}`);
    }
    await sleep(100);
  }
}

// Each phase on a fresh connection, flexmux then TCP; the timed phases RUNS times over.
const phases = PHASES.filter(([phase]) => wanted(phase));
for (const [phase, fn] of phases.filter(([phase]) => ONCE.has(phase))) await runPhase(phase, fn, 0);
for (let run = 0; run < RUNS; run++) {
  for (const [phase, fn] of phases.filter(([phase]) => !ONCE.has(phase))) await runPhase(phase, fn, run);
}

const machine = machineInfo(loadBefore);
const date = new Date().toISOString();
console.log(
  renderTable(results, machine, { date, quick, runs: RUNS, params: P, secs: (Date.now() - t0) / 1000 }),
);
const outDir = path.join(here, 'results');
fs.mkdirSync(outDir, { recursive: true });
const file = path.join(outDir, `direct-${quick ? 'quick-' : ''}${date.replace(/[:.]/g, '-')}.json`);
fs.writeFileSync(file, JSON.stringify({ date, machine, params: P, runs: RUNS, results }, null, 2));
console.error(`raw results: ${path.relative(process.cwd(), file)}`);
process.exit(0);
