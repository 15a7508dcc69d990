import { afterEach, describe, expect, it } from 'vitest';
import { type FlexStream, Node, type NodeOptions } from '../../src/index.js';
import { admit } from '../../src/node/admit.js';
import type { LeaveReason } from '../../src/switcher/client.js';
import type { SwitcherOptions } from '../../src/switcher/config.js';
import { type RefusalInfo, Switcher } from '../../src/switcher/switcher.js';
import { memoryPair } from '../../src/transport/memory.js';
import { currentTimeNs, openResponse, sealRequest } from '../../src/wire/admission/index.js';
import { Caps, Cmd, SWITCHER_IP } from '../../src/wire/constants.js';
import { encodeFrame, makeFrame } from '../../src/wire/frame.js';
import { decodeOpenAck, encodeOpen, encodeOpenAck } from '../../src/wire/open.js';
import { encodeReset } from '../../src/wire/reset.js';
import { captureLogger } from '../helpers/faulty-log.js';
import { heapUsed, MiB, settleHeap } from '../helpers/faulty-memory.js';
import { HostilePeer } from '../helpers/faulty-peer.js';
import { echoAndCheck, echoTransfer } from '../helpers/faulty-streams.js';

/**
 * A switcher under attack from admitted clients and from connections that never get admitted.
 * For each attack: the switcher survives and still relays legitimate traffic between two real
 * nodes, its queues and memory stay bounded, the right counter moves, and a log line says why.
 */

const PASSWORD = 'abuse-switcher';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

let hosts = 0;
const nextRemote = (): string => `10.9.${(++hosts >> 8) & 255}.${hosts & 255}:40000`;

function start(o: Partial<SwitcherOptions> = {}) {
  const log = captureLogger(200_000);
  const sw = new Switcher({ password: PASSWORD, logger: log, ...o });
  const refused: RefusalInfo[] = [];
  const left: { domain: string; reason: LeaveReason; err?: string }[] = [];
  sw.on('refused', (r) => refused.push(r));
  sw.on('clientLeft', (c, reason, err) => left.push({ domain: c.domain, reason, err: err?.message }));
  cleanups.push(() => sw.close({ timeout: 300 }));
  return { sw, log, refused, left };
}

/** An admitted client that sends raw frames. */
async function hostile(sw: Switcher, domain: string, o: { remote?: string; hwm?: number } = {}) {
  const [a, b] = memoryPair({
    highWaterMark: o.hwm ?? 256 * 1024,
    remoteAddresses: ['switcher:7000', o.remote ?? nextRemote()],
  });
  sw.handle(b);
  const peer = new HostilePeer(a);
  cleanups.push(() => a.destroy());
  peer.bytes(await sealRequest(PASSWORD, { domain, timestamp: currentTimeNs() }));
  const reply = await peer.next((f) => f.cmd === Cmd.ADMIT);
  const res = await openResponse(PASSWORD, reply.payload);
  expect(res.errCode).toBe(0);
  return { peer, ip: res.ip, end: a };
}

/** A real node admitted through a memory link. */
async function realNode(sw: Switcher, domain: string, options: NodeOptions = {}): Promise<Node> {
  const [a, b] = memoryPair({ remoteAddresses: ['switcher:7000', nextRemote()] });
  sw.handle(b);
  const { ip, transport } = await admit(a, { password: PASSWORD, domain });
  const node = new Node(transport, { ip, domain, heartbeatInterval: 0, ...options });
  node.on('error', () => {});
  cleanups.push(() => node.destroy());
  return node;
}

/** alice and bob, real nodes; bob echoes on port 7 and checks what it gets. */
async function legitPair(sw: Switcher) {
  const alice = await realNode(sw, 'alice');
  const bob = await realNode(sw, 'bob');
  bob.listen(7).on('stream', (s: FlexStream) => {
    echoAndCheck(s, () => 256 * 1024);
  });
  const check = async (seed: number): Promise<void> => {
    expect(await echoTransfer(await alice.dial('bob:7'), seed, 256 * 1024)).toEqual({
      kind: 'ok',
      bytes: 256 * 1024 + 4,
    });
  };
  return { alice, bob, check };
}

/** The switcher answers this client's ping: it is alive and reading. */
async function pingSwitcher(peer: HostilePeer, ip: number, id = 0xfff0): Promise<void> {
  peer.frame(Cmd.PING, SWITCHER_IP, 0, ip, id);
  await peer.next((f) => f.cmd === Cmd.PING_ACK && f.dstPort === id, 10_000);
}

