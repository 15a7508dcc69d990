// What one /metrics scrape of a switcher costs with many admitted clients: milliseconds per
// scrape over HTTP (GET with the token, as Prometheus does) and straight from the registry, the
// size of the text and its series.
//
//   node bench/metrics.mjs [--clients 10000] [--scrapes 21] [--dist dist]
//
// One process: a Switcher, `--clients` Nodes admitted over memory transports (each pings the
// switcher once, so every client has frame counts by command), and the admin server on
// 127.0.0.1. Run `npm run build` first. docs/admin.md ("Cost of a scrape") quotes the results.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    clients: { type: 'string', default: '10000' },
    scrapes: { type: 'string', default: '21' },
    // Another build to compare with (a copy of dist/ made before a change).
    dist: { type: 'string', default: 'dist' },
  },
});
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = pathToFileURL(`${path.resolve(repo, opt.dist)}/`).href;
const { startAdmin } = await import(`${dist}admin/index.js`);
const { admit, memoryPair, Node, Switcher } = await import(`${dist}index.js`);
const clients = Number(opt.clients);
const scrapes = Number(opt.scrapes);
const password = 'metrics-bench';
const token = 'metrics-bench-token';

const sw = new Switcher({ password });
const nodes = [];
const t0 = performance.now();
for (let i = 0; i < clients; i += 500) {
  const batch = [];
  for (let j = i; j < Math.min(clients, i + 500); j++) {
    batch.push(
      (async () => {
        const [a, b] = memoryPair();
        sw.handle(b);
        const { ip, transport } = await admit(a, { password, domain: `c${j}` });
        const node = new Node(transport);
        node.setIdentity(ip, `c${j}`);
        nodes.push(node);
        await node.ping();
      })(),
    );
  }
  await Promise.all(batch);
}
const admitMs = performance.now() - t0;

const admin = await startAdmin({ switcher: sw, port: 0, token });
const url = `http://127.0.0.1:${admin.port}/metrics`;
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

const http = [];
let text = '';
for (let i = 0; i < scrapes; i++) {
  const s = performance.now();
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  text = await res.text();
  http.push(performance.now() - s);
}
const direct = [];
for (let i = 0; i < scrapes; i++) {
  const s = performance.now();
  await admin.registry.metrics();
  direct.push(performance.now() - s);
}
const series = text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
console.log(
  JSON.stringify({
    clients: sw.stats().clients,
    admitSeconds: Math.round(admitMs / 100) / 10,
    bytes: Buffer.byteLength(text),
    series,
    httpMedianMs: Math.round(median(http) * 10) / 10,
    httpMaxMs: Math.round(Math.max(...http) * 10) / 10,
    registryMedianMs: Math.round(median(direct) * 10) / 10,
    scrapes,
  }),
);
await admin.close();
await Promise.all(nodes.map((n) => n.close()));
await sw.close({ timeout: 1_000 });
