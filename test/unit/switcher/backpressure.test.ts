import { afterEach, describe, expect, it } from 'vitest';
import type { SwitcherClient } from '../../../src/switcher/client.js';
import type { SwitcherOptions } from '../../../src/switcher/config.js';
import type { Registry } from '../../../src/switcher/registry.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { memoryPair } from '../../../src/transport/memory.js';
import { Cmd } from '../../../src/wire/constants.js';
import { makeFrame } from '../../../src/wire/frame.js';
import { admitRaw, connectRaw, join, PASSWORD, Raw } from './helpers.js';

/**
 * One slow destination must not stall the others, and the switcher's memory stays bounded:
 * the source feeding a stalled destination is paused (backpressure), nothing is dropped.
 */

const switchers: Switcher[] = [];
afterEach(async () => {
  await Promise.all(switchers.splice(0).map((s) => s.close({ timeout: 500 })));
});

const CHUNK = 16 * 1024;

function flood(from: Raw, to: Raw, frames: number, port: number): void {
  for (let i = 0; i < frames; i++) {
    const payload = new Uint8Array(CHUNK).fill(i & 0xff);
    from.send(makeFrame(Cmd.DATA, to.ip, 7, from.ip, port, payload));
  }
}

async function receive(raw: Raw, frames: number, port: number): Promise<void> {
  for (let i = 0; i < frames; i++) {
    const f = await raw.next((x) => x.cmd === Cmd.DATA && x.dstPort === 7 && x.srcPort === port, 10_000);
    expect([f.payload.length, f.payload[0], f.payload[CHUNK - 1]]).toEqual([CHUNK, i & 0xff, i & 0xff]);
  }
}

/**
 * A switcher (64 KiB queued per source, and `options`) with nodes a and b: b stops reading and
 * a floods it with 64 chunks, more than its queue holds.
 */
async function stalledPair(options: Partial<SwitcherOptions>): Promise<{ sw: Switcher; a: Raw; b: Raw }> {
  const sw = new Switcher({ password: PASSWORD, maxQueuePerSource: 64 * 1024, ...options });
  switchers.push(sw);
  const a = await join(sw, 'a');
  const b = await join(sw, 'b');
  b.t.pauseReading();
  flood(a, b, 64, 1000);
  return { sw, a, b };
}

