import { afterEach, describe, expect, it } from 'vitest';
import type { SwitcherOptions } from '../../../src/switcher/config.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { Cmd, SWITCHER_IP } from '../../../src/wire/constants.js';
import { type Frame, makeFrame } from '../../../src/wire/frame.js';
import { decodeOpenAck, encodeOpen, encodeOpenAck } from '../../../src/wire/open.js';
import { join, PASSWORD, type Raw } from './helpers.js';

/**
 * Dialers match an OpenStream ACK by their port alone (PROTOCOL.md 3.2), so an ACK that reaches
 * a dialer's port is taken for the answer to the dial from that port. The switcher knows where
 * each dial went: an ACK from any other node is no answer to it and must not reach the dialer.
 */

const switchers: Switcher[] = [];
afterEach(async () => {
  await Promise.all(switchers.splice(0).map((s) => s.close({ timeout: 200 })));
});

function switcher(o: Omit<SwitcherOptions, 'password'> = {}): Switcher {
  const sw = new Switcher({ password: PASSWORD, ...o });
  switchers.push(sw);
  return sw;
}

const openFrom = (port: number) => (f: Frame) => f.cmd === Cmd.OPEN && f.srcPort === port;
const ackTo = (port: number) => (f: Frame) => f.cmd === Cmd.OPEN_ACK && f.dstPort === port;

/** `acc` accepts, from its port 80, whatever `to` dialled from `port`. */
function ack(acc: Raw, to: Raw, port: number): void {
  acc.send(makeFrame(Cmd.OPEN_ACK, to.ip, port, acc.ip, 80, encodeOpenAck({ window: 0 })));
}

