import { afterEach, describe, expect, it } from 'vitest';
import { Switcher } from '../../../src/switcher/switcher.js';
import { Caps, Cmd, SWITCHER_IP } from '../../../src/wire/constants.js';
import { type Frame, makeFrame } from '../../../src/wire/frame.js';
import { decodeOpenAck, encodeOpen, encodeOpenAck } from '../../../src/wire/open.js';
import { decodeReset } from '../../../src/wire/reset.js';
import { join, PASSWORD, type Raw } from './helpers.js';

/**
 * maxStreamsPerClient: every stream that passes the switcher is tracked, so that its other end is
 * told when one end leaves. Beyond the limit a dial is refused (`too many streams`): at its open,
 * or, when dials passed below the limit and were answered together, at the ACK that would be one
 * too many (the dialer gets the refusal, the acceptor the end of the stream it accepted).
 */

const switchers: Switcher[] = [];
afterEach(async () => {
  await Promise.all(switchers.splice(0).map((s) => s.close({ timeout: 200 })));
});

function switcher(maxStreamsPerClient: number): Switcher {
  const sw = new Switcher({ password: PASSWORD, maxStreamsPerClient });
  switchers.push(sw);
  return sw;
}

const openFrom = (port: number) => (f: Frame) => f.cmd === Cmd.OPEN && f.srcPort === port;
const ackTo = (port: number) => (f: Frame) => f.cmd === Cmd.OPEN_ACK && f.dstPort === port;

/** `from` dials `to`:80 from `port` by IP, offering `caps`. */
function dial(from: Raw, to: Raw, port: number, caps?: number): void {
  from.send(makeFrame(Cmd.OPEN, to.ip, 80, from.ip, port, encodeOpen({ domain: '', caps })));
}

/** `acc` accepts the dial of `from` from `port`. */
function accept(acc: Raw, from: Raw, port: number, caps?: number): void {
  acc.send(makeFrame(Cmd.OPEN_ACK, from.ip, port, acc.ip, 80, encodeOpenAck({ window: 0, caps })));
}

describe('switcher: streams per client (maxStreamsPerClient)', () => {
  it('refuses a dial, by IP or by domain, when either end is at the limit', async () => {
    const sw = switcher(2);
    const acc = await join(sw, 'acc');
    const a = await join(sw, 'a');
    const b = await join(sw, 'b');
    for (const [from, port] of [
      [a, 1000],
      [b, 1000],
    ] as const) {
      dial(from, acc, port);
      await acc.next(openFrom(port));
      accept(acc, from, port);
      await from.next(ackTo(port));
    }
    expect(sw.client('acc')?.streams).toBe(2);
    // a has one stream, acc two: a dial of a to acc is refused by the switcher, as that IP.
    dial(a, acc, 1001);
    const byIp = await a.next(ackTo(1001));
    expect([byIp.srcIP, byIp.srcPort]).toEqual([acc.ip, 80]);
    expect(decodeOpenAck(byIp.payload)).toEqual({ ok: false, error: 'too many streams' });
    a.send(makeFrame(Cmd.OPEN, SWITCHER_IP, 80, a.ip, 1002, encodeOpen({ domain: 'acc' })));
    const byDomain = await a.next(ackTo(1002));
    expect(byDomain.srcIP).toBe(0);
    expect(decodeOpenAck(byDomain.payload)).toEqual({ ok: false, error: 'too many streams' });
    // The acceptor saw neither; a stream that closes makes room again.
    await acc.barrier();
    expect(acc.inbox.filter((f) => f.cmd === Cmd.OPEN)).toEqual([]);
    b.send(makeFrame(Cmd.CLOSE, acc.ip, 80, b.ip, 1000));
    await acc.next((f) => f.cmd === Cmd.CLOSE);
    dial(a, acc, 1003);
    await acc.next(openFrom(1003));
  });

  it('refuses an ACK that would be one too many, and tracks every stream it lets pass', async () => {
    const sw = switcher(1);
    const acc = await join(sw, 'acc');
    const dialer = await join(sw, 'dialer');
    // Both dials pass while no stream is open; the acceptor answers both.
    dial(dialer, acc, 1000);
    dial(dialer, acc, 1001, Caps.RESET);
    await acc.next(openFrom(1000));
    await acc.next(openFrom(1001));
    accept(acc, dialer, 1000);
    accept(acc, dialer, 1001, Caps.RESET);
    expect(decodeOpenAck((await dialer.next(ackTo(1000))).payload).ok).toBe(true);
    // The second ACK reaches the dialer as a refusal, and the acceptor's stream is reset.
    const refused = await dialer.next(ackTo(1001));
    expect([refused.srcIP, refused.srcPort]).toEqual([acc.ip, 80]);
    expect(decodeOpenAck(refused.payload)).toEqual({ ok: false, error: 'too many streams' });
    const reset = await acc.next((f) => f.cmd === Cmd.RESET);
    expect([reset.srcIP, reset.srcPort, reset.dstPort]).toEqual([dialer.ip, 1001, 80]);
    expect(decodeReset(reset.payload).code).toBe(4);
    expect(sw.client('acc')?.streams).toBe(1);
    // The stream that passed is tracked: when the acceptor leaves, the dialer is told.
    acc.t.destroy();
    const close = await dialer.next((f) => f.cmd === Cmd.CLOSE, 1_000);
    expect([close.srcIP, close.srcPort, close.dstPort]).toEqual([acc.ip, 80, 1000]);
  });

  it('ends a refused plain v3 stream at the acceptor with a CloseStream', async () => {
    const sw = switcher(1);
    const acc = await join(sw, 'acc');
    const dialer = await join(sw, 'dialer');
    dial(dialer, acc, 1000);
    dial(dialer, acc, 1001);
    await acc.next(openFrom(1001));
    accept(acc, dialer, 1000);
    accept(acc, dialer, 1001);
    expect(decodeOpenAck((await dialer.next(ackTo(1001))).payload).ok).toBe(false);
    const close = await acc.next((f) => f.cmd === Cmd.CLOSE);
    expect([close.srcIP, close.srcPort, close.dstPort]).toEqual([dialer.ip, 1001, 80]);
  });
});
