// flexmux's own CPU cost per byte, without the kernel: `node bench/jscost.mjs [--mib N] [--streams K]`
// (after `npm run build`). Two Nodes in this one process are joined by a zero-copy in-process
// transport (each send's parts reach the peer as they are, one macrotask later, and nothing is
// copied; the library's memoryPair copies every send into one buffer and delivers in microtasks,
// which is right for tests and would add a copy here; like a socket it reports a send released
// once delivered when the node asks, which only a node with reuseWrittenBuffers does), one stream (or K streams) carries N MiB (default 1024) in 64 KiB writes, and the
// process's CPU time (user + system, GC threads included) is divided by the MiB moved. Every cost
// left is the framing, scheduling, credit and Node stream work of both ends, which over TCP come
// on top of the socket reads and writes. After one warm-up run (JIT), prints one line per run and
// the median; --runs R sets the number of runs (default 5).
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '1024' },
    streams: { type: 'string', default: '1' },
    runs: { type: 'string', default: '5' },
  },
});
const { Node } = await import(new URL('../dist/index.js', import.meta.url).href);
const MIB = Number(values.mib);
const STREAMS = Number(values.streams);

/** One end of the pair: implements flexmux's Transport interface (src/transport/types.ts). */
class PassTransport {
  framing = 'stream';
  /** Sends are held by reference until delivered, then released (as a socket's write callback). */
  releasesLater = true;
  remoteAddress = 'in-process';
  bufferedAmount = 0;
  closed = false;
  peer = null;
  handlers = null;
  inbox = [];
  scheduled = false;
  paused = false;

  attach(handlers) {
    this.handlers = handlers;
    this.kick();
  }

  send(parts, onReleased) {
    if (this.closed) {
      if (onReleased !== undefined) queueMicrotask(onReleased);
      return false;
    }
    for (const p of parts) if (p.length > 0) this.peer.inbox.push(p);
    // Released in order once the parts before it were delivered.
    if (onReleased !== undefined) this.peer.inbox.push(onReleased);
    this.peer.kick();
    return true;
  }

  kick() {
    if (this.scheduled || this.handlers === null || this.paused || this.inbox.length === 0) return;
    this.scheduled = true;
    setImmediate(() => this.deliver());
  }

  deliver() {
    this.scheduled = false;
    const chunks = this.inbox;
    this.inbox = [];
    for (let i = 0; i < chunks.length; i++) {
      if (this.paused) {
        this.inbox = chunks.slice(i).concat(this.inbox);
        return;
      }
      const c = chunks[i];
      if (typeof c === 'function') c();
      else this.handlers.data(c);
    }
  }

  pauseReading() {
    this.paused = true;
  }

  resumeReading() {
    this.paused = false;
    this.kick();
  }

  close() {
    this.destroy();
  }

  destroy() {
    if (this.closed) return;
    this.closed = true;
    setImmediate(() => this.handlers?.close());
    if (!this.peer.closed) this.peer.destroy();
  }
}

function pair() {
  const a = new PassTransport();
  const b = new PassTransport();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

async function run() {
  const [a, b] = pair();
  const options = { heartbeatInterval: 0 };
  const server = new Node(b, { ...options, ip: 2, domain: 'server' });
  const client = new Node(a, { ...options, ip: 1, domain: 'client' });
  const total = MIB * 1024 * 1024;
  const perStream = Math.floor(total / STREAMS);
  let received = 0;
  let done;
  const finished = new Promise((resolve) => {
    done = resolve;
  });
  server.listen(7).on('stream', (s) =>
    s.on('data', (d) => {
      received += d.length;
      if (received >= perStream * STREAMS) done();
    }),
  );
  const streams = [];
  for (let i = 0; i < STREAMS; i++) streams.push(await client.dial('server:7'));
  const chunk = Buffer.alloc(65536, 1);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    streams.map(async (w) => {
      for (let sent = 0; sent < perStream; sent += chunk.length) {
        if (!w.write(sent + chunk.length <= perStream ? chunk : chunk.subarray(0, perStream - sent))) {
          await new Promise((resolve) => w.once('drain', resolve));
        }
      }
    }),
  );
  await finished;
  const cpu = process.cpuUsage(cpu0);
  const ms = performance.now() - t0;
  client.destroy();
  server.destroy();
  const mib = (perStream * STREAMS) / 1024 / 1024;
  return { mbps: (perStream * STREAMS) / ms / 1000, usPerMiB: (cpu.user + cpu.system) / mib };
}

await run(); // warm-up: the first runs are slower while V8 compiles the hot path
const results = [];
for (let r = 0; r < Number(values.runs); r++) {
  const res = await run();
  results.push(res);
  console.log(
    `run ${r + 1}: ${STREAMS} stream(s), ${MIB} MiB: ${res.mbps.toFixed(0)} MB/s, ` +
      `${res.usPerMiB.toFixed(0)} µs CPU per MiB (both ends)`,
  );
}
const med = [...results].sort((x, y) => x.usPerMiB - y.usPerMiB)[results.length >>> 1];
console.log(
  `median: ${med.usPerMiB.toFixed(0)} µs CPU per MiB, i.e. ${((med.usPerMiB * (1e9 / 1048576)) / 1e4).toFixed(1)} % of one core per GB/s`,
);