describe('switcher backpressure', () => {
  it('pauses no source on a destination whose connection ended while it took nothing', async () => {
    const sw = new Switcher({ password: PASSWORD, maxQueuePerSource: 64 * 1024 });
    switchers.push(sw);
    const a = await join(sw, 'a');
    // b takes a minute to give up on its close: its connection ends that late.
    const [bt, st] = memoryPair({ closeTimeout: 60_000, remoteAddresses: ['switcher', '192.0.2.2:1'] });
    sw.handle(st);
    const b = new Raw(bt);
    await admitRaw(b, 'b');
    b.t.pauseReading();
    // 288 KiB: the connection to b takes 256 KiB and no more, the rest (under the bound) waits.
    flood(a, b, 18, 1000);
    await a.barrier();
    expect(sw.client('b')?.queuedBytes).toBeGreaterThan(0);
    // b ends its side: the switcher's end of the connection is closed, its writer still waiting.
    b.t.close();
    await a.barrier();
    flood(a, b, 8, 1000);
    await a.barrier();
    // What b can never be sent is let go of, not held against a until b's connection ends.
    expect(sw.client('a')?.paused).toBe(false);
    expect(sw.client('b')?.queuedBytes).toBe(0);
    b.t.destroy();
  });

  it('pauses the source of a stalled destination while other traffic flows', async () => {
    const perSource = 64 * 1024;
    const sw = new Switcher({ password: PASSWORD, maxQueuePerSource: perSource });
    switchers.push(sw);
    const a = await join(sw, 'a');
    const b = await join(sw, 'b');
    const c = await join(sw, 'c');
    const d = await join(sw, 'd');
    b.t.pauseReading();
    const total = 128; // 2 MiB
    flood(a, b, total, 1000);
    await expect.poll(() => sw.client('a')?.paused).toBe(true);
    // Meanwhile c -> d is not held up by the stalled b.
    flood(c, d, 64, 2000);
    await receive(d, 64, 2000);
    const queued = sw.client('b')!.queuedBytes;
    expect(queued).toBeLessThanOrEqual(perSource + CHUNK + 11);
    expect(sw.client('a')?.paused).toBe(true);
    expect(sw.client('c')?.paused).toBe(false);
    // b reads again: everything a sent arrives, in order, nothing dropped.
    b.t.resumeReading();
    await receive(b, total, 1000);
    expect(sw.client('a')?.paused).toBe(false);
    expect(sw.client('a')?.dropped).toBe(0);
  });

  it('bounds the total queued for one destination across sources', async () => {
    const perClient = 128 * 1024;
    const sw = new Switcher({ password: PASSWORD, maxQueuePerClient: perClient });
    switchers.push(sw);
    const sink = await join(sw, 'sink');
    const sources = [await join(sw, 's1'), await join(sw, 's2'), await join(sw, 's3')];
    sink.t.pauseReading();
    for (const [i, s] of sources.entries()) flood(s, sink, 64, 3000 + i);
    await expect.poll(() => ['s1', 's2', 's3'].every((d) => sw.client(d)?.paused)).toBe(true);
    expect(sw.client('sink')!.queuedBytes).toBeLessThanOrEqual(perClient + 3 * (CHUNK + 11));
    sink.t.resumeReading();
    await Promise.all(sources.map((_, i) => receive(sink, 64, 3000 + i)));
    await expect.poll(() => sw.clients().some((c) => c.paused)).toBe(false);
  });

  it('counts a holder paused by backpressure as alive: its domain is not taken over', async () => {
    const { sw, a, b } = await stalledPair({ livenessTimeout: 50 });
    await expect.poll(() => sw.client('a')?.paused).toBe(true);
    const res = await admitRaw(connectRaw(sw), 'a');
    expect(res.errCode).toBe(-2);
    expect(a.inbox.filter((f) => f.cmd === Cmd.PING)).toEqual([]);
    b.t.resumeReading();
    await receive(b, 64, 1000);
  });

  it('with stallTimeout 0, gives the domain of a holder that reads nothing to a newcomer', async () => {
    // b stops reading and holds a back: b is paused on its own account (not busy sending). With
    // the stall rule off, only the takeover ping can find it dead: it takes no byte meanwhile.
    const { sw, b } = await stalledPair({ livenessTimeout: 50, stallTimeout: 0 });
    await expect.poll(() => sw.client('a')?.paused && sw.client('b')?.paused).toBe(true);
    const res = await admitRaw(connectRaw(sw), 'b');
    expect(res.errCode).toBe(0);
    expect(sw.client('b')?.ip).toBe(res.ip);
    expect(res.ip).not.toBe(b.ip);
    // a, held back by b only, reads again.
    await expect.poll(() => sw.client('a')?.paused).toBe(false);
  });

  it('keeps the domain of a holder that holds others back but takes bytes while pinged', async () => {
    const { sw, b } = await stalledPair({ livenessTimeout: 1_000, stallTimeout: 0 });
    await expect.poll(() => sw.client('b')?.paused).toBe(true);
    // A slow reader, not a dead one: it reads on while the takeover ping is out (and, being a raw
    // node, never answers it), so its domain is not taken.
    const claim = admitRaw(connectRaw(sw), 'b');
    const inner = (sw as unknown as { registry: Registry<SwitcherClient> }).registry.byDomain('b');
    await expect.poll(() => inner?.liveness.pending).toBe(1);
    b.t.resumeReading();
    expect((await claim).errCode).toBe(-2);
    expect(sw.client('b')?.ip).toBe(b.ip);
  });

  it('lets the sources of a destination that is kicked read again at once, not at its close timeout', async () => {
    const sw = new Switcher({ password: PASSWORD, maxQueuePerSource: 64 * 1024 });
    switchers.push(sw);
    const a = await join(sw, 'a');
    const b = await join(sw, 'b');
    const c = await join(sw, 'c');
    b.t.pauseReading();
    flood(a, b, 64, 1000);
    await expect.poll(() => sw.client('a')?.paused).toBe(true);
    // b's connection has taken what it will: what waits for it cannot be written.
    const inner = (sw as unknown as { registry: Registry<SwitcherClient> }).registry.byDomain('b');
    await expect.poll(() => inner?.outbox.scheduler.isBlocked).toBe(true);
    // So it ends only when its close times out (5 s). Nothing more is routed to it meanwhile: a,
    // and a's streams to c, must not wait for that.
    expect(sw.kick('b')).toBe(true);
    expect(sw.client('a')?.paused).toBe(false);
    flood(a, c, 4, 1001);
    await receive(c, 4, 1001);
  });
});