describe('abuse by admitted clients', () => {
  it('an open flood at a node: refused by the node, relayed within bounds, legit traffic flows', async () => {
    const { sw } = start();
    const { alice, bob, check } = await legitPair(sw);
    void alice;
    const held: FlexStream[] = [];
    bob.listen(80, { backlog: 8 });
    bob.listen(81).on('stream', (s: FlexStream) => held.push(s));
    const { peer, ip } = await hostile(sw, 'mallory');
    const before = await heapUsed();
    const texts: Record<string, number> = {};
    peer.tap((f) => {
      if (f.cmd !== Cmd.OPEN_ACK) return;
      const a = decodeOpenAck(f.payload);
      const k = a.ok ? 'ok' : a.error;
      texts[k] = (texts[k] ?? 0) + 1;
    });
    for (let i = 0; i < 10_000; i++) {
      const port = i % 2 === 0 ? 80 : 81;
      if (!peer.frame(Cmd.OPEN, SWITCHER_IP, port, ip, 1000 + i, encodeOpen({ domain: 'bob', window: 0 }))) {
        await peer.drained();
      }
      if (i === 5_000) await check(1); // legit traffic in the middle of the flood
    }
    await expect
      .poll(() => Object.values(texts).reduce((a, b) => a + b, 0), { timeout: 10_000 })
      .toBe(10_000);
    expect(texts).toEqual({ ok: 8 + 5_000, 'listener backlog full': 5_000 - 8 });
    await check(2);
    expect(sw.client('bob')?.streams).toBe(5_008);
    expect(sw.client('mallory')?.queuedBytes).toBe(0);
    expect(sw.client('bob')?.queuedBytes).toBe(0);
    for (const s of held) s.destroy();
    await expect.poll(() => sw.client('bob')?.streams).toBe(8);
    expect((await heapUsed()) - before).toBeLessThan(32 * MiB);
  });

  it('10,000 open/reset cycles through the switcher leave no stream tracked anywhere', async () => {
    const { sw } = start();
    const { bob, check } = await legitPair(sw);
    let resets = 0;
    bob.listen(80).on('stream', (s: FlexStream) => {
      s.on('error', () => resets++);
      s.resume();
    });
    const { peer, ip } = await hostile(sw, 'mallory');
    peer.tap((f) => {
      if (f.cmd !== Cmd.OPEN_ACK) return;
      // Reset each stream the moment it is acknowledged.
      peer.frame(Cmd.RESET, bob.ip, 80, ip, f.dstPort, encodeReset(0x100, 'churn'));
    });
    for (let i = 0; i < 10_000; i++) {
      const ok = peer.frame(
        Cmd.OPEN,
        SWITCHER_IP,
        80,
        ip,
        1000 + (i % 30_000),
        encodeOpen({ domain: 'bob', window: 0, caps: Caps.RESET }),
      );
      if (!ok) await peer.drained();
    }
    await expect.poll(() => peer.count(Cmd.OPEN_ACK), { timeout: 15_000 }).toBe(10_000);
    await expect.poll(() => resets, { timeout: 5_000 }).toBe(10_000);
    await expect.poll(() => bob.streamCount).toBe(0);
    expect(sw.client('bob')?.streams).toBe(0);
    expect(sw.client('mallory')?.streams).toBe(0);
    expect(sw.client('mallory')?.streamsOpened).toBe(10_000);
    await check(3);
  });

  it('spoofed source IPs are dropped and counted; the victims’ stream is untouched', async () => {
    const { sw, log } = start();
    const { alice, bob } = await legitPair(sw);
    const { peer, ip } = await hostile(sw, 'mallory');
    const s = await alice.dial('bob:7');
    const progress = { read: 0 };
    const transfer = echoTransfer(s, 77, 256 * 1024, progress);
    // Forge every kind of frame of that stream, from alice to bob and from bob to alice.
    const junk = new Uint8Array(1000).fill(0xee);
    const a = { ip: alice.ip, port: s.localPort };
    const b = { ip: bob.ip, port: 7 };
    let sent = 0;
    for (let i = 0; i < 200; i++) {
      for (const [from, to] of [
        [a, b],
        [b, a],
      ]) {
        peer.frame(Cmd.DATA, to.ip, to.port, from.ip, from.port, junk);
        peer.frame(Cmd.DATA_ACK, to.ip, to.port, from.ip, from.port, undefined, 65_535);
        peer.frame(Cmd.CLOSE, to.ip, to.port, from.ip, from.port);
        peer.frame(Cmd.RESET, to.ip, to.port, from.ip, from.port, encodeReset(1));
        peer.frame(Cmd.OPEN, to.ip, 7, from.ip, 2000 + i, encodeOpen({ domain: 'x', window: 0 }));
        sent += 5;
      }
    }
    await pingSwitcher(peer, ip);
    expect(await transfer).toEqual({ kind: 'ok', bytes: 256 * 1024 + 4 });
    expect(sw.stats().spoofed).toBe(sent);
    expect(sw.client('mallory')).toMatchObject({ spoofed: sent, dropped: 0 });
    const lines = log.find('dropped frame: source IP is not the sender', { domain: 'mallory' });
    expect(lines).toHaveLength(sent);
    expect(lines[0].fields).toMatchObject({ ip, srcIP: alice.ip });
    expect(bob.stats.dropped + alice.stats.dropped).toBe(0);
  });

  it('frames to nobody, to IP 0 and unknown frames to the switcher are dropped or ignored, counted, logged', async () => {
    const { sw, log } = start();
    const { check } = await legitPair(sw);
    const { peer, ip } = await hostile(sw, 'mallory');
    const payload = new Uint8Array(512);
    for (let i = 0; i < 5_000; i++) {
      if (!peer.frame(Cmd.DATA, 0x4000 + (i % 100), 80, ip, 1000, payload)) await peer.drained();
    }
    for (let i = 0; i < 1_000; i++) peer.frame(Cmd.DATA, 0, 80, ip, 1000, payload);
    for (const cmd of [Cmd.DATA, Cmd.CLOSE, Cmd.FIN, Cmd.RESET, 0x08, 0x7f])
      peer.frame(cmd, SWITCHER_IP, 1, ip, 1);
    peer.frame(Cmd.PING_ACK, SWITCHER_IP, 4242, ip, 0); // answers no liveness ping
    await pingSwitcher(peer, ip);
    const st = sw.stats();
    expect(st.dropped).toBe(6_001);
    expect(st.ignored).toBe(6);
    expect(sw.client('mallory')?.dropped).toBe(6_001 + 6);
    expect(log.find('dropped frame', { reason: 'no client has the destination IP' })).toHaveLength(6_000);
    expect(log.find('ignored frame addressed to the switcher')).toHaveLength(6);
    await check(4);
  });

  it('a client that stops reading while making the switcher reply is dropped at maxControlQueue', async () => {
    const { sw, log, left } = start({ maxControlQueue: 1_000 });
    const { check } = await legitPair(sw);
    const { peer, ip, end } = await hostile(sw, 'mallory', { hwm: 64 * 1024 });
    end.pauseReading();
    for (let i = 0; i < 50_000 && !peer.closed; i++) {
      // Domain dials to nobody: each one makes the switcher queue an error ACK for mallory.
      if (
        !peer.frame(
          Cmd.OPEN,
          SWITCHER_IP,
          80,
          ip,
          1000 + (i % 60_000),
          encodeOpen({ domain: 'nobody', window: 0 }),
        )
      ) {
        await Promise.race([peer.drained(), peer.whenClosed(10_000)]);
      }
    }
    await expect.poll(() => left.map((l) => [l.domain, l.reason])).toEqual([['mallory', 'overflow']]);
    expect(left[0].err).toMatch(/more than 1000 control frames queued/);
    expect(log.find('client left', { domain: 'mallory', reason: 'overflow' })[0]).toMatchObject({
      level: 'warn',
    });
    expect(sw.stats().clients).toBe(2);
    await check(5);
  });

  // Found by the robustness audit: a node that stopped reading kept the nodes sending to it
  // paused for good (no log, no limit), so one admitted client could freeze any other.
  it('a node that stops reading is closed as stalled, and the node it held back carries on', async () => {
    const { sw, log, left } = start({ maxQueuePerSource: 256 * 1024, stallTimeout: 400 });
    const { alice, check } = await legitPair(sw);
    const sink = await hostile(sw, 'sink', { hwm: 64 * 1024 });
    const dial = alice.dial('sink:9');
    const open = await sink.peer.next((f) => f.cmd === Cmd.OPEN);
    sink.peer.frame(Cmd.OPEN_ACK, open.srcIP, open.srcPort, sink.ip, 9, encodeOpenAck({ window: 16 * MiB }));
    const s = await dial;
    s.on('error', () => {});
    sink.end.pauseReading();
    s.write(new Uint8Array(4 * MiB));
    // alice is paused on sink's account, and sink itself is paused too.
    await expect.poll(() => sw.client('alice')?.paused, { timeout: 5_000 }).toBe(true);
    await expect.poll(() => sw.client('sink')?.paused, { timeout: 5_000 }).toBe(true);
    await expect
      .poll(() => left.map((l) => [l.domain, l.reason]), { timeout: 5_000 })
      .toEqual([['sink', 'stalled']]);
    expect(left[0].err).toMatch(/took nothing for 0.4 s while 1 other node\(s\) waited to send to it/);
    expect(log.find('client left', { domain: 'sink', reason: 'stalled' })[0]).toMatchObject({
      level: 'warn',
    });
    expect(sw.client('alice')?.paused).toBe(false);
    await check(7);
  });

  it('a client that floods pings and reads no answer is paused, then closed; the pinged node stays', async () => {
    const { sw, left } = start({ maxQueuePerSource: 64 * 1024, stallTimeout: 1_500 });
    const { bob, check } = await legitPair(sw);
    const { peer, ip, end } = await hostile(sw, 'mallory', { hwm: 64 * 1024 });
    end.pauseReading();
    // Each ping makes bob answer mallory, who reads nothing: mallory, not bob, must pay for it.
    const flood = (async () => {
      for (let i = 0; i < 200_000 && !peer.closed; i++) {
        if (!peer.frame(Cmd.PING, bob.ip, 0, ip, 1 + (i % 60_000))) {
          await Promise.race([peer.drained(), peer.whenClosed(10_000)]);
        }
      }
    })();
    // Once bob's answers back up, the switcher stops reading mallory: no more pings reach bob.
    await expect.poll(() => sw.client('mallory')?.paused, { timeout: 5_000 }).toBe(true);
    expect(sw.client('bob')?.paused).toBe(true);
    await flood;
    await expect
      .poll(() => left.map((l) => [l.domain, l.reason]), { timeout: 5_000 })
      .toEqual([['mallory', 'stalled']]);
    expect(bob.closed).toBe(false);
    expect(sw.client('bob')?.paused).toBe(false);
    await check(8);
  });

  it('a flood at a client that does not read pauses the source: bounded queue, nothing lost', async () => {
    const perSource = 1 * MiB;
    const { sw } = start({ maxQueuePerSource: perSource });
    const { check } = await legitPair(sw);
    const victim = await hostile(sw, 'sink', { hwm: 64 * 1024 });
    victim.end.pauseReading();
    const { peer, ip } = await hostile(sw, 'mallory', { hwm: 64 * 1024 });
    const chunk = new Uint8Array(60_000);
    let sent = 0;
    let maxQueued = 0;
    const flood = (async () => {
      for (let i = 0; i < 800; i++) {
        // 48 MB offered; the flood waits whenever the switcher stops reading it (TCP-like).
        if (!peer.frame(Cmd.DATA, victim.ip, 7, ip, 1000, chunk)) await peer.drained();
        sent++;
        maxQueued = Math.max(maxQueued, sw.client('sink')?.queuedBytes ?? 0);
      }
    })();
    await expect.poll(() => sw.client('mallory')?.paused, { timeout: 5_000 }).toBe(true);
    await check(6); // others are not held up
    maxQueued = Math.max(maxQueued, sw.client('sink')?.queuedBytes ?? 0);
    expect(maxQueued).toBeLessThanOrEqual(perSource + 64 * 1024 + 2 * 60_011);
    victim.end.resumeReading();
    await flood;
    await expect.poll(() => victim.peer.count(Cmd.DATA), { timeout: 20_000 }).toBe(sent);
    expect(sw.client('mallory')?.paused).toBe(false);
    expect(sw.stats().dropped).toBe(0);
  });

  // Found by the robustness audit: the queue bounds counted wire bytes only, so 11-byte frames
  // cost ~27 times their bound in heap (a 16 MiB bound took a 300 MB heap down), and a one-byte
  // payload waiting in a queue kept its whole 64 kB read buffer alive.
  it('a flood of tiny frames at a client that does not read stays within maxQueuePerSource in memory', async () => {
    const perSource = 1 * MiB;
    const { sw } = start({ maxQueuePerSource: perSource });
    const sink = await hostile(sw, 'sink', { hwm: 64 * 1024 });
    sink.end.pauseReading();
    const { peer, ip } = await hostile(sw, 'mallory');
    const before = await heapUsed();
    // Data-ACKs: 11 bytes, no payload; 1,000 per send.
    const one = encodeFrame(makeFrame(Cmd.DATA_ACK, sink.ip, 7, ip, 1000, undefined, 1));
    const batch = new Uint8Array(one.length * 1_000);
    for (let k = 0; k < 1_000; k++) batch.set(one, k * one.length);
    let paused = false;
    const untilPaused = expect
      .poll(() => sw.client('mallory')?.paused, { timeout: 20_000 })
      .toBe(true)
      .then(() => {
        paused = true;
      });
    // At most 400,000 frames (4.4 MB); the source is paused long before.
    for (let i = 0; i < 400 && !paused; i++) {
      if (!peer.bytes(batch)) await Promise.race([peer.drained(), untilPaused]);
    }
    await untilPaused;
    expect((await heapUsed()) - before).toBeLessThan(4 * perSource);
    expect(sw.client('sink')!.queuedBytes).toBeLessThanOrEqual(perSource);
  });

  it('a small frame waiting for a client that does not read keeps no large read buffer alive', async () => {
    const { sw } = start();
    const sink = await hostile(sw, 'sink', { hwm: 64 * 1024 });
    sink.end.pauseReading();
    // Fill the sink's link, so that what comes next waits in the switcher.
    const filler = await hostile(sw, 'filler');
    for (let i = 0; i < 8; i++) {
      filler.peer.frame(Cmd.DATA, sink.ip, 8, filler.ip, 1000, new Uint8Array(60_000));
    }
    await expect.poll(() => sw.client('sink')?.queuedBytes).toBeGreaterThan(0);
    const { peer, ip } = await hostile(sw, 'mallory');
    await settleHeap();
    const before = process.memoryUsage().arrayBuffers;
    const units = 500;
    for (let i = 0; i < units; i++) {
      // One read buffer each: one byte for the sink, then 60 kB for nobody (dropped at once).
      const tiny = encodeFrame(makeFrame(Cmd.DATA, sink.ip, 7, ip, 2000, new Uint8Array([i & 0xff])));
      const bulk = encodeFrame(makeFrame(Cmd.DATA, 0x7777, 7, ip, 2000, new Uint8Array(60_000)));
      const unit = new Uint8Array(tiny.length + bulk.length);
      unit.set(tiny, 0);
      unit.set(bulk, tiny.length);
      if (!peer.bytes(unit)) await peer.drained();
    }
    await expect.poll(() => sw.stats().dropped, { timeout: 10_000 }).toBe(units);
    await settleHeap();
    // Before the fix: 500 read buffers of 60 kB (29 MiB) held for 500 bytes of queued payload.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(4 * MiB);
    // Nothing is lost: everything arrives, in order, once the sink reads.
    const bytes: number[] = [];
    sink.peer.tap((f) => {
      if (f.cmd === Cmd.DATA && f.dstPort === 7) bytes.push(f.payload[0]);
    });
    sink.end.resumeReading();
    await expect.poll(() => bytes.length, { timeout: 10_000 }).toBe(units);
    expect(bytes).toEqual(Array.from({ length: units }, (_, i) => i & 0xff));
  });
});

