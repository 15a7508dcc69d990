// One-way delays of 64-byte pings beside a saturating stream, flexmux over loopback TCP, two
// processes: `node bench/oneway.mjs [--shared-inflight BYTES] [--pings N]` (after `npm run build`).
// Each ping carries the client's send time; the server adds its receive time and echoes it, so the
// client splits every round trip into client -> server and server -> client (both processes read
// the same machine clock through performance.timeOrigin + performance.now()). The bulk stream
// writes 64 KiB chunks and yields to the event loop after each, like the shared harness's S5.
// Prints one line of p50 / p99 per direction and for the round trip, and the bulk stream's rate
// while the pings ran.
import net from 'node:net';
import { parseArgs } from 'node:util';
import { Reader } from './lib/direct-proto.mjs';
import { forkChild, latency, startWatchdog } from './lib/relay-ipc.mjs';

const { values } = parseArgs({
  options: {
    'shared-inflight': { type: 'string', default: String(256 * 1024) },
    pings: { type: 'string', default: '3000' },
    server: { type: 'boolean', default: false },
  },
});
const { Node, tcpTransport } = await import(new URL('../dist/index.js', import.meta.url).href);
const options = { heartbeatInterval: 0, sharedInflight: Number(values['shared-inflight']) };
const PING = 64;
const wallUs = () => (performance.timeOrigin + performance.now()) * 1000;

if (values.server) {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    const node = new Node(tcpTransport(socket), { ...options, ip: 2, domain: 'server' });
    node.on('error', () => {});
    // Echo port: stamp the receive time into bytes 8..15 and send the ping back. A stream is a
    // byte stream: a ping may arrive in pieces, so read whole 64-byte pings.
    node.listen(8).on('stream', (s) => {
      const reader = new Reader(s);
      (async () => {
        for (;;) {
          const b = Buffer.from(await reader.read(PING));
          b.writeDoubleLE(wallUs(), 8);
          s.write(b);
        }
      })().catch(() => {}); // the stream closes at the end of the run
    });
    node.listen(7).on('stream', (s) => s.resume());
  });
  server.listen(0, '127.0.0.1', () => process.send({ type: 'ready', port: server.address().port }));
  process.on('disconnect', () => process.exit(0));
} else {
  startWatchdog('oneway', 60_000);
  const child = forkChild(
    new URL(import.meta.url),
    ['--server', '--shared-inflight', values['shared-inflight']],
    'oneway server',
  );
  const { port } = await child.ready();
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.setNoDelay(true);
  const node = new Node(tcpTransport(socket), { ...options, ip: 1, domain: 'client' });
  node.on('error', () => {});
  const ping = await node.dial('server:8');
  const echoes = new Reader(ping);
  const bulk = await node.dial('server:7');
  const chunk = Buffer.alloc(65536, 1);
  let stop = false;
  let bulkBytes = 0;
  const bulkLoop = (async () => {
    while (!stop) {
      bulkBytes += chunk.length;
      if (!bulk.write(chunk)) await new Promise((resolve) => bulk.once('drain', resolve));
      await new Promise(setImmediate);
    }
  })();
  await new Promise((resolve) => setTimeout(resolve, 500)); // let the queues fill
  const up = [];
  const down = [];
  const rtt = [];
  const bytes0 = bulkBytes;
  const started = performance.now();
  for (let i = 0; i < Number(values.pings); i++) {
    const b = Buffer.alloc(PING);
    const t0 = wallUs();
    b.writeDoubleLE(t0, 0);
    ping.write(b);
    const echoed = await echoes.read(PING);
    const t2 = wallUs();
    const t1 = echoed.readDoubleLE(8);
    up.push(t1 - t0);
    down.push(t2 - t1);
    rtt.push(t2 - t0);
  }
  const bulkMBps = (bulkBytes - bytes0) / ((performance.now() - started) * 1000);
  stop = true;
  await bulkLoop;
  const row = (xs) => {
    const { p50, p99 } = latency(xs);
    return `p50 ${p50.toFixed(0)} / p99 ${p99.toFixed(0)} µs`;
  };
  console.log(
    `sharedInflight ${options.sharedInflight}: client->server ${row(up)}, server->client ${row(down)}, ` +
      `round trip ${row(rtt)}; bulk ${bulkMBps.toFixed(0)} MB/s`,
  );
  node.destroy();
  child.proc.disconnect();
}
