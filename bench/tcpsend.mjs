// What a batch of small frames costs to hand to a TCP socket: `node bench/tcpsend.mjs [--frames N]
// [--payload B] [--batches K]` (after `npm run build`). Compares the TCP transport's `send`, which
// copies runs of small parts into one write (src/transport/tcp.ts), with one corked `write` per
// part, as it was before. Both senders write to their own loopback connection in this process and
// run in alternating blocks, so both see the same machine; the receivers discard what they get.
// Prints the median CPU milliseconds (user + system, the receivers' work included) per block.
import net from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    frames: { type: 'string', default: '22' },
    payload: { type: 'string', default: '0' },
    batches: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '12' },
  },
});
const { tcpTransport } = await import(new URL('../dist/index.js', import.meta.url).href);
const FRAMES = Number(values.frames);
const PAYLOAD = Number(values.payload);
const BATCHES = Number(values.batches);
const ROUNDS = Number(values.rounds);

const server = net.createServer((c) => c.on('data', () => {}));
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

async function connect() {
  const s = net.connect(server.address().port, '127.0.0.1');
  await new Promise((resolve) => s.once('connect', resolve));
  s.setNoDelay(true);
  return s;
}

/** The transport's send, with backpressure awaited through its drain handler. */
async function transportSender() {
  const t = tcpTransport(await connect());
  let onDrain = null;
  t.attach({ data() {}, drain: () => onDrain?.(), close() {} });
  return {
    send: (parts) => t.send(parts),
    drained: () => new Promise((resolve) => (onDrain = resolve)),
    close: () => t.destroy(),
  };
}

/** One corked write per part. */
async function perPartSender() {
  const s = await connect();
  return {
    send(parts) {
      s.cork();
      for (const p of parts) if (p.length > 0) s.write(p);
      s.uncork();
      return s.writableLength < s.writableHighWaterMark;
    },
    drained: () => new Promise((resolve) => s.once('drain', resolve)),
    close: () => s.destroy(),
  };
}

// Headers are fresh 11-byte arrays, as the scheduler makes them; payloads are views of a larger
// Buffer, as pieces of an application's writes or of a socket's reads are.
const source = Buffer.alloc(Math.max(1, FRAMES * PAYLOAD), 7);
function batch() {
  const parts = [];
  for (let i = 0; i < FRAMES; i++) {
    parts.push(new Uint8Array(11).fill(i));
    if (PAYLOAD > 0) parts.push(source.subarray(i * PAYLOAD, (i + 1) * PAYLOAD));
  }
  return parts;
}

async function block(sender) {
  const c0 = process.cpuUsage();
  for (let i = 0; i < BATCHES; i++) {
    if (!sender.send(batch())) await sender.drained();
    if ((i & 63) === 63) await new Promise(setImmediate);
  }
  await new Promise(setImmediate);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

const senders = { 'per-part writes': await perPartSender(), 'transport send': await transportSender() };
const times = Object.fromEntries(Object.keys(senders).map((k) => [k, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, s] of Object.entries(senders)) {
    const ms = await block(s);
    if (r >= 2) times[name].push(ms); // two warm-up rounds
  }
}
const median = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1];
console.log(
  `${BATCHES} batches of ${FRAMES} frames (11-byte header${PAYLOAD ? ` + ${PAYLOAD}-byte payload` : ''}), ` +
    `median of ${ROUNDS - 2} blocks, Node ${process.version}`,
);
for (const [name, t] of Object.entries(times))
  console.log(`  ${name.padEnd(16)} ${median(t).toFixed(0)} ms CPU`);
for (const s of Object.values(senders)) s.close();
server.close();
