import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SwitcherClient } from '../../../src/switcher/client.js';
import type { Registry } from '../../../src/switcher/registry.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { Caps, Cmd, SWITCHER_IP } from '../../../src/wire/constants.js';
import { encodeFrame, type Frame, makeFrame } from '../../../src/wire/frame.js';
import { decodeOpenAck, encodeOpen, encodeOpenAck, encodeOpenError } from '../../../src/wire/open.js';
import { join, PASSWORD, type Raw, text } from './helpers.js';

/**
 * The switcher's early-data routes (docs/protocol.md "Early data"): a domain dial that offers
 * EARLY_DATA gets a route from the dialer's port to where the open went; stream frames the dialer
 * sends to FFFF from that port follow it; the ACK goes back marked EARLY_ROUTED; the route ends
 * with the stream, a refusal, or an acceptor without the caps byte.
 */

let sw: Switcher;
beforeEach(() => {
  sw = new Switcher({ password: PASSWORD });
});
afterEach(async () => {
  await sw.close({ timeout: 1_000 });
});

const ALL = 0x1f;

/** The switcher's own record of a client. */
function inner(s: Switcher, domain: string): SwitcherClient | undefined {
  return (s as unknown as { registry: Registry<SwitcherClient> }).registry.byDomain(domain);
}
const PORT = 5000;
const TEACH = 4999;
const is = (cmd: number) => (f: Frame) => f.cmd === cmd;

/** alice and bob, after bob has shown the switcher that it takes early data (an ACK with caps). */
async function pair(): Promise<{ bob: Raw; alice: Raw }> {
  const bob = await join(sw, 'bob');
  const alice = await join(sw, 'alice');
  await teach(alice, bob);
  return { bob, alice };
}

/** Shows the switcher that bob takes early data: he answers a dial of alice's with caps. */
async function teach(alice: Raw, bob: Raw): Promise<void> {
  await open(alice, bob, ALL, TEACH);
  bob.send(makeFrame(Cmd.OPEN_ACK, alice.ip, TEACH, bob.ip, 9, encodeOpenAck({ window: 0, caps: ALL })));
  await alice.next(is(Cmd.OPEN_ACK));
  bob.send(makeFrame(Cmd.RESET, alice.ip, TEACH, bob.ip, 9, new Uint8Array([0, 0, 0, 0])));
  await alice.next(is(Cmd.RESET));
}

/** alice dials bob:9 by domain from PORT offering `caps`; returns the open bob received. */
/** alice dials `domain`:9 from `port` offering `caps`, without waiting. */
function dialFrom(alice: Raw, port: number, caps?: number, domain = 'bob'): void {
  alice.send(makeFrame(Cmd.OPEN, SWITCHER_IP, 9, alice.ip, port, encodeOpen({ domain, window: 0, caps })));
}

/** alice dials bob:9 from `port` (PORT) offering `caps`; returns the open `to` (bob) received. */
async function open(alice: Raw, to: Raw, caps?: number, port = PORT, domain = 'bob'): Promise<Frame> {
  dialFrom(alice, port, caps, domain);
  return to.next(is(Cmd.OPEN));
}

function early(alice: Raw, cmd: number, payload = text('early')): void {
  alice.send(makeFrame(cmd, SWITCHER_IP, 9, alice.ip, PORT, cmd === Cmd.DATA ? payload : undefined));
}

/** Whether a data frame alice sends to FFFF from PORT still reaches bob (a barrier settles it). */
async function routed(alice: Raw, bob: Raw): Promise<boolean> {
  early(alice, Cmd.DATA, text('probe'));
  await alice.barrier();
  const i = bob.inbox.findIndex((f) => f.cmd === Cmd.DATA && new TextDecoder().decode(f.payload) === 'probe');
  if (i >= 0) bob.inbox.splice(i, 1);
  return i >= 0;
}

