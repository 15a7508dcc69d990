import { afterEach, describe, expect, it } from 'vitest';
import { Switcher } from '../../../src/switcher/switcher.js';
import { memoryPair } from '../../../src/transport/memory.js';
import { Caps, Cmd, SWITCHER_IP } from '../../../src/wire/constants.js';
import { makeFrame } from '../../../src/wire/frame.js';
import { encodeOpen, encodeOpenAck } from '../../../src/wire/open.js';
import { admitRaw, join, PASSWORD, Raw, text } from './helpers.js';

/**
 * Frames a client's leave drops (its queued frames of streams reset for their survivors, early
 * frames held for a dial it made or was dialled by) count in the switcher's `dropped`, as the
 * router's drops do: a departed client's own counters go with it.
 */

const switchers: Switcher[] = [];
afterEach(async () => {
  await Promise.all(switchers.splice(0).map((s) => s.close({ timeout: 500 })));
});

const CHUNK = 16 * 1024;
const ALL = 0x1f;

function switcher(maxStreamsPerClient?: number): Switcher {
  const sw = new Switcher({ password: PASSWORD, maxStreamsPerClient });
  switchers.push(sw);
  return sw;
}

/**
 * acc and dial (both joined) with a stream that negotiated `caps` (reset unless told), dial not
 * reading, and `frames` 16 KiB DATA frames from acc to dial taken in by the switcher: what does
 * not fit dial's connection waits in its queue there.
 */
async function backedUpStream(
  caps: number = Caps.RESET,
): Promise<{ sw: Switcher; acc: Raw; dial: Raw; frames: number }> {
  const sw = switcher();
  const acc = await join(sw, 'acc');
  const dial = await join(sw, 'dial');
  dial.send(makeFrame(Cmd.OPEN, acc.ip, 80, dial.ip, 1000, encodeOpen({ domain: '', caps })));
  await acc.next((f) => f.cmd === Cmd.OPEN);
  acc.send(makeFrame(Cmd.OPEN_ACK, dial.ip, 1000, acc.ip, 80, encodeOpenAck({ window: 0, caps })));
  await dial.next((f) => f.cmd === Cmd.OPEN_ACK);
  dial.t.pauseReading();
  const frames = 64;
  for (let i = 0; i < frames; i++) {
    acc.send(makeFrame(Cmd.DATA, dial.ip, 1000, acc.ip, 80, new Uint8Array(CHUNK)));
  }
  await expect.poll(() => sw.client('acc')!.framesIn).toBeGreaterThanOrEqual(frames + 1);
  return { sw, acc, dial, frames };
}

/** alice dials bob:9 by domain from `port`, offering early data; waits for bob to get the open. */
async function earlyDial(alice: Raw, bob: Raw, port: number): Promise<void> {
  alice.send(makeFrame(Cmd.OPEN, SWITCHER_IP, 9, alice.ip, port, encodeOpen({ domain: 'bob', caps: ALL })));
  await bob.next((f) => f.cmd === Cmd.OPEN);
}

/** `n` early data frames from alice's `port`, held: bob has not shown that he takes early data. */
async function holdEarly(alice: Raw, port: number, n: number): Promise<void> {
  for (let i = 0; i < n; i++) alice.send(makeFrame(Cmd.DATA, SWITCHER_IP, 9, alice.ip, port, text(`e${i}`)));
  await alice.barrier();
}

