/**
 * What the admin's live event stream weighs on a switcher with N clients, and what sparkline
 * history costs in memory. No HTTP server and no timing: sizes only.
 *
 * - snapshot: bytes of one `snapshot` event as written to the stream (`event:` and `data:` lines),
 *   after most clients moved some bytes since the last sample (0 to 5 pings each), the busy
 *   case: most clients' counters and rates change. `gzip` is the same events through
 *   one deflate context per stream with a flush after each event (what a tab that accepts gzip
 *   receives), averaged over `--rounds` snapshots after the hello.
 * - delta: the same samples as `delta` events (a stream opened with `?delta=1`, the dashboard's).
 * - idle: the same with no client moving between samples.
 * - hello: bytes of the first event of a stream, plain and gzip.
 * - history: heap and array-buffer bytes held by a RateBook of `--items` keys after a full
 *   history (itemHistory + 1 rounds), as the admin keeps it (histories for the first
 *   maxSnapshotItems) and with a history for every key; measured with --expose-gc.
 *
 *   node --expose-gc --import tsx scripts/sse-size.ts [N] [--rounds 5] [--items 10000]
 */
import { constants, createGzip } from 'node:zlib';
import { adminDefaults, validateAdminOptions } from '../src/admin/config.js';
import { delta } from '../src/admin/delta.js';
import { createRegistry } from '../src/admin/metrics.js';
import { RateBook } from '../src/admin/rates.js';
import { SwitcherPanel } from '../src/admin/switcher-panel.js';
import { Switcher } from '../src/switcher/switcher.js';
import { now } from '../src/util/timers.js';
import { join, PASSWORD, type Raw } from '../test/unit/switcher/helpers.js';

const args = process.argv.slice(2);
const opt = (name: string, d: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : d;
};
const rounds = opt('--rounds', 5);
const items = opt('--items', 10_000);
const n = Number(args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--')) ?? 1_000);

const event = (name: string, data: unknown): string => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;

/** Bytes each text takes through one gzip stream, flushed after each. */
async function gzipSizes(texts: string[]): Promise<number[]> {
  const z = createGzip();
  let got = 0;
  z.on('data', (c: Buffer) => {
    got += c.length;
  });
  const sizes: number[] = [];
  for (const t of texts) {
    const before = got;
    z.write(t);
    await new Promise<void>((r) => z.flush(constants.Z_SYNC_FLUSH, () => r()));
    sizes.push(got - before);
  }
  z.destroy();
  return sizes;
}

async function streamSizes(): Promise<void> {
  const sw = new Switcher({ password: PASSWORD, maxClients: n + 10 });
  const raws: Raw[] = [];
  for (let i = 0; i < n; i += 500) {
    const batch: Promise<Raw>[] = [];
    for (let j = i; j < Math.min(n, i + 500); j++) batch.push(join(sw, `client-${j}`));
    raws.push(...(await Promise.all(batch)));
  }
  const o = validateAdminOptions({ switcher: sw });
  const panel = new SwitcherPanel(sw, o, createRegistry('switcher', false));
  let mono = now();
  // Each client moves a different amount per round (0 to 5 pings, from a fixed sequence), so
  // counters and rates differ between clients as on a real switcher.
  let seed = 1;
  const pings = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % 6;
  };
  const tick = async (busy: boolean): Promise<void> => {
    if (busy)
      await Promise.all(
        raws.map(async (r) => {
          for (let k = pings(); k > 0; k--) await r.barrier(k);
        }),
      );
    mono += 1000;
    panel.tick(mono, Date.now());
  };
  await tick(true);
  await tick(true);
  const avg = (a: number[]): number => Math.round(a.reduce((x, y) => x + y, 0) / a.length);
  for (const busy of [true, false]) {
    // The plain stream's hello has a snapshot of its own; a delta stream's is its base.
    let base = panel.snapshot();
    const full = [event('hello', panel.hello())];
    const deltas = [event('hello', panel.hello(base))];
    for (let i = 0; i < rounds; i++) {
      await tick(busy);
      const next = panel.snapshot();
      full.push(event('snapshot', next));
      deltas.push(event('delta', delta(panel.keyed(base), panel.keyed(next))));
      base = next;
    }
    const line = async (name: string, texts: string[]): Promise<string> => {
      const gz = await gzipSizes(texts);
      const plain = texts.slice(1).map((t) => Buffer.byteLength(t));
      return `${name} ${avg(plain)} B plain, ${avg(gz.slice(1))} B gzip, last ${plain[plain.length - 1]} B, ${gz[gz.length - 1]} B gzip (hello ${Buffer.byteLength(texts[0])} B, ${gz[0]} B gzip)`;
    };
    console.log(
      `${n} clients, ${rounds} ${busy ? 'busy' : 'idle'} samples: ${await line('snapshot', full)}; ` +
        `${await line('delta', deltas)}`,
    );
  }
  panel.close();
  await sw.close({ timeout: 200 });
}

function held(): number {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Bytes held by a book of `items` keys after a full history, with at most `cap` histories. */
function bookBytes(cap: number): number {
  const keys = Array.from({ length: items }, (_, i) => i);
  const before = held();
  const book = new RateBook<number>(adminDefaults.itemHistory, cap);
  for (let r = 0; r <= adminDefaults.itemHistory; r++) {
    book.begin();
    for (const k of keys) book.sample(k, r * 1000, r * 1000, r * 100, r * 50);
    book.end();
  }
  const bytes = held() - before;
  if (book.size !== items) throw new Error('the book lost keys');
  return bytes;
}

function historyBytes(): void {
  if ((globalThis as { gc?: unknown }).gc === undefined) {
    console.log('history: run with node --expose-gc to measure it');
    return;
  }
  const mb = (b: number): string => `${(b / 1e6).toFixed(2)} MB`;
  const capped = bookBytes(adminDefaults.maxSnapshotItems);
  const all = bookBytes(Number.POSITIVE_INFINITY);
  console.log(
    `rates of ${items} items: ${mb(capped)} as the admin keeps them (histories for the first ` +
      `${adminDefaults.maxSnapshotItems}); ${mb(all)} with a history for every item, ` +
      `${Math.round(all / items)} B per item`,
  );
}

// Memory first, before the switcher's garbage is about.
historyBytes();
await streamSizes();