describe('switcher: early-data routes', () => {
  it('sends early frames where the open went, marks the ACK, and ends the route with the stream', async () => {
    const { bob, alice } = await pair();
    await open(alice, bob, ALL);
    early(alice, Cmd.DATA);
    const data = await bob.next(is(Cmd.DATA));
    expect([data.dstIP, data.dstPort, data.srcIP, data.srcPort]).toEqual([bob.ip, 9, alice.ip, PORT]);
    expect(new TextDecoder().decode(data.payload)).toBe('early');
    bob.send(makeFrame(Cmd.OPEN_ACK, alice.ip, PORT, bob.ip, 9, encodeOpenAck({ window: 0, caps: ALL })));
    const ack = decodeOpenAck((await alice.next(is(Cmd.OPEN_ACK))).payload);
    expect(ack.ok && ack.caps).toBe(ALL | Caps.EARLY_ROUTED);
    expect(sw.streams('alice')).toHaveLength(1);
    expect(sw.client('alice')?.earlyRoutes).toBe(1);
    // Frames queued before the ACK still reach bob after it.
    expect(await routed(alice, bob)).toBe(true);
    // The stream ends (a reset from bob): the route goes with it.
    bob.send(makeFrame(Cmd.RESET, alice.ip, PORT, bob.ip, 9, new Uint8Array([0, 0, 0, 0])));
    await alice.next(is(Cmd.RESET));
    expect(sw.streams('alice')).toEqual([]);
    expect(sw.client('alice')?.earlyRoutes).toBe(0);
    expect(await routed(alice, bob)).toBe(false);
  });

  it('counts a FIN sent before the ACK, so a released stream is forgotten', async () => {
    const { bob, alice } = await pair();
    await open(alice, bob, ALL);
    early(alice, Cmd.FIN);
    await bob.next(is(Cmd.FIN));
    bob.send(makeFrame(Cmd.OPEN_ACK, alice.ip, PORT, bob.ip, 9, encodeOpenAck({ window: 0, caps: ALL })));
    await alice.next(is(Cmd.OPEN_ACK));
    expect(sw.streams('alice')).toHaveLength(1);
    bob.send(makeFrame(Cmd.FIN, alice.ip, PORT, bob.ip, 9));
    await alice.next(is(Cmd.FIN));
    expect(sw.streams('alice')).toEqual([]);
    expect(await routed(alice, bob)).toBe(false);
  });

  it('keeps no route after a refusal', async () => {
    const { bob, alice } = await pair();
    await open(alice, bob, ALL);
    const refusal = encodeOpenError('listener not found');
    bob.send(makeFrame(Cmd.OPEN_ACK, alice.ip, PORT, bob.ip, 9, refusal));
    await alice.next(is(Cmd.OPEN_ACK));
    expect(await routed(alice, bob)).toBe(false);
  });

  it('ends the route at a reset before the ACK; the late ACK goes back unmarked, and the dialer’s close ends its link', async () => {
    const { bob, alice } = await pair();
    await open(alice, bob, ALL);
    expect(sw.client('alice')?.earlyRoutes).toBe(1);
    alice.send(makeFrame(Cmd.RESET, SWITCHER_IP, 9, alice.ip, PORT, new Uint8Array([0, 0, 0, 0])));
    const reset = await bob.next(is(Cmd.RESET));
    expect([reset.dstIP, reset.srcIP, reset.srcPort]).toEqual([bob.ip, alice.ip, PORT]);
    // Gone at once, not when bob answers (he may never) or the port is reused.
    expect(sw.client('alice')?.earlyRoutes).toBe(0);
    expect(await routed(alice, bob)).toBe(false);
    bob.send(makeFrame(Cmd.OPEN_ACK, alice.ip, PORT, bob.ip, 9, encodeOpenAck({ window: 0, caps: ALL })));
    const ack = decodeOpenAck((await alice.next(is(Cmd.OPEN_ACK))).payload);
    expect(ack.ok && ack.caps).toBe(ALL);
    // A flexmux dialer answers an ACK for a dial it gave up with a close: that ends the link.
    expect(sw.streams('alice')).toHaveLength(1);
    alice.send(makeFrame(Cmd.CLOSE, bob.ip, 9, alice.ip, PORT));
    await bob.next(is(Cmd.CLOSE));
    expect(sw.streams('alice')).toEqual([]);
  });

  it('drops a reset before the ACK that would reach an acceptor not known to take early data', async () => {
    const bob = await join(sw, 'bob');
    const alice = await join(sw, 'alice');
    await open(alice, bob, ALL);
    early(alice, Cmd.DATA, text('held'));
    alice.send(makeFrame(Cmd.RESET, SWITCHER_IP, 9, alice.ip, PORT, new Uint8Array([0, 0, 0, 0])));
    await alice.barrier();
    // bob may be a Go node: neither the held data nor the reset reach him, and the route is gone.
    expect(bob.inbox.filter((f) => f.cmd === Cmd.DATA || f.cmd === Cmd.RESET)).toEqual([]);
    expect(sw.client('alice')?.earlyRoutes).toBe(0);
    expect(inner(sw, 'alice')?.heldEarly).toBe(0);
  });

  it('holds early frames until an acceptor not yet known shows it takes them, and drops them for a v3 one', async () => {
    const bob = await join(sw, 'bob');
    const alice = await join(sw, 'alice');
    await open(alice, bob, ALL);
    early(alice, Cmd.DATA, text('held'));
    early(alice, Cmd.FIN);
    await alice.barrier();
    expect(bob.inbox.filter((f) => f.cmd === Cmd.DATA || f.cmd === Cmd.FIN)).toEqual([]);
    bob.send(makeFrame(Cmd.OPEN_ACK, alice.ip, PORT, bob.ip, 9, encodeOpenAck({ window: 0, caps: ALL })));
    const ack = decodeOpenAck((await alice.next(is(Cmd.OPEN_ACK))).payload);
    expect(ack.ok && ack.caps).toBe(ALL | Caps.EARLY_ROUTED);
    // In order, behind the open, once the ACK has passed.
    expect(new TextDecoder().decode((await bob.next(is(Cmd.DATA))).payload)).toBe('held');
    await bob.next(is(Cmd.FIN));
    // bob is known now: the next dial's early frames are not held.
    await open(alice, bob, ALL, PORT + 1);
    alice.send(makeFrame(Cmd.DATA, SWITCHER_IP, 9, alice.ip, PORT + 1, text('direct')));
    expect(new TextDecoder().decode((await bob.next(is(Cmd.DATA))).payload)).toBe('direct');

    // carol answers like a Go node: what was held for her is dropped, the ACK goes back unmarked.
    const carol = await join(sw, 'carol');
    const dropped = sw.stats().dropped;
    await open(alice, carol, ALL, PORT + 2, 'carol');
    alice.send(makeFrame(Cmd.DATA, SWITCHER_IP, 9, alice.ip, PORT + 2, text('not for go')));
    await alice.barrier();
    carol.send(makeFrame(Cmd.OPEN_ACK, alice.ip, PORT + 2, carol.ip, 9, encodeOpenAck({ window: 0 })));
    expect((await alice.next(is(Cmd.OPEN_ACK))).payload).toHaveLength(5);
    expect(sw.stats().dropped).toBe(dropped + 1);
    await alice.barrier();
    expect(carol.inbox.some((f) => f.cmd === Cmd.DATA)).toBe(false);
  });

  it('holds at most 1 MiB of early frames per dialer, each frame counted with its overhead', async () => {
    await join(sw, 'bob');
    const alice = await join(sw, 'alice');
    dialFrom(alice, PORT, ALL);
    // One-byte frames, all in one write: as views they would each keep that whole buffer alive.
    const one = encodeFrame(makeFrame(Cmd.DATA, SWITCHER_IP, 9, alice.ip, PORT, new Uint8Array(1)));
    const all = new Uint8Array(one.length * 5_000);
    for (let i = 0; i < 5_000; i++) all.set(one, i * one.length);
    alice.send(all.subarray(0, one.length * 100));
    await alice.barrier();
    const held = inner(sw, 'alice')?.opening.get(PORT)?.held ?? [];
    expect(held).toHaveLength(100);
    // Copied out of the read buffer they came in.
    expect(held.every((g) => g.payload.buffer.byteLength === 1)).toBe(true);
    alice.send(all.subarray(one.length * 100));
    await alice.barrier();
    // 1 MiB / (16 + 1 + 256) bytes: about 3,800 frames held, then the route's frames are dropped
    // (a count of bytes alone would have held all 5,000, each keeping the 85 kB write alive).
    expect(sw.stats().dropped).toBe(5_000);
    expect(inner(sw, 'alice')?.heldEarly).toBe(0);
  });

  it('makes no route for a dial without EARLY_DATA, and ends one at a plain v3 ACK', async () => {
    const { bob, alice } = await pair();
    await open(alice, bob, ALL & ~Caps.EARLY_DATA);
    expect(await routed(alice, bob)).toBe(false);
    bob.send(makeFrame(Cmd.OPEN_ACK, alice.ip, PORT, bob.ip, 9, encodeOpenAck({ window: 0, caps: 0x0f })));
    expect(decodeOpenAck((await alice.next(is(Cmd.OPEN_ACK))).payload)).toEqual({
      ok: true,
      window: 0,
      caps: 0x0f,
    });

    // A Go-like acceptor answers without the caps byte: the route ends, the ACK is untouched.
    await open(alice, bob, ALL, PORT + 1);
    bob.send(makeFrame(Cmd.OPEN_ACK, alice.ip, PORT + 1, bob.ip, 9, encodeOpenAck({ window: 0 })));
    const ack = await alice.next(is(Cmd.OPEN_ACK));
    expect(ack.payload).toHaveLength(5);
    alice.send(makeFrame(Cmd.DATA, SWITCHER_IP, 9, alice.ip, PORT + 1, text('late')));
    await alice.barrier();
    expect(bob.inbox.some((f) => f.cmd === Cmd.DATA)).toBe(false);
  });

  it('drops early frames once the acceptor has left, whoever holds its IP or domain next', async () => {
    const { bob, alice } = await pair();
    await open(alice, bob, ALL);
    bob.t.destroy();
    await bob.closed;
    for (let i = 0; i < 50 && sw.client('bob') !== undefined; i++) await new Promise((r) => setImmediate(r));
    // The route names the client the open went to, not an IP or a domain: a new bob gets nothing.
    const bob2 = await join(sw, 'bob');
    early(alice, Cmd.DATA, text('for the first bob only'));
    await alice.barrier();
    expect(bob2.inbox.some((f) => f.cmd === Cmd.DATA)).toBe(false);
  });

  it('holds at most 16,384 routes per client and refuses a dial offering early data beyond them', async () => {
    const { bob, alice } = await pair();
    for (let p = 1000; p < 1000 + 16_384; p++) dialFrom(alice, p, ALL);
    await alice.barrier();
    expect(sw.client('alice')?.earlyRoutes).toBe(16_384);
    dialFrom(alice, 30_000, ALL);
    const refusal = await alice.next((f) => f.cmd === Cmd.OPEN_ACK && f.dstPort === 30_000);
    expect(decodeOpenAck(refusal.payload)).toEqual({ ok: false, error: 'too many streams' });
    // A dial without the bit needs no route and still goes through.
    dialFrom(alice, 30_001, ALL & ~Caps.EARLY_DATA);
    const open = await bob.next((f) => f.cmd === Cmd.OPEN && f.srcPort === 30_001);
    expect(open.dstIP).toBe(bob.ip);
    expect(sw.client('alice')?.earlyRoutes).toBe(16_384);
  });
});

