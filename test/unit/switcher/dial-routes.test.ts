import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_DIAL_ROUTES, MAX_OPENING_ROUTES, type SwitcherClient } from '../../../src/switcher/client.js';
import type { Registry } from '../../../src/switcher/registry.js';
import { NO_NODE_AT_IP } from '../../../src/switcher/router.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { Cmd, SWITCHER_IP } from '../../../src/wire/constants.js';
import { type Frame, makeFrame } from '../../../src/wire/frame.js';
import { decodeOpenAck, encodeOpen, encodeOpenAck } from '../../../src/wire/open.js';
import { join, PASSWORD, type Raw } from './helpers.js';

/**
 * A dial in flight through the switcher whose target leaves before answering can never be
 * answered: the switcher refuses it at once, as it does early-data dials, instead of letting the
 * dialer wait out its dial timeout (15 s). A domain dial is refused as a domain that does not
 * resolve (source IP 0), an IP dial as an IP no node holds (from that IP: dialers match by it).
 */

let sw: Switcher;
beforeEach(() => {
  sw = new Switcher({ password: PASSWORD });
});
afterEach(async () => {
  await sw.close({ timeout: 1_000 });
});

/** The switcher's own record of a client. */
function inner(s: Switcher, domain: string): SwitcherClient {
  const c = (s as unknown as { registry: Registry<SwitcherClient> }).registry.byDomain(domain);
  if (c === undefined) throw new Error(`no client ${domain}`);
  return c;
}

/** `from` dials `to`:9 from `port`, plain v3: by domain, or by IP with `byIp`. */
function dial(from: Raw, to: Raw, domain: string, port: number, byIp = false): void {
  const dst = byIp ? to.ip : SWITCHER_IP;
  from.send(makeFrame(Cmd.OPEN, dst, 9, from.ip, port, encodeOpen({ domain: byIp ? '' : domain })));
}

const ALL = 0x1f;
const openFrom = (port: number) => (f: Frame) => f.cmd === Cmd.OPEN && f.srcPort === port;
const ackTo = (port: number) => (f: Frame) => f.cmd === Cmd.OPEN_ACK && f.dstPort === port;

