// How V8's young generation grows while N long-lived items are made, as a function of the bytes
// each one keeps, with no muxer at all: the fixed cost behind the shared harness's S6 RSS figure
// (docs/performance.md, "RSS per idle stream").
//
//   node --expose-gc bench/young-gen.mjs [--items 10000] [--sizes 500,700,800,900,1100,1400]
//
// For each size (a fresh process each, so that every run starts from V8's initial semi-spaces),
// the child makes `items` arrays of small objects kept until the end (about `size` bytes of heap
// each), with some garbage beside each one as a muxer's frames would make, yielding to the event
// loop every 256 items as the harness's S6 client does; then, after two full collections, it
// reports heap used and RSS per item and the new space's size before and after.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';

const { values } = parseArgs({
  options: {
    items: { type: 'string', default: '10000' },
    sizes: { type: 'string', default: '500,700,800,900,1100,1400' },
    child: { type: 'string' },
  },
});
const items = Number(values.items);

if (values.child !== undefined) await child(Number(values.child));
else parent();

function parent() {
  const self = fileURLToPath(import.meta.url);
  console.log(`Node ${process.version}, ${items} items kept, a fresh process per size`);
  console.log('| bytes asked per item | heap used B/item | RSS B/item | new space MiB before → after |');
  console.log('|--:|--:|--:|---|');
  for (const size of values.sizes.split(',').map(Number)) {
    const out = execFileSync(process.execPath, [
      '--expose-gc',
      self,
      '--items',
      String(items),
      '--child',
      String(size),
    ]);
    const r = JSON.parse(String(out));
    console.log(`| ${size} | ${r.heap} | ${r.rss} | ${r.newBefore} → ${r.newAfter} |`);
  }
}

async function child(size) {
  const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
  globalThis.gc();
  globalThis.gc();
  const m0 = process.memoryUsage();
  const n0 = newSpace();
  const kept = [];
  let garbage = 0;
  for (let i = 0; i < items; i++) {
    const item = [];
    for (let k = 0; k < size / 48; k++) item.push({ a: i, b: k, c: null, d: null });
    kept.push(item);
    for (let g = 0; g < 20; g++) garbage += new Array(16).length;
    if ((i & 255) === 255) await new Promise(setImmediate);
  }
  await new Promise((r) => setTimeout(r, 200));
  globalThis.gc();
  globalThis.gc();
  const m1 = process.memoryUsage();
  const mib = (b) => (b / 1048576).toFixed(0);
  process.stdout.write(
    JSON.stringify({
      heap: Math.round((m1.heapUsed - m0.heapUsed) / items),
      rss: Math.round((m1.rss - m0.rss) / items),
      newBefore: mib(n0),
      newAfter: mib(newSpace()),
      kept: kept.length,
      garbage: garbage > 0,
    }),
  );
}
