// What receiving bulk data costs the garbage collector, by Node.js version:
//
//   node bench/gcread.mjs [--mode raw,flexmux] [--mib 512] [--runs 3] [--heap MB] [--tune]
//
// This process is the receiver; a forked child sends `--mib` MiB in 64 KiB writes over one
// loopback TCP connection, either as raw TCP or on one flexmux stream. The receiver counts its
// garbage collections by kind (a PerformanceObserver on 'gc' entries) and its CPU time, and prints
// one line per run. Modes alternate within a run. `--heap MB` first fills the receiver's heap with
// that many MB of small live objects, as a switcher with many clients has: every mark-compact then
// has that much more to mark. `--tune` first applies the CLI's own V8 setting
// (src/cli/gc-tuning.ts: on Node 24, an 8 MB new-space limit) to the receiver.
//
// Why: from Node.js 24 on (V8 13.6), the socket read buffers that a receiver drops at once are
// reclaimed by full mark-compacts instead of scavenges (nodejs/node#61967, #63863), and a receiver
// runs dozens of them per GiB where Node 20 runs none. Raw TCP pays it as flexmux does; this tool
// shows both side by side on whichever `node` runs it (docs/performance.md, "Node.js 24 and 26").
import { fork } from 'node:child_process';
import net from 'node:net';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    mode: { type: 'string', default: 'raw,flexmux' },
    mib: { type: 'string', default: '512' },
    runs: { type: 'string', default: '3' },
    child: { type: 'string' },
    port: { type: 'string' },
    heap: { type: 'string', default: '0' },
    tune: { type: 'boolean', default: false },
  },
});
const MIB = Number(opt.mib);
const CHUNK = 64 * 1024;
const distUrl = new URL('../dist/index.js', import.meta.url).href;
/** The --heap ballast: module scope keeps it alive through every run. */
let held = [];

if (opt.child !== undefined) await send(opt.child, Number(opt.port));
else await main();

/** The child: connects, writes MIB MiB, ends, and exits once the receiver hangs up. */
async function send(mode, port) {
  const sock = net.connect(port, '127.0.0.1');
  await new Promise((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  let out = sock;
  if (mode === 'flexmux') {
    const { Node, tcpTransport } = await import(distUrl);
    const node = new Node(tcpTransport(sock), { ip: 1, domain: 'sender', heartbeatInterval: 0 });
    out = await node.dial('0.0.0.2:80');
  }
  const chunk = Buffer.alloc(CHUNK, 0xab);
  for (let i = 0; i < (MIB * 1024 * 1024) / CHUNK; i++) {
    if (!out.write(chunk)) await new Promise((resolve) => out.once('drain', resolve));
  }
  out.end();
  sock.once('close', () => process.exit(0));
}

/** One receive of MIB MiB in `mode`: MB/s, GCs by kind, and this process's CPU time. */
async function receive(mode) {
  const { Node, tcpTransport } = await import(distUrl);
  const gcs = { minor: 0, major: 0, incremental: 0, ms: 0 };
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = e.detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gcs.minor++;
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) gcs.major++;
      else if (kind === constants.NODE_PERFORMANCE_GC_INCREMENTAL) gcs.incremental++;
      gcs.ms += e.duration;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const child = fork(new URL(import.meta.url).pathname, [
    '--child',
    mode,
    '--port',
    String(server.address().port),
    '--mib',
    String(MIB),
  ]);
  const result = await new Promise((resolve, reject) => {
    child.once('error', reject);
    server.once('connection', (sock) => {
      const cpu0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      let got = 0;
      const finish = () => {
        const secs = Number(process.hrtime.bigint() - t0) / 1e9;
        const cpu = process.cpuUsage(cpu0);
        resolve({ got, secs, cpuMs: (cpu.user + cpu.system) / 1000 });
        sock.destroy();
      };
      if (mode === 'raw') {
        sock.on('data', (c) => {
          got += c.length;
        });
        sock.once('end', finish);
        return;
      }
      const node = new Node(tcpTransport(sock), { ip: 2, domain: 'receiver', heartbeatInterval: 0 });
      node.listen(80).once('stream', (s) => {
        s.on('data', (c) => {
          got += c.length;
        });
        s.once('end', finish);
      });
    });
  });
  await new Promise((resolve) => child.once('exit', resolve));
  server.close();
  // Entries are delivered asynchronously: one turn of the event loop lets the last ones in.
  await new Promise((resolve) => setImmediate(resolve));
  obs.disconnect();
  if (result.got !== MIB * 1024 * 1024)
    throw new Error(`${mode}: received ${result.got} bytes of ${MIB} MiB`);
  return { mode, mbps: result.got / result.secs / 1e6, cpuMs: result.cpuMs, ...gcs };
}

/** Small objects that stay alive: about `mb` MB of heap, in many objects, as a busy server holds. */
function ballast(mb) {
  const keep = [];
  for (let i = 0; i < (mb * 1e6) / 64; i++) keep.push({ a: i, b: null, c: '' });
  return keep;
}

async function main() {
  const modes = opt.mode.split(',');
  let tuned = null;
  if (opt.tune) {
    const { tuneGarbageCollector } = await import(new URL('../dist/cli/gc-tuning.js', import.meta.url).href);
    tuned = tuneGarbageCollector();
  }
  held = ballast(Number(opt.heap));
  const kept = held;
  console.log(
    `node ${process.version}: ${MIB} MiB over one loopback connection, this process receiving` +
      (kept.length > 0 ? `, ${opt.heap} MB of other live objects in its heap` : '') +
      (opt.tune ? `; --tune: ${tuned ?? 'nothing to set on this V8'}` : ''),
  );
  console.log(
    '| run | mode | MB/s | receiver CPU ms | scavenges | mark-compacts | incremental steps | GC ms |',
  );
  console.log('|--:|---|--:|--:|--:|--:|--:|--:|');
  for (let run = 1; run <= Number(opt.runs); run++) {
    for (const mode of modes) {
      const r = await receive(mode);
      console.log(
        `| ${run} | ${mode} | ${r.mbps.toFixed(0)} | ${r.cpuMs.toFixed(0)} | ${r.minor} | ${r.major} | ${r.incremental} | ${r.ms.toFixed(1)} |`,
      );
    }
  }
}
