import { afterEach, describe, expect, it } from 'vitest';
import type { ClientInfo, LeaveReason } from '../../../src/switcher/client.js';
import type { SwitcherOptions } from '../../../src/switcher/config.js';
import { domainFingerprint, MAX_IP, MIN_IP } from '../../../src/switcher/ip-pool.js';
import { type RefusalInfo, Switcher } from '../../../src/switcher/switcher.js';
import { memoryPair } from '../../../src/transport/memory.js';
import { Caps, Cmd, SWITCHER_IP } from '../../../src/wire/constants.js';
import { encodeFrame, type Frame, makeFrame } from '../../../src/wire/frame.js';
import { encodeOpen, encodeOpenAck } from '../../../src/wire/open.js';
import { decodeReset } from '../../../src/wire/reset.js';
import { rejectsWithConfigError } from '../../helpers/rejects.js';
import { admitRaw, connectRaw, join, PASSWORD, Raw, text } from './helpers.js';

const switchers: Switcher[] = [];
afterEach(async () => {
  await Promise.all(switchers.splice(0).map((s) => s.close({ timeout: 500 })));
});

function make(o: Partial<SwitcherOptions> = {}) {
  const sw = new Switcher({ password: PASSWORD, ...o });
  switchers.push(sw);
  const joined: ClientInfo[] = [];
  const left: [string, LeaveReason][] = [];
  const refused: RefusalInfo[] = [];
  sw.on('client', (c) => joined.push(c));
  sw.on('clientLeft', (c, reason) => left.push([c.domain, reason]));
  sw.on('refused', (r) => refused.push(r));
  return { sw, joined, left, refused };
}

const homeIp = (domain: string): number => MIN_IP + (domainFingerprint(domain) % (MAX_IP - MIN_IP + 1));

const decode = (f: Frame): string => new TextDecoder().decode(f.payload);

