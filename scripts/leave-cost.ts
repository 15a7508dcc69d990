/**
 * What a client's leave costs the switcher (SwitcherClient.unroute): N streams between two raw
 * nodes on memory transports, then one node hangs up; prints the time of the synchronous turn
 * that handles it (Switcher side `closed`), and of the survivor's flush of the ends it gets.
 *
 *   npx tsx scripts/leave-cost.ts [N...] [--v3] [--kick]
 *
 * --v3: streams without RESET (each survivor gets a CloseStream instead of a reset).
 * --kick: the switcher kicks the client (leave at close()) instead of the node hanging up.
 * --stuck: the survivor does not read, and the leaving node sent a data frame on every stream
 *   first: its frames wait at the switcher when it leaves (resetPlan drops them).
 * --early: domain dials offering early data (each keeps a route until its stream ends).
 * --dialer: the dialer leaves rather than the acceptor.
 */
import { performance } from 'node:perf_hooks';
import { SwitcherClient } from '../src/switcher/client.js';
import { Switcher } from '../src/switcher/switcher.js';
import { Caps, Cmd } from '../src/wire/constants.js';
import { makeFrame } from '../src/wire/frame.js';
import { encodeOpen, encodeOpenAck } from '../src/wire/open.js';
import { join, PASSWORD, type Raw } from '../test/unit/switcher/helpers.js';

const args = process.argv.slice(2);
const v3 = args.includes('--v3');
const kick = args.includes('--kick');
const stuck = args.includes('--stuck');
const early = args.includes('--early');
const dialerLeaves = args.includes('--dialer');
const sizes = args.filter((a) => !a.startsWith('--')).map(Number);

let lastTurn = 0;
const proto = SwitcherClient.prototype as unknown as {
  closed(err?: Error): void;
  close(...a: unknown[]): void;
};
for (const name of ['closed', 'close'] as const) {
  const orig = proto[name];
  (proto as unknown as Record<string, (...a: unknown[]) => void>)[name] = function (
    this: unknown,
    ...a: unknown[]
  ) {
    const t0 = performance.now();
    (orig as (...x: unknown[]) => void).apply(this, a);
    lastTurn += performance.now() - t0;
  };
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setImmediate(r));
}

async function once(n: number): Promise<{ turn: number; flush: number }> {
  // Queue bounds high enough that --stuck never pauses the leaving node (its barrier must pass).
  const big = 2 ** 30;
  const sw = new Switcher({
    password: PASSWORD,
    maxStreamsPerClient: 65_536,
    maxQueuePerSource: big,
    maxQueuePerClient: big,
  });
  const dial: Raw = await join(sw, 'dial');
  const acc: Raw = await join(sw, 'acc');
  const caps = v3 ? undefined : Caps.RESET | Caps.HALF_CLOSE | (early ? Caps.EARLY_DATA : 0);
  const open = encodeOpen({ domain: early ? 'acc' : '', caps });
  const dst = early ? 0xffff : acc.ip;
  for (let p = 1; p <= n; p++) dial.send(makeFrame(Cmd.OPEN, dst, 80, dial.ip, p, open));
  await until(() => acc.inbox.length >= n);
  acc.inbox.length = 0;
  const ack = encodeOpenAck({ window: 0, caps });
  for (let p = 1; p <= n; p++) acc.send(makeFrame(Cmd.OPEN_ACK, dial.ip, p, acc.ip, 80, ack));
  await until(() => dial.inbox.length >= n);
  dial.inbox.length = 0;
  if (sw.client('dial')?.streams !== n) throw new Error(`expected ${n} streams`);
  let [leaver, survivor, name] = [acc, dial, 'acc'];
  if (dialerLeaves) [leaver, survivor, name] = [dial, acc, 'dial'];
  if (stuck) {
    survivor.t.pauseReading();
    const data = new Uint8Array(100);
    for (let p = 1; p <= n; p++) {
      const [dp, sp] = dialerLeaves ? [80, p] : [p, 80];
      leaver.send(makeFrame(Cmd.DATA, survivor.ip, dp, leaver.ip, sp, data));
    }
    await leaver.barrier();
  }
  lastTurn = 0;
  const t0 = performance.now();
  if (kick) sw.kick(name);
  else leaver.t.destroy();
  if (stuck) survivor.t.resumeReading();
  const end = v3 ? Cmd.CLOSE : Cmd.RESET;
  await until(() => survivor.inbox.filter((f) => f.cmd !== Cmd.DATA).length >= n);
  const flush = performance.now() - t0;
  if (!survivor.inbox.every((f) => f.cmd === end || f.cmd === Cmd.DATA)) throw new Error('unexpected frames');
  await sw.close({ timeout: 200 });
  return { turn: lastTurn, flush };
}

for (const n of sizes.length > 0 ? sizes : [2_000, 8_000, 32_000]) {
  // The first run is the cold one (a leave is rare: its code is seldom optimised); then best of 5.
  const cold = await once(n);
  const runs: { turn: number; flush: number }[] = [];
  for (let i = 0; i < 5; i++) runs.push(await once(n));
  const best = (k: 'turn' | 'flush'): number => Math.min(...runs.map((r) => r[k]));
  const us = (ms: number): string => `${((ms / n) * 1000).toFixed(2)} µs/stream`;
  console.log(
    `${n} streams: leave turn cold ${cold.turn.toFixed(1)} ms (${us(cold.turn)}), warm ${best('turn').toFixed(1)} ms` +
      ` (${us(best('turn'))}); all ends arrived after ${best('flush').toFixed(1)} ms warm`,
  );
}
