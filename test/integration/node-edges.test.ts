import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { type FlexStream, Node, type NodeOptions, type StreamResetError } from '../../src/index.js';
import { memoryPair } from '../../src/transport/memory.js';
import { Caps, Cmd } from '../../src/wire/constants.js';
import { decodeOpen, decodeOpenAck, encodeOpen } from '../../src/wire/open.js';
import { links, nodePair } from '../helpers/links.js';
import { type RawPeer, rawLink as rawNodeLink } from '../helpers/raw.js';
import { once, pattern, readAll, sha256, writeAll } from '../helpers/streams.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function rawLink(options: NodeOptions = {}): { node: Node; raw: RawPeer } {
  const link = rawNodeLink(options);
  cleanups.push(() => link.node.destroy());
  return link;
}

describe('node edge cases', () => {
  it('finds a black-holed peer dead within interval + timeout', async () => {
    const [a, b] = memoryPair();
    const node = new Node(a, { ip: 1, heartbeatInterval: 200, heartbeatTimeout: 150 });
    const peer = new Node(b, { ip: 2, heartbeatInterval: 0 });
    cleanups.push(
      () => node.destroy(),
      () => peer.destroy(),
    );
    const t0 = Date.now();
    a.blackhole();
    const err = await once<Error | undefined>(node, 'close', 3_000);
    const elapsed = Date.now() - t0;
    expect(err?.message).toMatch(/heartbeat/);
    expect(elapsed).toBeLessThan(200 + 150 + 200);
  });

  it('keeps an idle direct link up: the peer answers the empty heartbeat ping', async () => {
    const [a, b] = memoryPair();
    const node = new Node(a, { ip: 1, domain: 'x', heartbeatInterval: 40, heartbeatTimeout: 100 });
    const peer = new Node(b, { ip: 2, domain: 'y', heartbeatInterval: 40, heartbeatTimeout: 100 });
    cleanups.push(
      () => node.destroy(),
      () => peer.destroy(),
    );
    const before = node.scheduler.bytesWritten;
    await expect.poll(() => node.scheduler.bytesWritten > before + 22, { timeout: 2_000 }).toBe(true);
    expect(node.closed).toBe(false);
    expect(peer.closed).toBe(false);
  });

  it('resets a stream whose peer overruns the window, and only that stream', async () => {
    const { node, raw } = rawLink({ window: 4096 });
    const l = node.listen(80);
    raw.send(Cmd.OPEN, 1, 80, 2, 5000, encodeOpen({ domain: 'evil', window: 4096, caps: Caps.RESET }));
    raw.send(Cmd.OPEN, 1, 80, 2, 5001, encodeOpen({ domain: 'good', window: 4096, caps: Caps.RESET }));
    const s1 = await l.accept();
    const s2 = await l.accept();
    s1.pause();
    const errP = once<Error>(s1, 'error');
    raw.send(Cmd.DATA, 1, 80, 2, 5000, pattern(4096));
    raw.send(Cmd.DATA, 1, 80, 2, 5000, pattern(1));
    const reset = await raw.next((f) => f.cmd === Cmd.RESET);
    expect(reset.dstPort).toBe(5000);
    expect(new DataView(reset.payload.buffer, reset.payload.byteOffset).getUint32(0)).toBe(2);
    expect((await errP).message).toMatch(/window/);
    raw.send(Cmd.DATA, 1, 80, 2, 5001, new TextEncoder().encode('still fine'));
    const d = await once<Buffer>(s2, 'data');
    expect(d.toString()).toBe('still fine');
  });

  it('times out a dial nobody answers, and closes the late ACK', async () => {
    const { node, raw } = rawLink();
    await expect(node.dial('bob:80', { timeout: 50 })).rejects.toMatchObject({
      code: 'FLEX_ERR_DIAL_TIMEOUT',
    });
    const open = await raw.next((f) => f.cmd === Cmd.OPEN);
    expect(decodeOpen(open.payload).domain).toBe('bob');
    raw.send(Cmd.OPEN_ACK, 1, open.srcPort, 2, 80, new Uint8Array([0, 0, 0, 0x10, 0]));
    const close = await raw.next((f) => f.cmd === Cmd.CLOSE);
    expect([close.dstIP, close.dstPort, close.srcPort]).toEqual([2, 80, open.srcPort]);
    expect(node.streamCount).toBe(0);
  });

  it('takes no ACK from elsewhere than the dial went for its answer (a late ACK of the port)', async () => {
    // A dial that gave up has its port quarantined for `retention`, then reused: its late ACK,
    // from where it went, came to a dial from that port to elsewhere, and was taken for its answer.
    const { node, raw } = rawLink();
    const ok = new Uint8Array([0, 0, 0, 0x10, 0]);
    for (const [target, from] of [
      ['bob:80', [2, 81]],
      ['2:80', [3, 80]],
    ] as const) {
      const dial = node.dial(target);
      const open = await raw.next((f) => f.cmd === Cmd.OPEN);
      raw.send(Cmd.OPEN_ACK, 1, open.srcPort, from[0], from[1], ok);
      const close = await raw.next((f) => f.cmd === Cmd.CLOSE && f.srcPort === open.srcPort);
      expect([close.dstIP, close.dstPort]).toEqual(from);
      raw.send(Cmd.OPEN_ACK, 1, open.srcPort, 2, 80, ok);
      const s = await dial;
      expect([s.core.remoteIP, s.core.remotePort]).toEqual([2, 80]);
      s.destroy();
    }
    expect(node.stats.dropped).toBe(2);
  });

  it('ignores a second ACK for a dial that succeeded: the live stream is not closed', async () => {
    const { node, raw } = rawLink();
    const dial = node.dial('bob:80');
    const open = await raw.next((f) => f.cmd === Cmd.OPEN);
    const ok = new Uint8Array([0, 0, 0, 0x10, 0]);
    raw.send(Cmd.OPEN_ACK, 1, open.srcPort, 2, 80, ok);
    const s = await dial;
    const dropped = node.stats.dropped;
    raw.send(Cmd.OPEN_ACK, 1, open.srcPort, 2, 80, ok);
    // The node answers the ping behind whatever it made of the duplicate ACK.
    raw.send(Cmd.PING, 1, 0, 2, 7, new Uint8Array(0));
    await raw.next((f) => f.cmd === Cmd.PING_ACK);
    expect(raw.frames.filter((f) => f.cmd === Cmd.CLOSE)).toEqual([]);
    expect(node.stats.dropped).toBe(dropped + 1);
    expect(s.core.state).toBe('open');
    s.write('still here');
    const data = await raw.next((f) => f.cmd === Cmd.DATA);
    expect(new TextDecoder().decode(data.payload)).toBe('still here');
    expect([data.dstIP, data.dstPort, data.srcPort]).toEqual([2, 80, open.srcPort]);
  });

  it('keeps an accepted stream when a dial from its port gets an ACK with its addresses (12.3)', async () => {
    // Listening on a port a dial is waiting on, and a simultaneous open from the peer: the open
    // from (2, 80) to our port and the ACK of our dial from that port to (2, 80) name one stream.
    const { node, raw } = rawLink();
    const dial = node.dial('bob:80');
    dial.catch(() => {});
    const open = await raw.next((f) => f.cmd === Cmd.OPEN);
    const accepting = node.listen(open.srcPort).accept();
    raw.send(Cmd.OPEN, 1, open.srcPort, 2, 80, encodeOpen({ domain: 'bob', window: 0 }));
    expect(decodeOpenAck((await raw.next((f) => f.cmd === Cmd.OPEN_ACK)).payload).ok).toBe(true);
    const accepted = await accepting;
    raw.send(Cmd.OPEN_ACK, 1, open.srcPort, 2, 80, new Uint8Array([0, 0, 0, 0, 0]));
    await expect(dial).rejects.toMatchObject({
      code: 'FLEX_ERR_DIAL_REFUSED',
      remoteText: 'sid is attached',
    });
    expect(node.streamCount).toBe(1);
    raw.send(Cmd.DATA, 1, open.srcPort, 2, 80, new TextEncoder().encode('to the accepted one'));
    const got = await new Promise<string>((resolve) =>
      accepted.once('data', (b: Buffer) => resolve(String(b))),
    );
    expect(got).toBe('to the accepted one');
    raw.send(Cmd.PING, 1, 0, 2, 7, new Uint8Array(0));
    await raw.next((f) => f.cmd === Cmd.PING_ACK);
    expect(raw.frames.filter((f) => f.cmd === Cmd.CLOSE)).toEqual([]);
  });

  it('tolerates a CloseStream before the error ACK (Go quirk 3.4)', async () => {
    const { node, raw } = rawLink();
    const dial = node.dial('bob:80');
    const open = await raw.next((f) => f.cmd === Cmd.OPEN);
    raw.send(Cmd.CLOSE, 1, open.srcPort, 2, 80);
    const ack = await raw.next((f) => f.cmd === Cmd.CLOSE_ACK);
    expect(ack.dstPort).toBe(80);
    raw.send(Cmd.OPEN_ACK, 1, open.srcPort, 2, 80, new TextEncoder().encode('listener backlog full'));
    await expect(dial).rejects.toMatchObject({ reason: 'backlog-full' });
  });

  it('answers a close for an unknown stream, and acknowledges an open before exposing it', async () => {
    const { node, raw } = rawLink();
    raw.send(Cmd.CLOSE, 1, 4444, 9, 5555);
    const ack = await raw.next((f) => f.cmd === Cmd.CLOSE_ACK);
    expect([ack.dstIP, ack.dstPort, ack.srcIP, ack.srcPort]).toEqual([9, 5555, 1, 4444]);
    const l = node.listen(80);
    l.on('stream', (s: FlexStream) => s.write('server speaks first'));
    raw.send(Cmd.OPEN, 1, 80, 2, 5000, encodeOpen({ domain: 'go', window: 0 }));
    const first = await raw.next((f) => f.cmd === Cmd.OPEN_ACK || f.cmd === Cmd.DATA);
    expect(first.cmd).toBe(Cmd.OPEN_ACK);
    const okAck = decodeOpenAck(first.payload);
    expect(okAck).toMatchObject({ ok: true });
    // a Go dialer sent no caps byte, so the answer carries none either (plain v3)
    expect(first.payload.length).toBe(5);
  });

  it('enforces stream and pending-dial limits with typed errors', async () => {
    const { node } = rawLink({ maxPendingDials: 2, dialTimeout: 1_000 });
    const p1 = node.dial('x:1');
    const p2 = node.dial('x:2');
    await expect(node.dial('x:3')).rejects.toMatchObject({ code: 'FLEX_ERR_LIMIT' });
    node.destroy();
    await expect(p1).rejects.toMatchObject({ code: 'FLEX_ERR_CONNECTION_CLOSED' });
    await expect(p2).rejects.toMatchObject({ code: 'FLEX_ERR_CONNECTION_CLOSED' });
  });

  it('refuses opens above maxStreams with an error ACK', async () => {
    const { node, raw } = rawLink({ maxStreams: 1 });
    node.listen(80);
    raw.send(Cmd.OPEN, 1, 80, 2, 5000, encodeOpen({ domain: 'a', window: 0 }));
    raw.send(Cmd.OPEN, 1, 80, 2, 5001, encodeOpen({ domain: 'a', window: 0 }));
    const a1 = await raw.next((f) => f.cmd === Cmd.OPEN_ACK && f.dstPort === 5000);
    const a2 = await raw.next((f) => f.cmd === Cmd.OPEN_ACK && f.dstPort === 5001);
    expect(decodeOpenAck(a1.payload).ok).toBe(true);
    expect(decodeOpenAck(a2.payload)).toEqual({ ok: false, error: 'too many streams' });
  });

  it('echoes 64 MiB over TCP with a hash check', async () => {
    const pair = await nodePair(links.tcp!);
    cleanups.push(() => pair.close());
    pair.b.listen(7).on('stream', (s: FlexStream) => {
      pipeline(s, s).catch(() => {});
    });
    const s = await pair.a.dial('bob:7');
    const data = pattern(64 * 1024 * 1024, 3);
    const got = readAll(s);
    await writeAll(s, data, 256 * 1024);
    const out = await got;
    expect(out.length).toBe(data.length);
    expect(sha256(out)).toBe(sha256(data));
  });

  it('runs 1,000 concurrent streams x 128 KiB over TCP', async () => {
    const pair = await nodePair(links.tcp!, {}, { backlog: 1024 });
    cleanups.push(() => pair.close());
    pair.b.listen(7).on('stream', (s: FlexStream) => {
      pipeline(s, s).catch(() => {});
    });
    const data = pattern(128 * 1024, 5);
    const want = sha256(data);
    const results = await Promise.all(
      Array.from({ length: 1000 }, async () => {
        const s = await pair.a.dial('bob:7');
        const got = readAll(s);
        await writeAll(s, data);
        return sha256(await got);
      }),
    );
    expect(results.every((h) => h === want)).toBe(true);
  });

  it('returns tables, timers and listeners to their baseline after 10,000 cycles', async () => {
    const pair = await nodePair(links.memory!, { retention: 20 }, { retention: 20 });
    cleanups.push(() => pair.close());
    const { a, b } = pair;
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    b.listen(7).on('stream', (s: FlexStream) => {
      s.on('data', () => {});
      s.on('end', () => s.end());
    });
    for (let i = 0; i < 10_000; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, async () => {
          const s = await a.dial('bob:7');
          s.on('data', () => {});
          const closed = once(s, 'close');
          s.end('x');
          await closed;
        }),
      );
    }
    await expect.poll(() => a.streamCount + b.streamCount, { timeout: 5_000 }).toBe(0);
    await expect
      .poll(() => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, { timeout: 5_000 })
      .toBeLessThanOrEqual(timersBefore + 2);
    expect(a.listenerCount('close')).toBe(0);
  });

  it('dials itself (own domain, local, IP 0, own IP) without touching the wire', async () => {
    const { node, raw } = rawLink();
    node.listen(7).on('stream', (s: FlexStream) => {
      pipeline(s, s).catch(() => {});
    });
    for (const addr of ['alice:7', 'local:7', 'localhost:7', '0:7', '1:7']) {
      const s = await node.dial(addr);
      const got = readAll(s);
      s.end(addr);
      expect((await got).toString()).toBe(addr);
    }
    expect(raw.frames.length).toBe(0);
    await expect(node.dial('local:8')).rejects.toMatchObject({ reason: 'no-listener' });
  });

  it('keeps a self-dial apart from a peer dial from the same port number (both nodes at IP 0)', async () => {
    // A direct link where neither node has an IP: the peer's frames and the loopback's both carry
    // source IP 0, and both nodes hand out dial ports from the same first number.
    const [ta, tb] = memoryPair();
    const a = new Node(ta, { domain: 'a', heartbeatInterval: 0 });
    const b = new Node(tb, { domain: 'b', heartbeatInterval: 0 });
    cleanups.push(
      () => a.destroy(),
      () => b.destroy(),
    );
    a.listen(7).on('stream', (s: FlexStream) => {
      pipeline(s, s).catch(() => {});
    });
    const own = await a.dial('local:7');
    const peer = await b.dial('a:7');
    expect(peer.localPort).toBe(own.localPort);
    const [ownEcho, peerEcho] = [readAll(own), readAll(peer)];
    own.end('from a itself');
    peer.end('from b');
    expect((await ownEcho).toString()).toBe('from a itself');
    expect((await peerEcho).toString()).toBe('from b');
  });

  it('works in stream.pipeline with real TCP sockets, and times out when idle', async () => {
    const net = await import('node:net');
    const pair = await nodePair(links.memory!);
    cleanups.push(() => pair.close());
    // a real TCP echo server reached through a flexmux stream
    const server = net.createServer((sock) => sock.pipe(sock));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as import('node:net').AddressInfo).port;
    pair.b.listen(22).on('stream', (s: FlexStream) => {
      const sock = net.connect(port, '127.0.0.1');
      pipeline(s, sock, s).catch(() => {});
    });
    const s = await pair.a.dial('bob:22');
    const data = pattern(3 * 1024 * 1024, 11);
    const got = readAll(s);
    await writeAll(s, data);
    expect(sha256(await got)).toBe(sha256(data));
    const idle = await pair.a.dial('bob:22');
    const t0 = Date.now();
    await new Promise<void>((resolve) => idle.setTimeout(60, resolve));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(50);
    idle.destroy();
  });

  it('writes made in one tick share frames: 16 x 64 KiB give 17 frames, not 32', async () => {
    const { node, raw } = rawLink();
    const dial = node.dial('bob:80');
    const open = await raw.next((f) => f.cmd === Cmd.OPEN);
    // a flexmux acceptor: 8 MiB window, both extensions
    raw.send(Cmd.OPEN_ACK, 1, open.srcPort, 2, 80, new Uint8Array([0, 0, 0x80, 0, 0, 3]));
    const s = await dial;
    const total = 16 * 65_536;
    for (let i = 0; i < 16; i++) s.write(pattern(65_536, i));
    let got = 0;
    let frames = 0;
    while (got < total) {
      const f = await raw.next((x) => x.cmd === Cmd.DATA);
      got += f.payload.length;
      frames++;
    }
    expect(frames).toBe(Math.ceil(total / 65_535));
  });

  it('reports a reset stream with its code on both faces', async () => {
    const pair = await nodePair(links.memory!);
    cleanups.push(() => pair.close());
    const acc = pair.b.listen(3).accept();
    const s = await pair.a.dial('bob:3');
    const peer = await acc;
    s.on('error', () => {});
    const e = once<StreamResetError>(peer, 'error');
    s.destroy();
    expect((await e).resetCode).toBe(0);
  });
});