describe('Switcher: clients, stats and events', () => {
  it('reports admitted clients with their details', async () => {
    const { sw, joined } = make();
    await join(sw, 'Alice', { mac: '00:11', remote: '192.0.2.7:5555' });
    await join(sw, 'bob');
    // By default each domain's IP is its home slot (ip-pool.ts).
    expect(joined.map((c) => [c.domain, c.ip])).toEqual([
      ['alice', homeIp('alice')],
      ['bob', homeIp('bob')],
    ]);
    const a = sw.client('ALICE')!;
    expect(a).toMatchObject({
      domain: 'alice',
      ip: homeIp('alice'),
      mac: '00:11',
      remoteAddress: '192.0.2.7:5555',
      streams: 0,
    });
    expect(Math.abs(a.connectedAt - Date.now())).toBeLessThan(60_000);
    expect(a.rtt).toBeNull();
    expect(sw.clients().map((c) => c.domain)).toEqual(['alice', 'bob']);
    expect(sw.client('carol')).toBeUndefined();
    expect(sw.client('bad.domain')).toBeUndefined();
    expect(sw.stats()).toMatchObject({ clients: 2, admitted: 2, refused: 0, pendingAdmissions: 0 });
  });

  it('gives a node that reconnects the IP it had, and a restarted switcher the same IPs', async () => {
    const { sw } = make();
    const a = await join(sw, 'alice');
    const b = await join(sw, 'bob');
    const gone = new Promise((resolve) => sw.once('clientLeft', resolve));
    a.t.close();
    await gone;
    const again = await join(sw, 'alice');
    expect(again.ip).toBe(a.ip);
    // Another switcher, the nodes arriving in the other order: the same IPs.
    const { sw: restarted } = make();
    expect((await join(restarted, 'bob')).ip).toBe(b.ip);
    expect((await join(restarted, 'alice')).ip).toBe(a.ip);
  });

  it("hands out IPs in Go's order with ipAssignment sequential: a reconnecting node gets a new one", async () => {
    const { sw } = make({ ipAssignment: 'sequential' });
    const a = await join(sw, 'alice');
    expect([a.ip, (await join(sw, 'bob')).ip]).toEqual([1, 2]);
    const gone = new Promise((resolve) => sw.once('clientLeft', resolve));
    a.t.close();
    await gone;
    expect((await join(sw, 'alice')).ip).toBe(3);
  });

  it('refuses an unknown ipAssignment', () => {
    expect(() => make({ ipAssignment: 'random' as 'sequential' })).toThrow(
      /ipAssignment must be one of by-domain, sequential/,
    );
  });

  it('kicks a client by domain', async () => {
    const { sw, left } = make();
    const a = await join(sw, 'alice');
    expect(sw.kick('nobody')).toBe(false);
    expect(sw.kick('ALICE', 'maintenance')).toBe(true);
    await a.closed;
    expect(left).toEqual([['alice', 'kicked']]);
    expect(sw.client('alice')).toBeUndefined();
    // The domain is free at once for the next node.
    await join(sw, 'alice');
  });

  it('reports a client that hangs up', async () => {
    const { sw, left } = make();
    const a = await join(sw, 'alice');
    a.t.close();
    await a.closed;
    await expect.poll(() => left).toEqual([['alice', 'closed']]);
    expect(sw.stats().clients).toBe(0);
  });

  it('gives the domain of a client whose connection ended to its next one without a wait', async () => {
    const { sw, left } = make({ livenessTimeout: 60_000 });
    const a = await join(sw, 'a');
    // c stops reading with a frame on its way and ends its side: the switcher's end of the
    // connection is closed, but finishes only once c reads it (c's close timeout, a minute here).
    const [ct, st] = memoryPair({ closeTimeout: 60_000, remoteAddresses: ['switcher', '192.0.2.9:1'] });
    sw.handle(st);
    const c = new Raw(ct);
    await admitRaw(c, 'c');
    c.t.pauseReading();
    a.send(makeFrame(Cmd.DATA, c.ip, 80, a.ip, 1000, text('unread')));
    await a.barrier();
    c.t.close();
    await a.barrier();
    // The takeover's liveness ping cannot reach c: it fails at once, not after livenessTimeout.
    await join(sw, 'c');
    c.t.destroy();
    await expect.poll(() => left).toEqual([['c', 'evicted']]);
  });

  it('closes a client that sends nothing for idleTimeout', async () => {
    const { sw, left } = make({ idleTimeout: 40 });
    const a = await join(sw, 'alice');
    await a.closed;
    expect(left).toEqual([['alice', 'idle']]);
  });

  it('drops a client that lets its control replies pile up (maxControlQueue)', async () => {
    const { sw, left } = make({ maxControlQueue: 16 });
    const [a, b] = memoryPair({ highWaterMark: 64, remoteAddresses: ['switcher', '192.0.2.9:1'] });
    sw.handle(b);
    const raw = new Raw(a);
    await admitRaw(raw, 'flood');
    raw.t.pauseReading();
    for (let i = 0; i < 200; i++) raw.send(makeFrame(Cmd.PING, SWITCHER_IP, 0, raw.ip, i));
    await expect.poll(() => left).toEqual([['flood', 'overflow']]);
  });

  it('answers a burst of requests in one read past maxControlQueue to a client that reads', async () => {
    // The replies of one read wait for the writer's turn: they are no sign the client stopped
    // reading. Counted so, a node whose batch of dials was all refused was dropped as overflowing.
    const { sw, left } = make({ maxControlQueue: 16 });
    const a = await join(sw, 'burst');
    const pings = Array.from({ length: 200 }, (_, i) =>
      encodeFrame(makeFrame(Cmd.PING, SWITCHER_IP, 0, a.ip, i)),
    );
    a.t.send(pings);
    for (let i = 0; i < 200; i++) await a.next((f) => f.cmd === Cmd.PING_ACK && f.dstPort === i);
    expect(left).toEqual([]);
    expect(sw.client('burst')?.queuedBytes).toBe(0);
  });
});

