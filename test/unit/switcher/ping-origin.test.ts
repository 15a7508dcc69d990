import { afterEach, describe, expect, it } from 'vitest';
import type { SwitcherClient } from '../../../src/switcher/client.js';
import type { Registry } from '../../../src/switcher/registry.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { Cmd, SWITCHER_IP } from '../../../src/wire/constants.js';
import { type Frame, makeFrame } from '../../../src/wire/frame.js';
import { captureLogger } from '../../helpers/faulty-log.js';
import { join, PASSWORD, type Raw, text } from './helpers.js';

/**
 * A pinger matches an answer by its ping id alone (PROTOCOL.md 6.1, the destination port), so
 * any PingDomain ACK that reaches that port settles its ping. The switcher knows where each ping
 * it passed on went: only that node's answer may reach the pinger.
 */

const switchers: Switcher[] = [];
afterEach(async () => {
  await Promise.all(switchers.splice(0).map((s) => s.close({ timeout: 200 })));
});

async function three(): Promise<{ sw: Switcher; pinger: Raw; target: Raw; thief: Raw }> {
  const sw = new Switcher({ password: PASSWORD });
  switchers.push(sw);
  return {
    sw,
    pinger: await join(sw, 'pinger'),
    target: await join(sw, 'target'),
    thief: await join(sw, 'thief'),
  };
}

const answerTo = (id: number) => (f: Frame) => f.cmd === Cmd.PING_ACK && f.dstPort === id;

/** `from` answers ping `id` of `to`, with an error text or success. */
function answer(from: Raw, to: Raw, id: number, error?: string): void {
  from.send(makeFrame(Cmd.PING_ACK, to.ip, id, from.ip, 0, error === undefined ? undefined : text(error)));
}

describe('switcher: a PingDomain ACK from a node the ping did not go to', () => {
  it('does not reach the pinger, which gets the answer of the node it pinged', async () => {
    const { sw, pinger, target, thief } = await three();
    pinger.send(makeFrame(Cmd.PING, SWITCHER_IP, 0, pinger.ip, 7, text('target')));
    await target.next((f) => f.cmd === Cmd.PING && f.srcPort === 7);
    // The thief answers first, for the target, from its own IP.
    answer(thief, pinger, 7, 'domain not match');
    await thief.barrier();
    answer(target, pinger, 7);
    const got = await pinger.next(answerTo(7));
    expect([got.srcIP, got.payload.length]).toEqual([target.ip, 0]);
    await pinger.barrier();
    expect(pinger.inbox.filter((f) => f.cmd === Cmd.PING_ACK)).toEqual([]);
    expect(sw.client('thief')?.dropped).toBe(1);
  });

  it('drops an answer to no ping, and a second answer to one', async () => {
    const { pinger, target, thief } = await three();
    answer(thief, pinger, 9);
    pinger.send(makeFrame(Cmd.PING, SWITCHER_IP, 0, pinger.ip, 8, text('target')));
    await target.next((f) => f.cmd === Cmd.PING && f.srcPort === 8);
    answer(target, pinger, 8);
    answer(target, pinger, 8);
    await pinger.next(answerTo(8));
    await target.barrier();
    await pinger.barrier();
    expect(pinger.inbox.filter((f) => f.cmd === Cmd.PING_ACK)).toEqual([]);
  });

  it('lets the answer of a ping sent straight to a node by IP through', async () => {
    const { pinger, target } = await three();
    pinger.send(makeFrame(Cmd.PING, target.ip, 0, pinger.ip, 5, text('target')));
    await target.next((f) => f.cmd === Cmd.PING && f.srcPort === 5);
    answer(target, pinger, 5);
    expect((await pinger.next(answerTo(5))).srcIP).toBe(target.ip);
  });
});

/** The switcher's own record of a client. */
function inner(s: Switcher, domain: string): SwitcherClient {
  const c = (s as unknown as { registry: Registry<SwitcherClient> }).registry.byDomain(domain);
  if (c === undefined) throw new Error(`no client ${domain}`);
  return c;
}

