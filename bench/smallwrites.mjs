// What one small write to a Node writable costs, by where its bytes live:
// `node bench/smallwrites.mjs`. A fresh `new Uint8Array(11)` lives inside V8's heap and is moved
// to an ArrayBuffer of its own when Node wraps it in a Buffer; a view of a larger array or a
// Buffer is wrapped at no such cost. (A slab for frame headers built on this was tried and
// dropped: docs/performance.md, "small arrays off the heap".)
import { Writable } from 'node:stream';

const N = 2_000_000;

function run(name, make) {
  const sink = new Writable({
    write(_chunk, _enc, done) {
      done();
    },
  });
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const h = make();
    h[0] = i;
    sink.write(h);
  }
  console.log(`${name.padEnd(28)} ${(((performance.now() - t0) * 1e6) / N).toFixed(0)} ns per write`);
}

const slab = new Uint8Array(4096);
let off = 0;
for (let pass = 1; pass <= 2; pass++) {
  console.log(`pass ${pass}`);
  run('new Uint8Array(11)', () => new Uint8Array(11));
  run('view of a 4 KiB slab', () => {
    if (off + 11 > slab.length) off = 0;
    const v = slab.subarray(off, off + 11);
    off += 11;
    return v;
  });
  run('Buffer.allocUnsafe(11)', () => Buffer.allocUnsafe(11));
}