describe('Switcher: graceful close', () => {
  it('closes every client with reason shutdown and refuses new connections', async () => {
    const { sw, left, refused } = make();
    const a = await join(sw, 'alice');
    const b = await join(sw, 'bob');
    const pending = connectRaw(sw);
    let closing = 0;
    sw.on('closing', () => closing++);
    await sw.close();
    await Promise.all([a.closed, b.closed, pending.closed]);
    expect(closing).toBe(1);
    expect(left.sort()).toEqual([
      ['alice', 'shutdown'],
      ['bob', 'shutdown'],
    ]);
    const late = connectRaw(sw);
    await late.closed;
    // The pending one too: the switcher's close cut it off, its peer did not hang up.
    expect(refused.map((r) => r.reason)).toEqual(['shutdown', 'shutdown']);
    expect(sw.stats()).toMatchObject({ clients: 0, pendingAdmissions: 0 });
    expect(sw.close()).toBe(sw.close());
  });

  // A throw from the call itself escaped code that handled failures with .catch() alone.
  it('rejects a bad close timeout with ConfigError, without throwing, and stays open', async () => {
    const { sw } = make();
    // 2 ** 31: beyond a timer's range, where Node fires at once and the close gave no time.
    for (const timeout of [-1, 1.5, Number.NaN, 2 ** 31]) {
      const err = await rejectsWithConfigError(() => sw.close({ timeout }));
      expect(err.message).toBe(`close timeout must be an integer from 0 to 2147483647 (ms), got ${timeout}`);
    }
    // A string is shown as one: the message said "got 5" for '5', as if 5 had been refused.
    const err = await rejectsWithConfigError(() => sw.close({ timeout: '5' as never }));
    expect(err.message).toBe(
      'close timeout must be an integer from 0 to 2147483647 (ms), got "5" (a string)',
    );
    expect(sw.state).toBe('open');
  });

  it('hands a backed-up client all it queued for it, the resets of its streams included, before closing', async () => {
    const { sw } = make();
    const acc = await join(sw, 'acc');
    const dial = await join(sw, 'dial');
    const caps = Caps.RESET;
    dial.send(makeFrame(Cmd.OPEN, acc.ip, 80, dial.ip, 1000, encodeOpen({ domain: '', caps })));
    await acc.next((f) => f.cmd === Cmd.OPEN);
    acc.send(makeFrame(Cmd.OPEN_ACK, dial.ip, 1000, acc.ip, 80, encodeOpenAck({ window: 0, caps })));
    await dial.next((f) => f.cmd === Cmd.OPEN_ACK);
    // The dialer stops reading: acc's data fills its connection and queues at the switcher.
    dial.t.pauseReading();
    for (let i = 0; i < 64; i++) {
      acc.send(makeFrame(Cmd.DATA, dial.ip, 1000, acc.ip, 80, new Uint8Array(16 * 1024)));
    }
    await expect.poll(() => sw.client('acc')?.framesIn).toBe(65);
    expect(sw.client('dial')?.queuedBytes).toBeGreaterThan(0);
    const closing = sw.close({ timeout: 2_000 });
    dial.t.resumeReading();
    // Before, the close wrote what the connection took at once and dropped the rest with the
    // reset: the stream failed with the bare end of the connection, as after a crash.
    const reset = await dial.next((f) => f.cmd === Cmd.RESET && f.dstPort === 1000);
    expect(decodeReset(reset.payload)).toMatchObject({ code: 4, message: 'the switcher is shutting down' });
    await closing;
  });

  it('sends no CloseStream for a plain v3 stream: it ends with the connection at both ends', async () => {
    const { sw } = make();
    const acc = await join(sw, 'acc');
    const dial = await join(sw, 'dial');
    dial.send(makeFrame(Cmd.OPEN, acc.ip, 80, dial.ip, 1000, encodeOpen({ domain: '', caps: 0 })));
    await acc.next((f) => f.cmd === Cmd.OPEN);
    acc.send(makeFrame(Cmd.OPEN_ACK, dial.ip, 1000, acc.ip, 80, encodeOpenAck({ window: 0, caps: 0 })));
    await dial.next((f) => f.cmd === Cmd.OPEN_ACK);
    await sw.close();
    await Promise.all([acc.closed, dial.closed]);
    // Before, the end closed second got a CloseStream as if from the other: a clean end of a
    // stream whose data may have been lost, where the first saw its connection end.
    expect([...acc.inbox, ...dial.inbox].map((f) => f.cmd)).not.toContain(Cmd.CLOSE);
  });

  it('destroys clients that do not finish within the timeout', async () => {
    const { sw, left } = make();
    const a = await join(sw, 'alice');
    // A node that stops reading with data pending never sees the end: the close cannot finish.
    a.t.pauseReading();
    a.send(makeFrame(Cmd.PING, SWITCHER_IP, 0, a.ip, 1));
    await expect.poll(() => sw.client('alice')?.bytesOut).toBe(11);
    const started = Date.now();
    await sw.close({ timeout: 50 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(left).toEqual([['alice', 'shutdown']]);
    await a.closed;
  });
});

describe('Switcher: dial rules (access.dial)', () => {
  it('forwards allowed dials, refuses others with "dial not allowed", and keeps nodes apart', async () => {
    const { sw } = make({ access: { dial: [{ from: 'web-*', to: 'db' }] } });
    const db = await join(sw, 'db');
    const web1 = await join(sw, 'web-1');
    const web2 = await join(sw, 'web-2');

    web1.send(makeFrame(Cmd.OPEN, SWITCHER_IP, 5432, web1.ip, 1000, encodeOpen({ domain: 'db' })));
    const open = await db.next();
    expect([open.cmd, open.dstIP, decode(open).startsWith('web-1\0')]).toEqual([Cmd.OPEN, db.ip, true]);
    // Replies flow back although db may not dial web-1.
    db.send(makeFrame(Cmd.DATA, web1.ip, 1000, db.ip, 5432, text('reply')));
    expect(decode(await web1.next())).toBe('reply');

    db.send(makeFrame(Cmd.OPEN, SWITCHER_IP, 80, db.ip, 1001, encodeOpen({ domain: 'web-1' })));
    const byDomain = await db.next();
    expect([byDomain.cmd, byDomain.srcIP, byDomain.srcPort, byDomain.dstPort]).toEqual([
      Cmd.OPEN_ACK,
      0,
      80,
      1001,
    ]);
    expect(decode(byDomain)).toBe('dial not allowed');

    web1.send(makeFrame(Cmd.OPEN, web2.ip, 80, web1.ip, 1002, encodeOpen({ domain: '' })));
    const byIp = await web1.next();
    expect([byIp.cmd, byIp.srcIP, byIp.srcPort, decode(byIp)]).toEqual([
      Cmd.OPEN_ACK,
      web2.ip,
      80,
      'dial not allowed',
    ]);

    web1.send(makeFrame(Cmd.DATA, web2.ip, 80, web1.ip, 1002, text('sneak')));
    web1.send(makeFrame(Cmd.PING, SWITCHER_IP, 0, web1.ip, 7, text('web-2')));
    const ping = await web1.next();
    expect([ping.cmd, decode(ping)]).toEqual([Cmd.PING_ACK, 'domain not found']);
    await web1.barrier();
    expect(web2.inbox).toEqual([]);
    expect(sw.client('web-1')?.dropped).toBe(2);
  });

  it('refuses a forbidden domain dial alike whether a node holds the name or not', async () => {
    // The ping hides a node the rules keep apart; the dial must not tell it either.
    const { sw } = make({ access: { dial: [{ from: 'web-*', to: 'db' }] } });
    await join(sw, 'secret');
    const web = await join(sw, 'web-1');
    const answers: string[] = [];
    for (const [port, domain] of [
      [1000, 'secret'],
      [1001, 'nobody'],
      [1002, 'Bad.Name'],
      [1003, 'db'],
    ] as const) {
      web.send(makeFrame(Cmd.OPEN, SWITCHER_IP, 80, web.ip, port, encodeOpen({ domain })));
      const ack = await web.next((f) => f.cmd === Cmd.OPEN_ACK && f.dstPort === port);
      answers.push(`${ack.srcIP} ${decode(ack)}`);
    }
    expect(answers).toEqual([
      '0 dial not allowed',
      '0 dial not allowed',
      '0 resolve domain failed',
      '0 resolve domain failed',
    ]);
  });
});