describe('switcher: early frames held for an acceptor that leaves', () => {
  it('gives their bytes back to the dialer, so its next early dial is not refused them', async () => {
    const bob = await join(sw, 'bob');
    const alice = await join(sw, 'alice');
    await open(alice, bob, ALL);
    // Close to 1 MiB held for bob, who has not shown yet that he takes early data.
    for (let i = 0; i < 16; i++) early(alice, Cmd.DATA, new Uint8Array(65_000));
    await alice.barrier();
    expect(inner(sw, 'alice')?.heldEarly).toBeGreaterThan(1_040_000);
    // bob leaves before his ACK; alice's dial times out there without a frame (StreamCore.abort).
    bob.t.destroy();
    await bob.closed;
    for (let i = 0; i < 50 && sw.client('bob') !== undefined; i++) await new Promise((r) => setImmediate(r));
    expect(inner(sw, 'alice')?.heldEarly).toBe(0);

    // A dial to carol, also not known yet: her early frame is held and follows her ACK.
    const carol = await join(sw, 'carol');
    await open(alice, carol, ALL, PORT + 1, 'carol');
    alice.send(makeFrame(Cmd.DATA, SWITCHER_IP, 9, alice.ip, PORT + 1, new Uint8Array(5_000)));
    await alice.barrier();
    carol.send(
      makeFrame(Cmd.OPEN_ACK, alice.ip, PORT + 1, carol.ip, 9, encodeOpenAck({ window: 0, caps: ALL })),
    );
    const ack = decodeOpenAck(
      (await alice.next((f) => f.cmd === Cmd.OPEN_ACK && f.dstPort === PORT + 1)).payload,
    );
    expect(ack.ok && ack.caps).toBe(ALL | Caps.EARLY_ROUTED);
    expect((await carol.next(is(Cmd.DATA))).payload).toHaveLength(5_000);
  });
});