describe('switcher: an OpenStream ACK from a node the dial did not go to', () => {
  it('does not reach the dialer, which gets the answer of its target', async () => {
    const sw = switcher();
    const victim = await join(sw, 'victim');
    const target = await join(sw, 'target');
    const thief = await join(sw, 'thief');
    victim.send(makeFrame(Cmd.OPEN, SWITCHER_IP, 80, victim.ip, 1000, encodeOpen({ domain: 'target' })));
    await target.next(openFrom(1000));
    // The thief answers the dial first, from its own IP (no spoofing involved).
    ack(thief, victim, 1000);
    await thief.barrier();
    ack(target, victim, 1000);
    const got = await victim.next(ackTo(1000));
    expect([got.srcIP, got.srcPort]).toEqual([target.ip, 80]);
    expect(decodeOpenAck(got.payload).ok).toBe(true);
    await victim.barrier();
    expect(victim.inbox.filter((f) => f.cmd === Cmd.OPEN_ACK)).toEqual([]);
    // Only the real stream is tracked, and the thief's ACK counts as dropped.
    expect(sw.client('victim')?.streams).toBe(1);
    expect(sw.client('thief')?.streams).toBe(0);
    expect(sw.client('thief')?.dropped).toBe(1);
    // The stream the thief accepted is ended as if by the victim.
    const close = await thief.next((f) => f.cmd === Cmd.CLOSE);
    expect([close.srcIP, close.srcPort, close.dstIP, close.dstPort]).toEqual([victim.ip, 1000, thief.ip, 80]);
  });

  it('drops the late ACK of a dial given up whose port a new dial took', async () => {
    const sw = switcher();
    const dialer = await join(sw, 'dialer');
    const slow = await join(sw, 'slow');
    const quick = await join(sw, 'quick');
    dialer.send(makeFrame(Cmd.OPEN, SWITCHER_IP, 80, dialer.ip, 1000, encodeOpen({ domain: 'slow' })));
    await slow.next(openFrom(1000));
    // The dialer timed out and reuses the port for a dial elsewhere; then the late ACK comes.
    dialer.send(makeFrame(Cmd.OPEN, SWITCHER_IP, 80, dialer.ip, 1000, encodeOpen({ domain: 'quick' })));
    await quick.next(openFrom(1000));
    ack(slow, dialer, 1000);
    // The slow node's stream is ended rather than left half-alive (PROTOCOL.md 12.2).
    await slow.next((f) => f.cmd === Cmd.CLOSE && f.srcIP === dialer.ip && f.srcPort === 1000);
    ack(quick, dialer, 1000);
    const got = await dialer.next(ackTo(1000));
    expect(got.srcIP).toBe(quick.ip);
    await dialer.barrier();
    expect(dialer.inbox.filter((f) => f.cmd === Cmd.OPEN_ACK)).toEqual([]);
    expect(sw.client('slow')?.streams).toBe(0);
  });

  it('does not turn into a refusal of the dial when the thief is at its stream limit', async () => {
    const sw = switcher({ maxStreamsPerClient: 1 });
    const victim = await join(sw, 'victim');
    const target = await join(sw, 'target');
    const thief = await join(sw, 'thief');
    const other = await join(sw, 'other');
    // The thief holds a stream already: one more ACK from it would be one too many.
    other.send(makeFrame(Cmd.OPEN, thief.ip, 80, other.ip, 2000, encodeOpen({ domain: '' })));
    await thief.next(openFrom(2000));
    ack(thief, other, 2000);
    await other.next(ackTo(2000));
    victim.send(makeFrame(Cmd.OPEN, SWITCHER_IP, 80, victim.ip, 1000, encodeOpen({ domain: 'target' })));
    await target.next(openFrom(1000));
    ack(thief, victim, 1000);
    await thief.barrier();
    ack(target, victim, 1000);
    const got = await victim.next(ackTo(1000));
    expect([got.srcIP, decodeOpenAck(got.payload).ok]).toEqual([target.ip, true]);
  });

  it('a flood of them from a node that does not read costs it its connection, not the dialer its reading', async () => {
    const sw = switcher({ maxControlQueue: 100, maxQueuePerSource: 4096 });
    const left: string[] = [];
    sw.on('clientLeft', (c, reason) => left.push(`${c.domain}:${reason}`));
    const victim = await join(sw, 'victim');
    const target = await join(sw, 'target');
    const thief = await join(sw, 'thief');
    victim.send(makeFrame(Cmd.OPEN, SWITCHER_IP, 80, victim.ip, 1000, encodeOpen({ domain: 'target' })));
    await target.next(openFrom(1000));
    thief.t.pauseReading();
    // Enough closes to fill the thief's transport (256 KiB) too: what it still takes is no overflow.
    for (let i = 0; i < 50_000 && !thief.ended; i++) ack(thief, victim, 1000);
    await expect.poll(() => left).toEqual(['thief:overflow']);
    expect(sw.client('victim')?.paused).toBe(false);
    ack(target, victim, 1000);
    expect((await victim.next(ackTo(1000))).srcIP).toBe(target.ip);
  });

  it('is no stream when it answers no dial: it uses up neither end’s maxStreamsPerClient', async () => {
    const sw = switcher({ maxStreamsPerClient: 2 });
    const victim = await join(sw, 'victim');
    const target = await join(sw, 'target');
    const thief = await join(sw, 'thief');
    // ACKs for dials the victim never made: a Go node drops them without a word (PROTOCOL.md 3.5).
    ack(thief, victim, 3000);
    ack(thief, victim, 3001);
    await victim.next(ackTo(3000));
    await victim.next(ackTo(3001));
    expect(sw.client('victim')?.streams).toBe(0);
    expect(sw.streams('victim')).toEqual([]);
    victim.send(makeFrame(Cmd.OPEN, SWITCHER_IP, 80, victim.ip, 1000, encodeOpen({ domain: 'target' })));
    await target.next(openFrom(1000));
    ack(target, victim, 1000);
    const got = await victim.next(ackTo(1000));
    expect([got.srcIP, decodeOpenAck(got.payload).ok]).toEqual([target.ip, true]);
    expect(sw.client('victim')?.streams).toBe(1);
  });
});