describe('switcher: a ping passed on to a node that leaves before answering', () => {
  it('is answered at once as a domain nobody holds, when it named a domain', async () => {
    const { sw, pinger, target } = await three();
    pinger.send(makeFrame(Cmd.PING, SWITCHER_IP, 1, pinger.ip, 7, text('target')));
    pinger.send(makeFrame(Cmd.PING, target.ip, 1, pinger.ip, 8, text('target')));
    await target.next((f) => f.cmd === Cmd.PING && f.srcPort === 7);
    await target.next((f) => f.cmd === Cmd.PING && f.srcPort === 8);
    target.t.destroy();
    await target.closed;
    // Well within the timeout a pinger would wait (5 s in the JS client, 3 s for liveness).
    const got = await pinger.next(answerTo(7), 1_000);
    expect([got.srcIP, got.srcPort, got.dstIP]).toEqual([SWITCHER_IP, 1, pinger.ip]);
    expect(new TextDecoder().decode(got.payload)).toBe('domain not found');
    // A ping by IP is not: a ping to an IP nobody holds is dropped, as in Go.
    await pinger.barrier();
    expect(pinger.inbox.filter((f) => f.cmd === Cmd.PING_ACK)).toEqual([]);
    expect(inner(sw, 'pinger').pingsOut.size).toBe(0);
  });

  it('is not answered at the leave once the pinger used its id again, even for the switcher', async () => {
    // A Go node takes the ids of its pings of the switcher from the pool of its other pings: the
    // answer for the departed node would have been taken for the switcher's.
    const { sw, pinger, target } = await three();
    pinger.send(makeFrame(Cmd.PING, SWITCHER_IP, 1, pinger.ip, 7, text('target')));
    await target.next((f) => f.cmd === Cmd.PING && f.srcPort === 7);
    // That ping timed out at the pinger, which pings the switcher with the id.
    pinger.send(makeFrame(Cmd.PING, SWITCHER_IP, 0, pinger.ip, 7));
    expect((await pinger.next(answerTo(7))).payload.length).toBe(0);
    expect(inner(sw, 'target').pingsIn.size).toBe(0);
    target.t.destroy();
    await target.closed;
    await expect.poll(() => sw.client('target')).toBeUndefined();
    await pinger.barrier();
    expect(pinger.inbox.filter((f) => f.cmd === Cmd.PING_ACK)).toEqual([]);
  });

  it('is forgotten at both ends on its answer, a new ping with its id, or the pinger leaving', async () => {
    const { sw, pinger, target, thief } = await three();
    const t = inner(sw, 'target');
    pinger.send(makeFrame(Cmd.PING, SWITCHER_IP, 1, pinger.ip, 7, text('target')));
    await target.next((f) => f.cmd === Cmd.PING && f.srcPort === 7);
    answer(target, pinger, 7);
    await pinger.next(answerTo(7));
    expect(t.pingsIn.size).toBe(0);
    // The id used again, for another node: the first ping is over.
    pinger.send(makeFrame(Cmd.PING, SWITCHER_IP, 1, pinger.ip, 9, text('target')));
    pinger.send(makeFrame(Cmd.PING, SWITCHER_IP, 1, pinger.ip, 9, text('thief')));
    await thief.next((f) => f.cmd === Cmd.PING && f.srcPort === 9);
    expect(t.pingsIn.size).toBe(0);
    pinger.send(makeFrame(Cmd.PING, SWITCHER_IP, 1, pinger.ip, 10, text('target')));
    await target.next((f) => f.cmd === Cmd.PING && f.srcPort === 10);
    expect(t.pingsIn.size).toBe(1);
    pinger.t.destroy();
    await pinger.closed;
    await expect.poll(() => sw.client('pinger')).toBeUndefined();
    expect(t.pingsIn.size).toBe(0);
    expect(inner(sw, 'thief').pingsIn.size).toBe(0);
  });
});

// Regression: a ping in flight when a reload kept its two nodes apart was never answered (the
// router drops the target's answer), and the pinger waited out its timeout, while a dial between
// them is refused at once. It is answered now as a ping of a domain nobody holds.
describe('switcher: a ping in flight between two nodes the access rules no longer allow', () => {
  it('is answered at once as a domain nobody holds, when it named a domain', async () => {
    const logger = captureLogger();
    const access = { dial: [{ from: 'pinger', to: 'target' }] };
    const sw = new Switcher({ password: PASSWORD, access, logger });
    switchers.push(sw);
    const pinger = await join(sw, 'pinger');
    const target = await join(sw, 'target');
    pinger.send(makeFrame(Cmd.PING, SWITCHER_IP, 1, pinger.ip, 7, text('target')));
    pinger.send(makeFrame(Cmd.PING, target.ip, 1, pinger.ip, 8, text('target')));
    await target.next((f) => f.cmd === Cmd.PING && f.srcPort === 7);
    await target.next((f) => f.cmd === Cmd.PING && f.srcPort === 8);
    sw.setAccess({ dial: [] });
    const got = await pinger.next(answerTo(7), 1_000);
    expect([got.srcIP, got.srcPort, got.dstIP]).toEqual([SWITCHER_IP, 1, pinger.ip]);
    expect(new TextDecoder().decode(got.payload)).toBe('domain not found');
    // The target's own answers come too late: dropped, as any frame between the two now.
    answer(target, pinger, 7);
    answer(target, pinger, 8);
    await target.barrier();
    // A ping by IP is not answered: a ping to an IP nobody may reach is dropped, as in Go.
    await pinger.barrier();
    expect(pinger.inbox.filter((f) => f.cmd === Cmd.PING_ACK)).toEqual([]);
    expect(inner(sw, 'pinger').pingsOut.size).toBe(0);
    expect(inner(sw, 'target').pingsIn.size).toBe(0);
    expect(logger.find('access rules replaced')[0]?.fields).toMatchObject({ pingsAnswered: 1 });
  });

  it('is left to its target while the new rules still let the two talk', async () => {
    const sw = new Switcher({ password: PASSWORD, access: { dial: [{ from: 'pinger', to: 'target' }] } });
    switchers.push(sw);
    const pinger = await join(sw, 'pinger');
    const target = await join(sw, 'target');
    pinger.send(makeFrame(Cmd.PING, SWITCHER_IP, 1, pinger.ip, 7, text('target')));
    await target.next((f) => f.cmd === Cmd.PING && f.srcPort === 7);
    sw.setAccess({ dial: [{ from: 'target', to: 'pinger' }] });
    answer(target, pinger, 7);
    expect((await pinger.next(answerTo(7))).payload.length).toBe(0);
  });
});