describe('switcher: ordinary dials to a client that leaves before answering', () => {
  it('are refused at once, by domain and by IP; an answered one is not', async () => {
    const alice = await join(sw, 'alice');
    const bob = await join(sw, 'bob');
    dial(alice, bob, 'bob', 5000);
    dial(alice, bob, 'bob', 5001, true);
    dial(alice, bob, 'bob', 5002);
    await bob.next(openFrom(5000));
    await bob.next(openFrom(5001));
    await bob.next(openFrom(5002));
    bob.send(makeFrame(Cmd.OPEN_ACK, alice.ip, 5002, bob.ip, 9, encodeOpenAck({ window: 0 })));
    await alice.next(ackTo(5002));
    bob.t.destroy();
    await bob.closed;
    // Well within the 15 s a dialer would wait for its timeout.
    const byDomain = await alice.next(ackTo(5000), 1_000);
    expect([byDomain.srcIP, byDomain.srcPort, byDomain.dstIP]).toEqual([0, 9, alice.ip]);
    expect(decodeOpenAck(byDomain.payload)).toEqual({ ok: false, error: 'resolve domain failed' });
    const byIp = await alice.next(ackTo(5001), 1_000);
    expect([byIp.srcIP, byIp.srcPort, byIp.dstIP]).toEqual([bob.ip, 9, alice.ip]);
    expect(decodeOpenAck(byIp.payload)).toEqual({ ok: false, error: NO_NODE_AT_IP });
    // The answered dial is a stream, which the switcher closes (plain v3), not refuses.
    await alice.next((f) => f.cmd === Cmd.CLOSE && f.dstPort === 5002, 1_000);
    await alice.barrier();
    expect(alice.inbox.some((f) => f.cmd === Cmd.OPEN_ACK)).toBe(false);
    expect(inner(sw, 'alice').opening.size).toBe(0);
  });

  it('are refused too when the dialer sent a v3 close before the ACK', async () => {
    // A v3 close waits for its ACK and the dial for its answer: bob leaving must answer both.
    const alice = await join(sw, 'alice');
    const bob = await join(sw, 'bob');
    dial(alice, bob, 'bob', 5000);
    dial(alice, bob, 'bob', 5001, true);
    await bob.next(openFrom(5000));
    await bob.next(openFrom(5001));
    alice.send(makeFrame(Cmd.CLOSE, bob.ip, 9, alice.ip, 5000));
    alice.send(makeFrame(Cmd.CLOSE, bob.ip, 9, alice.ip, 5001));
    await bob.next((f) => f.cmd === Cmd.CLOSE && f.srcPort === 5000);
    await bob.next((f) => f.cmd === Cmd.CLOSE && f.srcPort === 5001);
    bob.t.destroy();
    await bob.closed;
    const byDomain = await alice.next(ackTo(5000), 1_000);
    expect(decodeOpenAck(byDomain.payload)).toEqual({ ok: false, error: 'resolve domain failed' });
    const byIp = await alice.next(ackTo(5001), 1_000);
    expect(decodeOpenAck(byIp.payload)).toEqual({ ok: false, error: NO_NODE_AT_IP });
    expect(inner(sw, 'alice').opening.size).toBe(0);
  });

  it('are forgotten on their ACK, a new dial from their port, or the leave of either client', async () => {
    const alice = await join(sw, 'alice');
    const bob = await join(sw, 'bob');
    const carol = await join(sw, 'carol');
    const b = inner(sw, 'bob');
    // Answered, even with a refusal.
    dial(alice, bob, 'bob', 5000);
    await bob.next(openFrom(5000));
    expect(b.routesIn.size).toBe(1);
    bob.send(makeFrame(Cmd.OPEN_ACK, alice.ip, 5000, bob.ip, 9, new TextEncoder().encode('no')));
    await alice.next(ackTo(5000));
    expect(b.routesIn.size).toBe(0);
    // The dialer gave it up and dials carol from the same port: bob leaving must not refuse that.
    dial(alice, bob, 'bob', 5001);
    await bob.next(openFrom(5001));
    dial(alice, carol, 'carol', 5001);
    await carol.next(openFrom(5001));
    expect(b.routesIn.size).toBe(0);
    expect(inner(sw, 'alice').opening.size).toBe(1);
    // The dialer leaves: the target keeps nothing of it.
    const c = inner(sw, 'carol');
    alice.t.destroy();
    await alice.closed;
    await expect.poll(() => sw.client('alice')).toBeUndefined();
    expect(c.routesIn.size).toBe(0);
    // The target leaves: the dialer keeps nothing of it.
    const dave = await join(sw, 'dave');
    dial(dave, carol, 'carol', 6000);
    await carol.next(openFrom(6000));
    carol.t.destroy();
    await carol.closed;
    await dave.next(ackTo(6000), 1_000);
    expect(inner(sw, 'dave').opening.size).toBe(0);
  });

  it('are tracked up to the cap per dialer, apart from early routes; beyond it a dial waits as in Go', async () => {
    const alice = await join(sw, 'alice');
    const bob = await join(sw, 'bob');
    for (let p = 1000; p < 1000 + MAX_DIAL_ROUTES; p++) dial(alice, bob, 'bob', p);
    // Early-data dials have their own 16,384 routes, which the others do not use up.
    const early = encodeOpen({ domain: 'bob', caps: ALL });
    for (let p = 20_000; p < 20_000 + MAX_OPENING_ROUTES; p++) {
      alice.send(makeFrame(Cmd.OPEN, SWITCHER_IP, 9, alice.ip, p, early));
    }
    await alice.barrier();
    expect(alice.inbox.some((f) => f.cmd === Cmd.OPEN_ACK)).toBe(false);
    expect(sw.client('alice')?.earlyRoutes).toBe(MAX_OPENING_ROUTES);
    expect(inner(sw, 'alice').opening.size).toBe(MAX_DIAL_ROUTES + MAX_OPENING_ROUTES);
    dial(alice, bob, 'bob', 40_000);
    await bob.next(openFrom(40_000));
    expect(inner(sw, 'alice').opening.size).toBe(MAX_DIAL_ROUTES + MAX_OPENING_ROUTES);
    // Its ACK answers no route, yet may answer that dial: it still makes a stream.
    bob.send(makeFrame(Cmd.OPEN_ACK, alice.ip, 40_000, bob.ip, 9, encodeOpenAck({ window: 0 })));
    await alice.next(ackTo(40_000));
    expect(sw.client('alice')?.streams).toBe(1);
    bob.t.destroy();
    await bob.closed;
    // Every tracked dial is refused, all at once, and the dialer is not closed for it.
    await alice.next(ackTo(20_000 + MAX_OPENING_ROUTES - 1), 5_000);
    await alice.barrier();
    const refused = alice.inbox.filter((f) => f.cmd === Cmd.OPEN_ACK);
    expect(refused).toHaveLength(MAX_DIAL_ROUTES + MAX_OPENING_ROUTES - 1); // and the one awaited
    expect(sw.client('alice')).toBeDefined();
    expect(refused.some(ackTo(40_000))).toBe(false);
    expect(alice.inbox.some((f) => f.cmd === Cmd.CLOSE && f.dstPort === 40_000)).toBe(true);
    expect(inner(sw, 'alice').opening.size).toBe(0);
  });
});

