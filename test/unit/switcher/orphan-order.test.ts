import { afterEach, describe, expect, it } from 'vitest';
import { Switcher } from '../../../src/switcher/switcher.js';
import { memoryPair } from '../../../src/transport/memory.js';
import { Caps, Cmd } from '../../../src/wire/constants.js';
import { makeFrame } from '../../../src/wire/frame.js';
import { encodeOpen, encodeOpenAck } from '../../../src/wire/open.js';
import { admitRaw, join, PASSWORD, Raw } from './helpers.js';

/**
 * PROTOCOL.md 7.5: frames from one source to one destination leave in arrival order, data before
 * close. When a node leaves with a plain v3 stream still open, the switcher tells the survivor with
 * a CloseStream (client.ts endOrphans). That close stands for the departed end and must come after
 * the data that end sent first: a Go survivor closes its read side on 0x04 (5.3) and drops every
 * data frame behind it.
 */

const switchers: Switcher[] = [];
afterEach(async () => {
  await Promise.all(switchers.splice(0).map((s) => s.close({ timeout: 500 })));
});

const CHUNK = 16 * 1024;

describe('orphaned v3 stream', () => {
  it("the survivor gets every data frame of the departed end before the switcher's CloseStream", async () => {
    const sw = new Switcher({ password: PASSWORD });
    switchers.push(sw);
    const acc = await join(sw, 'acc');
    const dial = await join(sw, 'dial');
    // dial -> acc:80 by IP, plain v3 (no caps byte), so the switcher links the stream.
    dial.send(makeFrame(Cmd.OPEN, acc.ip, 80, dial.ip, 1000, encodeOpen({ domain: '' })));
    await acc.next((f) => f.cmd === Cmd.OPEN);
    acc.send(makeFrame(Cmd.OPEN_ACK, dial.ip, 1000, acc.ip, 80, encodeOpenAck({ window: 0 })));
    await dial.next((f) => f.cmd === Cmd.OPEN_ACK);
    // The dialer reads slowly: what the acceptor sends queues in the switcher.
    dial.t.pauseReading();
    const frames = 64; // 1 MiB, above the memory transport's 256 KiB in flight
    for (let i = 0; i < frames; i++) {
      acc.send(makeFrame(Cmd.DATA, dial.ip, 1000, acc.ip, 80, new Uint8Array(CHUNK).fill(i)));
    }
    await expect.poll(() => sw.client('dial')!.queuedBytes).toBeGreaterThan(0);
    await expect.poll(() => sw.client('acc')!.framesIn).toBeGreaterThanOrEqual(frames + 1);
    // The acceptor's node goes away without closing the stream (Go Node.Close does this, 5.4).
    acc.t.destroy();
    await expect.poll(() => sw.client('acc')).toBeUndefined();
    dial.t.resumeReading();
    const order: string[] = [];
    for (;;) {
      const f = await dial.next((x) => x.cmd === Cmd.DATA || x.cmd === Cmd.CLOSE, 5_000);
      order.push(f.cmd === Cmd.DATA ? 'data' : 'close');
      if (f.cmd === Cmd.CLOSE) break;
    }
    // Every data frame first, then the close.
    expect(order.indexOf('close')).toBe(frames);
  });

  it("a survivor that negotiated reset gets the departed acceptor's queued ACK before the reset", async () => {
    const sw = new Switcher({ password: PASSWORD });
    switchers.push(sw);
    const acc = await join(sw, 'acc');
    const dial = await join(sw, 'dial');
    // dial -> acc:80 by IP, offering reset.
    dial.send(makeFrame(Cmd.OPEN, acc.ip, 80, dial.ip, 1000, encodeOpen({ domain: '', caps: Caps.RESET })));
    await acc.next((f) => f.cmd === Cmd.OPEN);
    // The dialer reads slowly: the acceptor's earlier frames (another stream's data) and then its
    // ACK queue in the switcher.
    dial.t.pauseReading();
    const frames = 64; // 1 MiB, above the memory transport's 256 KiB in flight
    for (let i = 0; i < frames; i++) {
      acc.send(makeFrame(Cmd.DATA, dial.ip, 2000, acc.ip, 81, new Uint8Array(CHUNK).fill(i)));
    }
    acc.send(
      makeFrame(Cmd.OPEN_ACK, dial.ip, 1000, acc.ip, 80, encodeOpenAck({ window: 0, caps: Caps.RESET })),
    );
    await expect.poll(() => sw.client('acc')!.framesIn).toBeGreaterThanOrEqual(frames + 1);
    expect(sw.client('dial')!.queuedBytes).toBeGreaterThan(0);
    // The acceptor goes away with the ACK still queued for the dialer.
    acc.t.destroy();
    await expect.poll(() => sw.client('acc')).toBeUndefined();
    dial.t.resumeReading();
    const order: string[] = [];
    const mine = (f: { cmd: number; dstPort: number }): boolean =>
      f.dstPort === 1000 && (f.cmd === Cmd.OPEN_ACK || f.cmd === Cmd.RESET);
    for (;;) {
      const f = await dial.next(mine, 5_000);
      order.push(f.cmd === Cmd.OPEN_ACK ? 'ack' : 'reset');
      if (order.length === 2) break;
    }
    // A reset ahead of the ACK finds no stream at the dialer's node, and the ACK then makes one
    // whose other end is gone: the ACK first, then the reset that ends it.
    expect(order).toEqual(['ack', 'reset']);
  });
});

