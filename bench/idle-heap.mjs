// What the heap holds per idle stream, by object type, on the accepting side:
// `node bench/idle-heap.mjs [--streams 5000] [--adapter bench/adapters/flexmux.mjs]` (after
// `npm run build`). This process is the client; it forks itself as the server, which takes each
// stream as the shared harness's S6 server does (four listeners and a Set entry; the same for
// every muxer). The server writes a heap snapshot with no streams and one with `--streams` idle
// ones open; the difference, grouped by constructor (V8's node type for the rest), divided by the
// number of streams, is printed largest first. Snapshots go to a temp dir and are deleted.
import { fork } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { byType, diff } from './lib/heap-diff.mjs';

const self = fileURLToPath(import.meta.url);
const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '5000' },
    adapter: { type: 'string', default: path.join(path.dirname(self), 'adapters/flexmux.mjs') },
    server: { type: 'boolean', default: false },
    top: { type: 'string', default: '16' },
  },
});
const adapterUrl = pathToFileURL(path.resolve(values.adapter)).href;
const HOLD = Buffer.from([3, 0, 0, 0, 0, 0, 0, 0, 0]); // any 9-byte header: the server only counts it

if (values.server) await serve();
else await measure(Number(values.streams));

/** The server: counts held streams, and snapshots its heap when asked. */
async function serve() {
  const { server } = await import(adapterUrl);
  const held = new Set();
  const srv = net.createServer({ noDelay: true }, (socket) => {
    server(socket, (stream) => {
      let op = 0;
      let done = false;
      stream.on('error', () => {});
      stream.on('end', () => {
        if (!done && op === 0) {
          done = true;
          stream.end();
        }
      });
      stream.on('close', () => held.delete(stream));
      stream.on('data', () => {
        if (op !== 0) return;
        op = 3;
        held.add(stream);
        process.send({ held: held.size });
      });
    });
  });
  srv.listen(0, '127.0.0.1', () => process.send({ port: srv.address().port }));
  process.on('message', (m) => {
    if (m?.snapshot === undefined) return;
    globalThis.gc();
    globalThis.gc();
    process.send({ file: v8.writeHeapSnapshot(m.snapshot), heapUsed: process.memoryUsage().heapUsed });
  });
}

/** The client: opens the streams and compares the server's two snapshots. */
async function measure(n) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idle-heap-'));
  const child = fork(self, ['--server', '--adapter', values.adapter], { execArgv: ['--expose-gc'] });
  const messages = [];
  let wake = null;
  child.on('message', (m) => {
    messages.push(m);
    wake?.();
  });
  const next = async (pred) => {
    for (;;) {
      const i = messages.findIndex(pred);
      if (i >= 0) return messages.splice(i, 1)[0];
      await new Promise((r) => {
        wake = r;
      });
    }
  };
  try {
    const { port } = await next((m) => m.port !== undefined);
    const { client } = await import(adapterUrl);
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    await new Promise((r) => socket.once('connect', r));
    const conn = await client(socket);
    // A few streams first, so that code paths and tables exist in both snapshots.
    const open = async (count) => {
      for (let k = 0; k < count; k++) {
        const st = await conn.openStream();
        st.on('error', () => {});
        st.write(HOLD);
        if ((k & 255) === 255) await new Promise(setImmediate);
      }
    };
    const heldAt = async (count) => {
      await next((m) => m.held === count);
      messages.length = 0;
    };
    await open(16);
    await heldAt(16);
    child.send({ snapshot: path.join(dir, 'before.heapsnapshot') });
    const before = await next((m) => m.file !== undefined);
    await open(n);
    await heldAt(16 + n);
    child.send({ snapshot: path.join(dir, 'after.heapsnapshot') });
    const after = await next((m) => m.file !== undefined);
    const rows = diff(byType(before.file), byType(after.file), n);
    const total = rows.reduce((s, r) => s + r.bytes, 0);
    console.log(`Node ${process.version}, ${n} idle streams, adapter ${path.basename(values.adapter)}`);
    console.log(
      `heapUsed per stream ${((after.heapUsed - before.heapUsed) / n).toFixed(0)} B; snapshot objects ${total.toFixed(0)} B`,
    );
    console.log('| B/stream | objects/stream | type |\n|--:|--:|---|');
    for (const r of rows.slice(0, Number(values.top))) {
      console.log(`| ${r.bytes.toFixed(1)} | ${r.count.toFixed(2)} | ${r.type} |`);
    }
    await conn.close?.();
  } finally {
    child.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
