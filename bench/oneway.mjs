// One-way delays of 64-byte pings beside a saturating stream, flexmux over loopback TCP, two
// processes: `node bench/oneway.mjs [--shared-inflight BYTES] [--pings N]` (after `npm run build`).
// Each ping carries the client's send time; the server adds its receive time and echoes it, so the
// client splits every round trip into client -> server and server -> client (both processes read
// the same machine clock through performance.timeOrigin + performance.now()). The bulk stream
// writes 64 KiB chunks and yields to the event loop after each, like the shared harness's S5.
// Prints one line of p50 / p99 per direction and for the round trip.
import { fork } from 'node:child_process';
import net from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    'shared-inflight': { type: 'string', default: String(256 * 1024) },
    pings: { type: 'string', default: '3000' },
    server: { type: 'boolean', default: false },
  },
});
const { Node, tcpTransport } = await import(new URL('../dist/index.js', import.meta.url).href);
const options = { heartbeatInterval: 0, sharedInflight: Number(values['shared-inflight']) };
const wallUs = () => (performance.timeOrigin + performance.now()) * 1000;

if (values.server) {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    const node = new Node(tcpTransport(socket), { ...options, ip: 2, domain: 'server' });
    node.on('error', () => {});
    // Echo port: stamp the receive time into bytes 8..15 and send the ping back.
    node.listen(8).on('stream', (s) =>
      s.on('data', (d) => {
        const b = Buffer.from(d);
        b.writeDoubleLE(wallUs(), 8);
        s.write(b);
      }),
    );
    node.listen(7).on('stream', (s) => s.resume());
  });
  server.listen(0, '127.0.0.1', () => process.send(server.address().port));
  process.on('disconnect', () => process.exit(0));
} else {
  const child = fork(new URL(import.meta.url), ['--server', '--shared-inflight', values['shared-inflight']]);
  const watchdog = setTimeout(() => {
    console.error('oneway: no result within 60 s');
    child.kill();
    process.exit(1);
  }, 60_000);
  const port = await new Promise((resolve) => child.once('message', resolve));
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.setNoDelay(true);
  const node = new Node(tcpTransport(socket), { ...options, ip: 1, domain: 'client' });
  node.on('error', () => {});
  const ping = await node.dial('server:8');
  const bulk = await node.dial('server:7');
  const chunk = Buffer.alloc(65536, 1);
  let stop = false;
  const bulkLoop = (async () => {
    while (!stop) {
      if (!bulk.write(chunk)) await new Promise((resolve) => bulk.once('drain', resolve));
      await new Promise(setImmediate);
    }
  })();
  await new Promise((resolve) => setTimeout(resolve, 500)); // let the queues fill
  const up = [];
  const down = [];
  const rtt = [];
  for (let i = 0; i < Number(values.pings); i++) {
    const b = Buffer.alloc(64);
    const t0 = wallUs();
    b.writeDoubleLE(t0, 0);
    const back = new Promise((resolve) => ping.once('data', resolve));
    ping.write(b);
    const echoed = await back;
    const t2 = wallUs();
    const t1 = echoed.readDoubleLE(8);
    up.push(t1 - t0);
    down.push(t2 - t1);
    rtt.push(t2 - t0);
  }
  stop = true;
  await bulkLoop;
  const pct = (xs, f) => [...xs].sort((a, b) => a - b)[Math.floor(f * (xs.length - 1))].toFixed(0);
  const row = (xs) => `p50 ${pct(xs, 0.5)} / p99 ${pct(xs, 0.99)} µs`;
  console.log(
    `sharedInflight ${options.sharedInflight}: client->server ${row(up)}, server->client ${row(down)}, ` +
      `round trip ${row(rtt)}`,
  );
  clearTimeout(watchdog);
  node.destroy();
  child.disconnect();
}