describe('orphaned streams that negotiated reset', () => {
  it("are reset ahead of the departed end's queued frames, which are dropped; v3 streams keep theirs", async () => {
    const sw = new Switcher({ password: PASSWORD });
    switchers.push(sw);
    const acc = await join(sw, 'acc');
    const dial = await join(sw, 'dial');
    // dial -> acc:80 from 1000 with reset, dial -> acc:81 from 1001 plain v3.
    for (const [port, from, caps] of [
      [80, 1000, Caps.RESET],
      [81, 1001, undefined],
    ] as const) {
      dial.send(makeFrame(Cmd.OPEN, acc.ip, port, dial.ip, from, encodeOpen({ domain: '', caps })));
      await acc.next((f) => f.cmd === Cmd.OPEN && f.dstPort === port);
      acc.send(makeFrame(Cmd.OPEN_ACK, dial.ip, from, acc.ip, port, encodeOpenAck({ window: 0, caps })));
      await dial.next((f) => f.cmd === Cmd.OPEN_ACK && f.dstPort === from);
    }
    // The dialer reads slowly: 1 MiB on the reset stream, then 8 frames on the v3 one, queue.
    dial.t.pauseReading();
    const frames = 64;
    for (let i = 0; i < frames; i++) {
      acc.send(makeFrame(Cmd.DATA, dial.ip, 1000, acc.ip, 80, new Uint8Array(CHUNK).fill(i)));
    }
    for (let i = 0; i < 8; i++) {
      acc.send(makeFrame(Cmd.DATA, dial.ip, 1001, acc.ip, 81, new Uint8Array(CHUNK).fill(i)));
    }
    await expect.poll(() => sw.client('acc')!.framesIn).toBeGreaterThanOrEqual(frames + 10);
    expect(sw.client('dial')!.queuedBytes).toBeGreaterThan(512 * 1024);
    acc.t.destroy();
    await expect.poll(() => sw.client('acc')).toBeUndefined();
    // What still waits for the dialer: the v3 stream's data, its close and the reset.
    expect(sw.client('dial')!.queuedBytes).toBeLessThan(8 * (CHUNK + 11) + 128);
    dial.t.resumeReading();
    const seen: string[] = [];
    for (let ended = 0; ended < 2; ) {
      const f = await dial.next((x) => x.cmd === Cmd.DATA || x.cmd === Cmd.RESET || x.cmd === Cmd.CLOSE);
      const name = f.cmd === Cmd.DATA ? 'data' : f.cmd === Cmd.RESET ? 'reset' : 'close';
      seen.push(`${name}:${f.dstPort}`);
      if (f.cmd !== Cmd.DATA) ended++;
    }
    const reset = seen.indexOf('reset:1000');
    // Only what had left the switcher before (the link's 256 KiB in flight) precedes the reset;
    // the rest of that stream's data was dropped.
    expect(reset).toBeGreaterThanOrEqual(0);
    expect(reset).toBeLessThan(frames / 2);
    expect(seen.slice(reset).filter((x) => x === 'data:1000')).toEqual([]);
    // The v3 stream gets all its data, then its close.
    expect(seen.filter((x) => x === 'data:1001')).toHaveLength(8);
    expect(seen.at(-1)).toBe('close:1001');
  });
});

describe('a survivor held back by the queue of a node that leaves', () => {
  it('reads again once the dropped frames of its reset streams empty that queue', async () => {
    const sw = new Switcher({ password: PASSWORD, maxQueuePerSource: 64 * 1024 });
    switchers.push(sw);
    // The acceptor's link will go dark: its connection then ends only after a minute.
    const [a, b] = memoryPair({ closeTimeout: 60_000 });
    sw.handle(b);
    const acc = new Raw(a);
    expect((await admitRaw(acc, 'acc')).errCode).toBe(0);
    const dial = await join(sw, 'dial');
    dial.send(makeFrame(Cmd.OPEN, acc.ip, 80, dial.ip, 1000, encodeOpen({ domain: '', caps: Caps.RESET })));
    await acc.next((f) => f.cmd === Cmd.OPEN);
    acc.send(
      makeFrame(Cmd.OPEN_ACK, dial.ip, 1000, acc.ip, 80, encodeOpenAck({ window: 0, caps: Caps.RESET })),
    );
    await dial.next((f) => f.cmd === Cmd.OPEN_ACK);
    // The dialer does not read: the acceptor's data queues past the bound, which pauses the
    // acceptor and, while it holds the acceptor back, the dialer itself (outbox.ts).
    dial.t.pauseReading();
    for (let i = 0; i < 64; i++) {
      acc.send(makeFrame(Cmd.DATA, dial.ip, 1000, acc.ip, 80, new Uint8Array(CHUNK).fill(i)));
    }
    await expect.poll(() => sw.client('dial')?.paused).toBe(true);
    (acc.t as unknown as { blackhole(): void }).blackhole();
    expect(sw.kick('acc')).toBe(true);
    // Not when the dark connection ends, a minute later.
    expect(sw.client('dial')?.paused).toBe(false);
    dial.t.resumeReading();
    const reset = await dial.next((f) => f.cmd === Cmd.RESET);
    expect([reset.srcIP, reset.srcPort, reset.dstPort]).toEqual([acc.ip, 80, 1000]);
  });
});