describe('switcher: the ACK-origin check of a dialer with untracked dials', () => {
  it('lets only the ACKs of its untracked dials make streams, and is whole again once they are answered', async () => {
    const alice = await join(sw, 'alice');
    const bob = await join(sw, 'bob');
    const thief = await join(sw, 'thief');
    for (let p = 1000; p < 1000 + MAX_DIAL_ROUTES; p++) dial(alice, bob, 'bob', p);
    // Past the cap: two dials go untracked.
    dial(alice, bob, 'bob', 40_000);
    dial(alice, bob, 'bob', 40_001);
    await bob.next(openFrom(40_001));
    const accept = (from: Raw, port: number) =>
      from.send(makeFrame(Cmd.OPEN_ACK, alice.ip, port, from.ip, 9, encodeOpenAck({ window: 0 })));
    // An ACK to a port alice never dialled from makes no stream, untracked dials or not.
    accept(thief, 50_000);
    await thief.barrier();
    expect(sw.client('thief')?.streams).toBe(0);
    // The untracked dials' own ACKs do.
    accept(bob, 40_000);
    await alice.next(ackTo(40_000));
    expect(sw.client('alice')?.streams).toBe(1);
    // One answered, one waits: a second ACK to the answered port makes nothing more.
    accept(thief, 40_000);
    await thief.barrier();
    expect(sw.client('thief')?.streams).toBe(0);
    accept(bob, 40_001);
    await alice.next(ackTo(40_001));
    expect(sw.client('alice')?.streams).toBe(2);
    // None is left: an ACK to a port alice dialled from long ago makes no stream.
    accept(thief, 40_001);
    accept(thief, 50_001);
    await thief.barrier();
    expect(sw.client('thief')?.streams).toBe(0);
    expect(sw.client('alice')?.streams).toBe(2);
  });

  it('forgets an untracked dial that a new dial from its port replaces', async () => {
    const alice = await join(sw, 'alice');
    const bob = await join(sw, 'bob');
    const thief = await join(sw, 'thief');
    for (let p = 1000; p < 1000 + MAX_DIAL_ROUTES; p++) dial(alice, bob, 'bob', p);
    dial(alice, bob, 'bob', 40_000);
    // Room again for one tracked dial: bob answers the first (with a refusal).
    bob.send(
      makeFrame(Cmd.OPEN_ACK, alice.ip, 1000, bob.ip, 9, new TextEncoder().encode('listener not found')),
    );
    await alice.next(ackTo(1000));
    // alice gave up the untracked dial and dials from its port again: tracked, to bob.
    dial(alice, bob, 'bob', 40_000);
    await bob.next(openFrom(40_000));
    await bob.next(openFrom(40_000));
    // bob answers the new dial; the old, untracked one is no more: a later ACK to that port
    // answers nothing and makes no stream.
    bob.send(makeFrame(Cmd.OPEN_ACK, alice.ip, 40_000, bob.ip, 9, encodeOpenAck({ window: 0 })));
    await alice.next(ackTo(40_000));
    expect(sw.client('alice')?.streams).toBe(1);
    thief.send(makeFrame(Cmd.OPEN_ACK, alice.ip, 40_000, thief.ip, 9, encodeOpenAck({ window: 0 })));
    await thief.barrier();
    expect(sw.client('thief')?.streams).toBe(0);
    expect(sw.client('alice')?.streams).toBe(1);
  });
});
