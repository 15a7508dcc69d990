// Server process of bench/direct.mjs (forked with an IPC channel and --expose-gc). Listens on two
// loopback ports: one speaks flexmux (a Node per connection, streams on virtual port 80), the other
// treats every raw TCP connection as one stream. Both serve the same protocol (direct-proto.mjs).
import net from 'node:net';
import v8 from 'node:v8';
import { nodeOptions } from '../adapters/flexmux.mjs';
import { encodeCount, OP } from './direct-proto.mjs';

const { Node, tcpTransport } = await import(new URL('../../dist/index.js', import.meta.url).href);

let held = 0;
// flexmux wire counters, summed over every connection (for per-MB diagnostics in bulk phases)
const nodes = new Set();
const done = { writes: 0, framesIn: 0 };
const wireCounters = () => {
  const c = { ...done };
  for (const n of nodes) {
    c.writes += n.scheduler.writes;
    c.framesIn += n.stats.framesIn;
  }
  return c;
};
process.on('disconnect', () => process.exit(0));

function serve(stream) {
  let op = 0;
  let count = 0;
  stream.on('error', () => {});
  stream.on('data', (chunk) => {
    if (op === 0) {
      op = chunk[0];
      chunk = chunk.subarray(1);
      if (op === OP.HOLD) {
        held++;
        stream.once('close', () => held--);
      }
    }
    if (op === OP.SINK) count += chunk.length;
    else if (op === OP.ECHO && chunk.length > 0) stream.write(chunk);
  });
  stream.on('end', () => {
    if (op === OP.SINK) stream.end(encodeCount(count));
    else stream.end();
  });
}

const flexServer = net.createServer({ noDelay: true }, (socket) => {
  const node = new Node(tcpTransport(socket), { ...nodeOptions, ip: 2, domain: 'server' });
  node.on('error', () => {});
  nodes.add(node);
  node.on('close', () => {
    nodes.delete(node);
    done.writes += node.scheduler.writes;
    done.framesIn += node.stats.framesIn;
  });
  node.listen(80).on('stream', serve);
});

// allowHalfOpen: a SINK reply goes out after the client's FIN, as on a flexmux stream.
const tcpServer = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
  socket.setNoDelay(true);
  serve(socket);
});

const listen = (server) =>
  new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => resolve(server.address().port));
  });

const [flexPort, tcpPort] = await Promise.all([listen(flexServer), listen(tcpServer)]);

process.on('message', (m) => {
  if (m?.type !== 'mem') return;
  if (m.gc) {
    globalThis.gc();
    globalThis.gc();
  }
  const { rss, heapUsed, heapTotal, arrayBuffers } = process.memoryUsage();
  const { user, system } = process.cpuUsage();
  const wire = wireCounters();
  process.send({
    type: 'mem',
    id: m.id,
    rss,
    heapUsed,
    heapTotal,
    arrayBuffers,
    held,
    spaces: Object.fromEntries(v8.getHeapSpaceStatistics().map((x) => [x.space_name, x.space_size])),
    cpu: user + system,
    wire,
  });
});
process.send({ type: 'ready', flexPort, tcpPort });