describe("frames dropped at a client's leave", () => {
  it('count those routed to it after its connection ended, none of them as written to it', async () => {
    const sw = switcher();
    const a = await join(sw, 'a');
    // c stops reading with a frame on its way, then ends its side: the switcher's end of the
    // connection is closed, and stays so (its own end unread by c) until c gives up, 300 ms on.
    const [ct, st] = memoryPair({ closeTimeout: 300, remoteAddresses: ['switcher', '192.0.2.1:1'] });
    sw.handle(st);
    const c = new Raw(ct);
    await admitRaw(c, 'c');
    c.t.pauseReading();
    a.send(makeFrame(Cmd.DATA, c.ip, 80, a.ip, 1000, text('taken')));
    await a.barrier();
    c.t.close();
    await a.barrier();
    const bytesOut = sw.client('c')!.bytesOut;
    const before = sw.stats().dropped;
    for (let i = 0; i < 10; i++) a.send(makeFrame(Cmd.DATA, c.ip, 80, a.ip, 1000, new Uint8Array(100)));
    await a.barrier();
    // A closed transport drops what it is handed: those frames wait, and are lost with c.
    expect(sw.client('c')!.bytesOut).toBe(bytesOut);
    await expect.poll(() => sw.client('c')).toBeUndefined();
    expect(sw.stats().dropped).toBe(before + 10);
  });

  it('count those for a client whose connection ended as soon as that is found, and let go of them', async () => {
    const sw = switcher();
    const a = await join(sw, 'a');
    // As above, but c takes a minute to give up: its connection ends that late.
    const [ct, st] = memoryPair({ closeTimeout: 60_000, remoteAddresses: ['switcher', '192.0.2.1:1'] });
    sw.handle(st);
    const c = new Raw(ct);
    await admitRaw(c, 'c');
    c.t.pauseReading();
    a.send(makeFrame(Cmd.DATA, c.ip, 80, a.ip, 1000, text('taken')));
    await a.barrier();
    c.t.close();
    await a.barrier();
    const before = sw.stats().dropped;
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 10; i++) a.send(makeFrame(Cmd.DATA, c.ip, 80, a.ip, 1000, new Uint8Array(100)));
      await a.barrier();
    }
    // Nothing is held for c, though its connection has not ended (c is still listed).
    expect(sw.client('c')?.queuedBytes).toBe(0);
    expect(sw.clientTotals().queuedBytes).toBe(0);
    expect(sw.stats().dropped).toBe(before + 20);
    c.t.destroy();
  });

  it("count in the switcher's stats: the departed end's queued frames of streams reset at its survivor", async () => {
    // The dialer reads slowly: 1 MiB on the stream queues at the switcher.
    const { sw, acc, dial, frames } = await backedUpStream();
    const before = sw.stats().dropped;
    acc.t.destroy();
    await expect.poll(() => sw.client('acc')).toBeUndefined();
    dial.t.resumeReading();
    await dial.next((f) => f.cmd === Cmd.RESET);
    // What had not left the switcher before the reset was dropped, and counted.
    const delivered = dial.inbox.filter((f) => f.cmd === Cmd.DATA).length;
    expect(delivered).toBeLessThan(frames);
    expect(sw.stats().dropped).toBe(before + frames - delivered);
  });

  it('count there too: early frames held for an acceptor that left, also in the dialer’s stats', async () => {
    const sw = switcher();
    const bob = await join(sw, 'bob');
    const alice = await join(sw, 'alice');
    await earlyDial(alice, bob, 5000);
    await holdEarly(alice, 5000, 3);
    const before = sw.stats().dropped;
    const alices = sw.client('alice')!.dropped;
    bob.t.destroy();
    await expect.poll(() => sw.client('bob')).toBeUndefined();
    expect(sw.stats().dropped).toBe(before + 3);
    expect(sw.client('alice')!.dropped).toBe(alices + 3);
  });

  it('and early frames still held for a dial its dialer gave up for a new dial from its port', async () => {
    const sw = switcher();
    const bob = await join(sw, 'bob');
    const alice = await join(sw, 'alice');
    await earlyDial(alice, bob, 5000);
    await holdEarly(alice, 5000, 3);
    const before = sw.stats().dropped;
    const alices = sw.client('alice')!.dropped;
    // The new dial ends the old one's route, and the frames it held go nowhere: before, they
    // were forgotten without a count.
    await earlyDial(alice, bob, 5000);
    expect(sw.stats().dropped).toBe(before + 3);
    expect(sw.client('alice')!.dropped).toBe(alices + 3);
  });

  it('and early frames still held for a dialer that left', async () => {
    const sw = switcher();
    const bob = await join(sw, 'bob');
    const alice = await join(sw, 'alice');
    await earlyDial(alice, bob, 5000);
    await holdEarly(alice, 5000, 4);
    const before = sw.stats().dropped;
    alice.t.destroy();
    await expect.poll(() => sw.client('alice')).toBeUndefined();
    expect(sw.stats().dropped).toBe(before + 4);
    expect(bob.inbox.some((f) => f.cmd === Cmd.DATA)).toBe(false);
  });

  it('and the frames still queued for the node that left', async () => {
    // The dialer stops reading: what acc sends it queues at the switcher, then the dialer leaves.
    const { sw, dial, frames } = await backedUpStream();
    const queued = sw.client('dial')!.queuedBytes;
    expect(queued).toBeGreaterThan(0);
    const before = sw.stats().dropped;
    dial.t.destroy();
    await expect.poll(() => sw.client('dial')).toBeUndefined();
    // At most what had not reached the dialer's connection; at least one frame's worth was queued.
    const lost = sw.stats().dropped - before;
    expect(lost).toBeGreaterThan(0);
    expect(lost).toBeLessThanOrEqual(frames);
    expect(lost).toBeGreaterThanOrEqual(Math.floor(queued / (CHUNK + 11 + 256)));
  });

  it('but not the switcher’s own replies queued for it: a refused dial counts once', async () => {
    // The dialer stops reading; acc's frames fill its connection and queue behind it.
    const { sw, dial } = await backedUpStream();
    // Only whole DATA frames wait (the scheduler hands out whole frames).
    const queued = sw.client('dial')!.queuedBytes;
    expect(queued % (CHUNK + 11)).toBe(0);
    const waiting = queued / (CHUNK + 11);
    expect(waiting).toBeGreaterThan(0);
    // Dials to a domain nobody holds: each is dropped (counted) and its refusal queues for dial.
    const before = sw.stats().dropped;
    const refused = 3;
    for (let i = 0; i < refused; i++) {
      dial.send(
        makeFrame(
          Cmd.OPEN,
          SWITCHER_IP,
          9,
          dial.ip,
          2000 + i,
          encodeOpen({ domain: 'nobody', caps: Caps.RESET }),
        ),
      );
    }
    await expect.poll(() => sw.stats().dropped).toBe(before + refused);
    expect(sw.client('dial')!.queuedBytes).toBeGreaterThan(queued);
    dial.t.destroy();
    await expect.poll(() => sw.client('dial')).toBeUndefined();
    // The refused dials were counted when refused; their refusals are no further drop.
    expect(sw.stats().dropped).toBe(before + refused + waiting);
  });

  /** DATA frames from acc waiting for dial at the switcher (whole frames only ever wait). */
  function waitingData(sw: Switcher): number {
    const queued = sw.client('dial')!.queuedBytes;
    expect(queued % (CHUNK + 11)).toBe(0);
    return queued / (CHUNK + 11);
  }

  // The switcher's own frames queue in a departed node's place, behind its frames (a close must
  // not overtake them); when their destination leaves too they are lost, but were never
  // forwarded: only the forwarded frames lost with them count.
  it('nor the close the switcher queued for a v3 stream whose other end left', async () => {
    const { sw, acc, dial } = await backedUpStream(0);
    const waiting = waitingData(sw);
    expect(waiting).toBeGreaterThan(0);
    const before = sw.stats().dropped;
    acc.t.destroy();
    await expect.poll(() => sw.client('acc')).toBeUndefined();
    // acc's data still waits, its close behind it: nothing dropped yet.
    expect(sw.stats().dropped).toBe(before);
    expect(sw.client('dial')!.queuedBytes).toBe(waiting * (CHUNK + 11) + 11);
    dial.t.destroy();
    await expect.poll(() => sw.client('dial')).toBeUndefined();
    expect(sw.stats().dropped).toBe(before + waiting);
  });

  it('nor the reset the switcher queued for a stream whose other end left', async () => {
    const { sw, acc, dial } = await backedUpStream();
    const waiting = waitingData(sw);
    expect(waiting).toBeGreaterThan(0);
    const before = sw.stats().dropped;
    acc.t.destroy();
    await expect.poll(() => sw.client('acc')).toBeUndefined();
    // acc's data of the reset stream dropped (counted once); the reset waits in its place.
    expect(sw.stats().dropped).toBe(before + waiting);
    dial.t.destroy();
    await expect.poll(() => sw.client('dial')).toBeUndefined();
    expect(sw.stats().dropped).toBe(before + waiting);
  });

  it('nor the refusal the switcher queued for a dial whose target left unanswered', async () => {
    const { sw, dial } = await backedUpStream();
    const bob = await join(sw, 'bob');
    dial.send(makeFrame(Cmd.OPEN, SWITCHER_IP, 9, dial.ip, 3000, encodeOpen({ domain: 'bob', caps: 0 })));
    await bob.next((f) => f.cmd === Cmd.OPEN);
    const waiting = waitingData(sw);
    const before = sw.stats().dropped;
    bob.t.destroy();
    await expect.poll(() => sw.client('bob')).toBeUndefined();
    // The dial's refusal waits for dial, in bob's place.
    expect(sw.stats().dropped).toBe(before);
    expect(sw.client('dial')!.queuedBytes).toBeGreaterThan(waiting * (CHUNK + 11));
    dial.t.destroy();
    await expect.poll(() => sw.client('dial')).toBeUndefined();
    expect(sw.stats().dropped).toBe(before + waiting);
  });

  it('nor the refusal of an ACK one too many, whose ACK was counted when refused', async () => {
    const sw = switcher(1);
    const acc = await join(sw, 'acc');
    const dial = await join(sw, 'dial');
    // Both dials pass while no stream is open; the first is accepted.
    for (const port of [1000, 1001]) {
      dial.send(makeFrame(Cmd.OPEN, acc.ip, 80, dial.ip, port, encodeOpen({ domain: '', caps: Caps.RESET })));
      await acc.next((f) => f.cmd === Cmd.OPEN && f.srcPort === port);
    }
    const ack = encodeOpenAck({ window: 0, caps: Caps.RESET });
    acc.send(makeFrame(Cmd.OPEN_ACK, dial.ip, 1000, acc.ip, 80, ack));
    await dial.next((f) => f.cmd === Cmd.OPEN_ACK && f.dstPort === 1000);
    // dial stops reading: acc's data on the stream waits for it at the switcher.
    dial.t.pauseReading();
    for (let i = 0; i < 64; i++) {
      acc.send(makeFrame(Cmd.DATA, dial.ip, 1000, acc.ip, 80, new Uint8Array(CHUNK)));
    }
    await expect.poll(() => sw.client('acc')!.framesIn).toBeGreaterThanOrEqual(1 + 64);
    const waiting = waitingData(sw);
    expect(waiting).toBeGreaterThan(0);
    const before = sw.stats().dropped;
    // The second ACK is one too many: dropped (counted), its refusal queued behind acc's data.
    acc.send(makeFrame(Cmd.OPEN_ACK, dial.ip, 1001, acc.ip, 80, ack));
    await acc.next((f) => f.cmd === Cmd.RESET);
    expect(sw.stats().dropped).toBe(before + 1);
    expect(sw.client('dial')!.queuedBytes).toBeGreaterThan(waiting * (CHUNK + 11));
    dial.t.destroy();
    await expect.poll(() => sw.client('dial')).toBeUndefined();
    expect(sw.stats().dropped).toBe(before + 1 + waiting);
  });
});