describe('switcher: early-data routes to an acceptor that leaves before its ACK', () => {
  it('refuses the dial at once and forgets the route, so churn cannot use up the 16,384', async () => {
    const alice = await join(sw, 'alice');
    for (let round = 0; round < 3; round++) {
      const bob = await join(sw, 'bob');
      await open(alice, bob, ALL, PORT + round);
      expect(sw.client('alice')?.earlyRoutes).toBe(1);
      // bob leaves without answering: alice's dial must not wait out its timeout.
      bob.t.destroy();
      await bob.closed;
      const refusal = await alice.next((f) => f.cmd === Cmd.OPEN_ACK && f.dstPort === PORT + round);
      expect([refusal.srcIP, refusal.srcPort, refusal.dstIP]).toEqual([0, 9, alice.ip]);
      expect(decodeOpenAck(refusal.payload).ok).toBe(false);
      expect(sw.client('alice')?.earlyRoutes).toBe(0);
    }
    // A route that ended on alice's side before the ACK is forgotten too, and not answered.
    const bob = await join(sw, 'bob');
    await teach(alice, bob);
    await open(alice, bob, ALL, PORT + 10);
    alice.send(makeFrame(Cmd.RESET, SWITCHER_IP, 9, alice.ip, PORT + 10, new Uint8Array([0, 0, 0, 0])));
    await alice.barrier();
    bob.t.destroy();
    await bob.closed;
    await alice.barrier(0xfff1);
    expect(sw.client('alice')?.earlyRoutes).toBe(0);
    expect(alice.inbox.some((f) => f.cmd === Cmd.OPEN_ACK)).toBe(false);
  });
});

describe('switcher: a dial from a port that had an early-data route', () => {
  it('ends that route: the port is the new dial’s, which a refusal for the old one would fail', async () => {
    const alice = await join(sw, 'alice');
    const bob = await join(sw, 'bob');
    const carol = await join(sw, 'carol');
    // alice's early dial to bob goes unanswered; she gives up on it (no frame) and reuses the port.
    await open(alice, bob, ALL);
    alice.send(makeFrame(Cmd.OPEN, carol.ip, 9, alice.ip, PORT, encodeOpen({ domain: '', window: 0 })));
    await carol.next(is(Cmd.OPEN));
    expect(sw.client('alice')?.earlyRoutes).toBe(0);
    // bob leaves: alice's pending dial from PORT is carol's, and must not be refused for bob.
    bob.t.destroy();
    await bob.closed;
    await expect.poll(() => sw.client('bob')).toBeUndefined();
    await alice.barrier();
    expect(alice.inbox.some((f) => f.cmd === Cmd.OPEN_ACK)).toBe(false);
  });
});