describe('abuse of admission (in-memory transports)', () => {
  it('replayed admission frames are refused (-1, replay) and the holder keeps its domain', async () => {
    const { sw, log, refused } = start();
    const frame = await sealRequest(PASSWORD, { domain: 'carol', timestamp: currentTimeNs() });
    const [a, b] = memoryPair({ remoteAddresses: ['switcher:7000', nextRemote()] });
    sw.handle(b);
    const first = new HostilePeer(a);
    cleanups.push(() => a.destroy());
    first.bytes(frame);
    const okReply = await first.next((f) => f.cmd === Cmd.ADMIT);
    expect((await openResponse(PASSWORD, okReply.payload)).errCode).toBe(0);
    // The same bytes, from other hosts, while carol is connected and after she left.
    const replay = async (): Promise<number> => {
      const [x, y] = memoryPair({ remoteAddresses: ['switcher:7000', nextRemote()] });
      sw.handle(y);
      const p = new HostilePeer(x);
      p.bytes(frame);
      const reply = await p.next((f) => f.cmd === Cmd.ADMIT);
      await p.whenClosed();
      return (await openResponse(PASSWORD, reply.payload)).errCode;
    };
    expect(await replay()).toBe(-1);
    expect(sw.client('carol')?.remoteAddress).toBe(`10.9.${(hosts - 1) >> 8}.${(hosts - 1) & 255}:40000`);
    a.destroy();
    await expect.poll(() => sw.client('carol')).toBeUndefined();
    expect(await replay()).toBe(-1);
    expect(refused.map((r) => [r.reason, r.errCode])).toEqual([
      ['replay', -1],
      ['replay', -1],
    ]);
    expect(log.find('admission refused', { reason: 'replay' })).toHaveLength(2);
    expect(sw.stats().refused).toBe(2);
  });

  it('takeover attempts against a live holder are refused with -2; it keeps its domain and traffic', async () => {
    const { sw, log, refused } = start({ livenessTimeout: 500 });
    const { alice, bob, check } = await legitPair(sw);
    const bobIp = bob.ip;
    const tries = ['bob', 'BOB', ' bob ', 'Bob'].flatMap((d) => [d, d, d]);
    const t0 = currentTimeNs();
    const results = await Promise.all(
      tries.map(async (domain, i) => {
        const [x, y] = memoryPair({ remoteAddresses: ['switcher:7000', nextRemote()] });
        sw.handle(y);
        const p = new HostilePeer(x);
        // Distinct timestamps: equal ones would make equal Sums, refused as replays (see below).
        p.bytes(await sealRequest(PASSWORD, { domain, timestamp: t0 + BigInt(i) }));
        const reply = await p.next((f) => f.cmd === Cmd.ADMIT, 10_000);
        await p.whenClosed();
        return (await openResponse(PASSWORD, reply.payload)).errCode;
      }),
    );
    expect(results, JSON.stringify(refused)).toEqual(tries.map(() => -2));
    // 'busy' when another claim of the domain is being decided at that moment.
    expect(refused.every((r) => r.reason === 'taken' || r.reason === 'busy')).toBe(true);
    expect(refused.every((r) => r.domain === 'bob' && r.errCode === -2)).toBe(true);
    expect(log.find('admission refused').length).toBe(tries.length);
    expect(sw.client('bob')?.ip).toBe(bobIp);
    expect(bob.closed).toBe(false);
    await check(7);
    expect(await alice.ping('bob')).toBeGreaterThanOrEqual(0);
  });

  // Regression (found here, fixed in c1116c1; src/switcher/admission.ts verifyAdmission,
  // src/wire/admission/request.ts currentTimeNs): the replay cache keys on the request's Sum as well as on
  // the envelope salt. The Sum covers only domain, mac and timestamp, and flexmux clients stamp milliseconds
  // x 10^6, so two genuine requests for one domain within the same millisecond (a session reconnecting at
  // once after a connection that died right after admission; two takeover candidates) carry equal Sums in
  // fresh envelopes, and the second is refused as a "replay" (-1, charged to the rate limiter) instead of
  // being judged (-2 or admitted). Only a password holder can make a fresh envelope, so the salt key alone
  // stops verbatim replays. Fix: key the cache on the salt only; and stamp requests with
  // nanosecond-resolution (or randomised sub-millisecond) timestamps.
  it('a fresh envelope with the same Sum (same domain and millisecond) is not taken for a replay', async () => {
    const { sw, refused } = start();
    const timestamp = currentTimeNs();
    const attempt = async (): Promise<number> => {
      const [x, y] = memoryPair({ remoteAddresses: ['switcher:7000', nextRemote()] });
      sw.handle(y);
      cleanups.push(() => x.destroy());
      const p = new HostilePeer(x);
      p.bytes(await sealRequest(PASSWORD, { domain: 'dave', timestamp }));
      const reply = await p.next((f) => f.cmd === Cmd.ADMIT);
      const code = (await openResponse(PASSWORD, reply.payload)).errCode;
      if (code === 0) {
        x.destroy();
        await expect.poll(() => sw.client('dave')).toBeUndefined();
      }
      return code;
    };
    expect(await attempt()).toBe(0);
    // dave's connection died; it comes back at once, in the same millisecond.
    expect(await attempt(), JSON.stringify(refused)).toBe(0);
  });
});
