// One-stream bulk throughput over WebSocket: `node bench/wsbulk.mjs [--runs 5] [--mib 256]
// [--zero-mask]` (after `npm run build`). This process sends; lib/wsbulk-server.mjs receives in
// a second process. Each run moves the same number of bytes, in 64 KiB writes, over a new
// connection in each of these ways, interleaved:
//   tcp       a plain TCP connection (the baseline);
//   ws        a plain `ws` WebSocket, one binary message per write (no multiplexing);
//   flexmux   one flexmux stream over dialWs/listenWs;
// and with --zero-mask also `ws-zero` and `flexmux-zero`, whose client frames carry an all-zero
// masking key (ws's `generateMask` option), which ws then neither copies nor XORs.
// A run ends when the receiver has counted every byte and its one-byte answer is back. Prints
// medians and within-run ratios, whether ws found the `bufferutil` native addon (set
// WS_NO_BUFFER_UTIL=1 to compare without it), and writes JSON to bench/results/.
// `--dist DIR[,DIR...]` runs the flexmux rows once per build (each name labelled with its directory
// name, each with a receiving process of its own), instead of this repository's dist/, so builds
// are compared within one run.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { forkChild, machineInfo, median, startWatchdog, stopChildren } from './lib/relay-ipc.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: opt } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    mib: { type: 'string', default: '256' },
    'zero-mask': { type: 'boolean', default: false },
    dist: { type: 'string' },
  },
});
const RUNS = Number(opt.runs);
const BYTES = Number(opt.mib) * 2 ** 20;
const CHUNK = 64 * 1024;
const require = createRequire(import.meta.url);
const { WebSocket } = require('ws');
/** The flexmux builds compared: label, URL of index.js, and the module once imported. */
const builds = (opt.dist === undefined ? [null] : opt.dist.split(',')).map((dir) => ({
  label: dir === null ? '' : `@${path.basename(path.resolve(dir))}`,
  url: (dir === null
    ? new URL('../dist/index.js', import.meta.url)
    : pathToFileURL(path.resolve(dir, 'index.js'))
  ).href,
}));
for (const b of builds) b.lib = await import(b.url);
const zeroMask = (mask) => mask.fill(0);

function nativeMask() {
  if (process.env.WS_NO_BUFFER_UTIL) return false;
  try {
    require.resolve('bufferutil');
    return true;
  } catch {
    return false;
  }
}

/** Writes BYTES in CHUNK pieces with backpressure; resolves when `finished` does. */
async function pump(write, waitDrain, finished) {
  const chunk = Buffer.alloc(CHUNK, 0xab);
  const t0 = process.hrtime.bigint();
  for (let sent = 0; sent < BYTES; sent += CHUNK) {
    if (!write(chunk)) await waitDrain();
  }
  await finished;
  return BYTES / (Number(process.hrtime.bigint() - t0) / 1e9) / 1e6;
}

/** pump() over a Node.js stream, until the receiver's one-byte answer arrives on it. */
function pumpStream(stream) {
  const finished = new Promise((resolve) => stream.once('data', resolve));
  return pump(
    (c) => stream.write(c),
    () => new Promise((resolve) => stream.once('drain', resolve)),
    finished,
  );
}

const modes = {
  async tcp(ports) {
    const socket = net.connect(ports.tcp, '127.0.0.1');
    socket.setNoDelay(true);
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const mbps = await pumpStream(socket);
    socket.destroy();
    return mbps;
  },
  ws: (ports) => rawWs(ports, {}),
  'ws-zero': (ports) => rawWs(ports, { generateMask: zeroMask }),
};
for (const b of builds) {
  modes[`flexmux${b.label}`] = () => flexWs(b, {});
  modes[`flexmux-zero${b.label}`] = () => flexWs(b, { generateMask: zeroMask });
}

async function rawWs(ports, extra) {
  const ws = new WebSocket(`ws://127.0.0.1:${ports.ws}/`, { perMessageDeflate: false, ...extra });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const finished = new Promise((resolve) => ws.once('message', resolve));
  // ws has no 'drain': wait for its buffered amount to fall, as a stream would.
  const high = 1024 * 1024;
  let waiter = null;
  const sent = () => {
    if (waiter !== null && ws.bufferedAmount < high / 2) {
      const w = waiter;
      waiter = null;
      w();
    }
  };
  const mbps = await pump(
    (c) => {
      ws.send(c, { binary: true }, sent);
      return ws.bufferedAmount < high;
    },
    () => new Promise((resolve) => (waiter = resolve)),
    finished,
  );
  ws.terminate();
  return mbps;
}

async function flexWs(build, extra) {
  const { Node, dialWs } = build.lib;
  const transport = await dialWs(`ws://127.0.0.1:${build.port}/flex/ws`, extra);
  const node = new Node(transport, { ip: 1, domain: 'client', heartbeatInterval: 0 });
  node.on('error', () => {});
  const s = await node.dial('server:80');
  const mbps = await pumpStream(s);
  node.destroy();
  return mbps;
}

startWatchdog('wsbulk.mjs', 30_000 + RUNS * 60_000);
const loadBefore = os.loadavg();
let ports = null;
for (const b of builds) {
  const server = forkChild(path.join(here, 'lib/wsbulk-server.mjs'), [BYTES, b.url], 'wsbulk-server');
  const ready = await server.ready();
  b.port = ready.flex;
  ports ??= ready; // the plain TCP and ws rows use the first receiver
}
const flexNames = (zero) => builds.map((b) => `flexmux${zero ? '-zero' : ''}${b.label}`);
const names = [
  'tcp',
  'ws',
  ...flexNames(false),
  ...(opt['zero-mask'] ? ['ws-zero', ...flexNames(true)] : []),
];
// Warm-up: every receiver and this process compile each build's path once.
for (const b of builds) await modes[`flexmux${b.label}`](ports);
const runs = [];
for (let r = 0; r < RUNS; r++) {
  const order = r % 2 === 0 ? names : [...names].reverse();
  const row = {};
  for (const name of order) row[name] = await modes[name](ports);
  runs.push(row);
  console.log(`run ${r + 1}: ${names.map((n) => `${n} ${row[n].toFixed(0)}`).join(', ')} MB/s`);
}
await stopChildren();

const within = (a, b) => median(runs.map((row) => row[a] / row[b]));
console.log(
  `\n${Number(opt.mib)} MiB per run, ${RUNS} runs, ws native masking (bufferutil): ${nativeMask()}`,
);
console.log('| way | MB/s (median) | ÷ tcp (within-run median) |\n|---|--:|--:|');
for (const n of names)
  console.log(`| ${n} | ${median(runs.map((row) => row[n])).toFixed(0)} | ${within(n, 'tcp').toFixed(2)} |`);
for (const b of builds) {
  console.log(`flexmux${b.label} ÷ ws (within-run median): ${within(`flexmux${b.label}`, 'ws').toFixed(2)}`);
  if (opt['zero-mask']) {
    const z = `flexmux-zero${b.label}`;
    console.log(`${z} ÷ ws-zero: ${within(z, 'ws-zero').toFixed(2)}`);
  }
}

const out = path.join(here, 'results', `wsbulk-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(
  out,
  JSON.stringify(
    {
      machine: machineInfo(loadBefore),
      mib: Number(opt.mib),
      nativeMask: nativeMask(),
      builds: builds.map((b) => b.url),
      runs,
    },
    null,
    2,
  ),
);
console.log(`results in ${path.relative(process.cwd(), out)}`);
