import { afterEach, describe, expect, it } from 'vitest';
import { Switcher } from '../../../src/switcher/switcher.js';
import { Caps, Cmd } from '../../../src/wire/constants.js';
import { makeFrame } from '../../../src/wire/frame.js';
import { encodeOpen, encodeOpenAck } from '../../../src/wire/open.js';
import { join, PASSWORD } from './helpers.js';

/**
 * PROTOCOL.md 7.5: frames from one source to one destination leave in arrival order, data before
 * close. When a node leaves with a plain v3 stream still open, the switcher tells the survivor with
 * a CloseStream (client.ts endOrphan). That close stands for the departed end and must come after
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
