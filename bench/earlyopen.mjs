// What early data (the earlyData option, docs/protocol.md "Early data") saves on links with
// latency: one request at a time, each on a new stream (dial, write 16 bytes and end, read the
// 16-byte answer to its end), between two Nodes in this process, on a direct in-memory link or
// each on its own link to a Switcher in this process; every link delays every send by
// --latency ms each way. Without early data a request takes two round trips (open -> ACK, then
// data -> answer); with it, one.
//
//   node bench/earlyopen.mjs [--latency 5] [--requests 100]
//
// Prints median and p90 request times for both settings; loopback TCP numbers for many streams
// at once are the shared harness's S3par (docs/performance.md).
import { parseArgs } from 'node:util';
import { median } from './lib/targets.mjs';

const { Node, Switcher, admit, memoryPair } = await import(new URL('../dist/index.js', import.meta.url).href);

const { values: opt } = parseArgs({
  options: {
    latency: { type: 'string', default: '5' },
    requests: { type: 'string', default: '100' },
  },
});
const latency = Number(opt.latency);
const requests = Number(opt.requests);
const question = new Uint8Array(16).fill(0x71);

function readToEnd(s) {
  return new Promise((resolve, reject) => {
    let n = 0;
    s.on('data', (d) => {
      n += d.length;
    });
    s.on('end', () => resolve(n));
    s.on('error', reject);
  });
}

const PASSWORD = 'earlyopen';

async function nodes(via, earlyData) {
  if (via === 'direct') {
    const [x, y] = memoryPair({ latency });
    return {
      client: new Node(x, { domain: 'client', ip: 1, earlyData, heartbeatInterval: 0 }),
      server: new Node(y, { domain: 'server', ip: 2, heartbeatInterval: 0 }),
      sw: null,
    };
  }
  const sw = new Switcher({ password: PASSWORD });
  const join = async (domain, early) => {
    const [mine, theirs] = memoryPair({ latency });
    sw.handle(theirs);
    const { ip, transport } = await admit(mine, { password: PASSWORD, domain });
    return new Node(transport, { domain, ip, earlyData: early, heartbeatInterval: 0 });
  };
  return { client: await join('client', earlyData), server: await join('server', false), sw };
}

async function run(via, earlyData) {
  const { client, server, sw } = await nodes(via, earlyData);
  server.listen(80).on('stream', (s) => {
    s.on('data', (d) => s.write(d));
    s.on('end', () => s.end());
  });
  const times = [];
  // The first request teaches the client that the link is direct; it is not counted.
  for (let i = 0; i <= requests; i++) {
    const t0 = performance.now();
    const s = await client.dial('server:80');
    const done = readToEnd(s);
    s.end(question);
    const n = await done;
    if (n !== question.length) throw new Error(`answer of ${n} bytes`);
    if (i > 0) times.push(performance.now() - t0);
  }
  client.destroy();
  server.destroy();
  await sw?.close({ timeout: 1000 });
  const sorted = [...times].sort((a, b) => a - b);
  return { median: median(times), p90: sorted[Math.floor(0.9 * sorted.length)] };
}

console.log(`${requests} requests, one at a time, ${latency} ms each way on every link`);
console.log('| path | earlyData | median ms | p90 ms |');
console.log('|---|---|--:|--:|');
for (const via of ['direct', 'switcher']) {
  for (const earlyData of [false, true]) {
    const r = await run(via, earlyData);
    const path =
      via === 'direct' ? `direct (${2 * latency} ms round trip)` : `through a switcher (${4 * latency} ms)`;
    console.log(`| ${path} | ${earlyData} | ${r.median.toFixed(1)} | ${r.p90.toFixed(1)} |`);
  }
}
