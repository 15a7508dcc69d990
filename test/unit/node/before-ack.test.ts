import type { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { DialRefusedError, FlowControlError, ProtocolError } from '../../../src/errors.js';
import type { Node } from '../../../src/index.js';
import { Cmd } from '../../../src/wire/constants.js';
import type { Frame } from '../../../src/wire/frame.js';
import { encodeOpenAck } from '../../../src/wire/open.js';
import { rawLink } from '../../helpers/raw.js';

/**
 * PROTOCOL.md 12.2: a Go acceptor hands a stream to its application before it sends the
 * OpenStream ACK, so a server that speaks first (and may close at once) can put data, and its
 * CloseStream, on the wire ahead of the ACK; its scheduler writes the ACK as a control frame and
 * the data in the stream's own queue, in either order. A Go dialer drops frames for a stream it
 * does not know yet (data lost, credit leaked). A flexmux dialer keeps what comes from the dialled
 * port's peer while its dial waits, and hands it to the stream the ACK makes; a close among them
 * is answered at once (the Go acceptor of a failed open waits up to 2 s for that answer before it
 * sends its refusal, 3.4) and ends the stream after its data.
 */

const nodes: Node[] = [];
afterEach(() => {
  for (const n of nodes.splice(0)) n.destroy();
});

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Everything the stream delivers up to its end, or what came within 3 s (a stream that never ends). */
async function readAll(s: Readable): Promise<string> {
  let out = '';
  let timer: ReturnType<typeof setTimeout> | undefined;
  const read = (async () => {
    for await (const chunk of s) out += Buffer.from(chunk as Uint8Array).toString();
    return out;
  })();
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`${out} (no end within 3 s)`), 3_000);
  });
  try {
    return await Promise.race([read, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('frames of a Go acceptor that arrive before its OpenStream ACK', () => {
  it('data and a close ahead of the ACK reach the stream the ACK makes', async () => {
    const { node, raw } = rawLink({ heartbeatInterval: 0 });
    nodes.push(node);
    const dialled = node.dial('bob:80');
    dialled.catch(() => {}); // awaited below
    const open = await raw.next((f) => f.cmd === Cmd.OPEN);
    const P = open.srcPort;
    // The acceptor (IP 3, port 80) greets, closes, and only then is its ACK written.
    raw.send(Cmd.DATA, 1, P, 3, 80, text('hello, '));
    raw.send(Cmd.DATA, 1, P, 3, 80, text('dialer'));
    raw.send(Cmd.CLOSE, 1, P, 3, 80);
    // The close is answered at once, before the ACK comes.
    const closeAck: Frame = await raw.next((f) => f.cmd === Cmd.CLOSE_ACK);
    expect([closeAck.dstIP, closeAck.dstPort, closeAck.srcIP, closeAck.srcPort]).toEqual([3, 80, 1, P]);
    raw.send(Cmd.OPEN_ACK, 1, P, 3, 80, encodeOpenAck({ window: 0 }));
    const s = await dialled;
    expect(await readAll(s)).toBe('hello, dialer');
  });

  it('data ahead of the ACK of a stream that stays open comes first, then what follows the ACK', async () => {
    const { node, raw } = rawLink({ heartbeatInterval: 0 });
    nodes.push(node);
    const dialled = node.dial('bob:80');
    dialled.catch(() => {});
    const P = (await raw.next((f) => f.cmd === Cmd.OPEN)).srcPort;
    raw.send(Cmd.DATA, 1, P, 3, 80, text('one '));
    raw.send(Cmd.OPEN_ACK, 1, P, 3, 80, encodeOpenAck({ window: 0 }));
    raw.send(Cmd.DATA, 1, P, 3, 80, text('two'));
    raw.send(Cmd.CLOSE, 1, P, 3, 80);
    expect(await readAll(await dialled)).toBe('one two');
  });

  it('a refusal after them (the Go quirk of 3.4) fails the dial and drops what was kept', async () => {
    const { node, raw } = rawLink({ heartbeatInterval: 0 });
    nodes.push(node);
    const dialled = node.dial('bob:80');
    dialled.catch(() => {});
    const P = (await raw.next((f) => f.cmd === Cmd.OPEN)).srcPort;
    raw.send(Cmd.DATA, 1, P, 3, 80, text('lost'));
    raw.send(Cmd.CLOSE, 1, P, 3, 80);
    await raw.next((f) => f.cmd === Cmd.CLOSE_ACK);
    raw.send(Cmd.OPEN_ACK, 1, P, 3, 80, text('listener backlog full'));
    await expect(dialled).rejects.toBeInstanceOf(DialRefusedError);
    expect(node.streamCount).toBe(0);
    // What was kept for the dial is dropped with it, counted as any frame for no stream.
    expect(node.stats.dropped).toBe(1);
  });

  // Regression: data ahead of the ACK that could not be kept (beyond the window offered, or the
  // connection's receive budget) was dropped, counted, and the stream the ACK made delivered what
  // came before and after it with a hole in between, and ended cleanly: 40,000 bytes lost without
  // a word. Now that stream fails with FlowControlError, as it would have on receiving that data.
  for (const [what, options] of [
    ['the window offered', {}],
    ['the receive budget', { maxReceiveBuffer: 50_000 }],
  ] as const) {
    it(`data beyond ${what} fails the stream the ACK makes, instead of leaving a hole`, async () => {
      const { node, raw } = rawLink({ heartbeatInterval: 0, ...options });
      nodes.push(node);
      const dialled = node.dial('bob:80', { window: 65_536 });
      dialled.catch(() => {});
      const P = (await raw.next((f) => f.cmd === Cmd.OPEN)).srcPort;
      raw.send(Cmd.DATA, 1, P, 3, 80, new Uint8Array(40_000).fill(0x61));
      raw.send(Cmd.DATA, 1, P, 3, 80, new Uint8Array(40_000).fill(0x62)); // kept, it overruns
      raw.send(Cmd.DATA, 1, P, 3, 80, new Uint8Array(5_000).fill(0x63)); // would fit again
      raw.send(Cmd.OPEN_ACK, 1, P, 3, 80, encodeOpenAck({ window: 65_536 }));
      raw.send(Cmd.CLOSE, 1, P, 3, 80);
      const s = await dialled;
      // 'error' comes before 'close'; a stream that ends cleanly closes without one.
      const failed = new Promise<Error | null>((resolve) => {
        s.on('error', resolve);
        s.on('close', () => resolve(null));
      });
      let got = '';
      s.on('data', (c: Buffer) => {
        got += c.toString();
      });
      const err = await failed;
      expect(err).toBeInstanceOf(FlowControlError);
      expect(got).not.toContain('c');
      // The acceptor hears of it (the v3 close: no reset was negotiated).
      await raw.next((f) => f.cmd === Cmd.CLOSE && f.dstPort === 80);
    });
  }

  // Regression: a dial that offers no window (window 0) lets a Go acceptor answer with its own,
  // which may be larger than the 2 MiB default (3.4 step 3), and that acceptor may send that much
  // ahead of its ACK. What was kept was held to 2 MiB whatever the ACK said, so such a stream
  // failed with FlowControlError at its ACK although the acceptor kept to its window.
  it('with no window offered, data ahead of the ACK is held to the window the ACK grants', async () => {
    const { node, raw } = rawLink({ heartbeatInterval: 0 });
    nodes.push(node);
    const dialled = node.dial('bob:80', { window: 0 });
    dialled.catch(() => {});
    const P = (await raw.next((f) => f.cmd === Cmd.OPEN)).srcPort;
    // A Go acceptor configured with an 8 MiB window sends 3 MiB in 16 KiB frames, then its ACK.
    const chunk = 16_384;
    const total = 3 * 1024 * 1024;
    for (let i = 0; i < total / chunk; i++) {
      raw.send(Cmd.DATA, 1, P, 3, 80, new Uint8Array(chunk).fill(i & 0xff));
    }
    raw.send(Cmd.OPEN_ACK, 1, P, 3, 80, encodeOpenAck({ window: 8 * 1024 * 1024 }));
    raw.send(Cmd.CLOSE, 1, P, 3, 80);
    const s = await dialled;
    let got = 0;
    let ordered = true;
    const outcome = new Promise<Error | null>((resolve) => {
      s.on('error', resolve);
      s.on('end', () => resolve(null));
    });
    s.on('data', (c: Buffer) => {
      for (let j = 0; j < c.length; j++) if (c[j] !== (Math.floor((got + j) / chunk) & 0xff)) ordered = false;
      got += c.length;
    });
    expect(await outcome).toBeNull();
    expect(got).toBe(total);
    expect(ordered).toBe(true);
  });

  it('with no window offered, data ahead of the ACK beyond the window it grants fails the stream', async () => {
    const { node, raw } = rawLink({ heartbeatInterval: 0 });
    nodes.push(node);
    const dialled = node.dial('bob:80', { window: 0 });
    dialled.catch(() => {});
    const P = (await raw.next((f) => f.cmd === Cmd.OPEN)).srcPort;
    for (let i = 0; i < 3; i++) raw.send(Cmd.DATA, 1, P, 3, 80, new Uint8Array(40_000));
    // The ACK grants 100,000 bytes: 120,000 came ahead of it.
    raw.send(Cmd.OPEN_ACK, 1, P, 3, 80, encodeOpenAck({ window: 100_000 }));
    const s = await dialled;
    const err = await new Promise<Error | null>((resolve) => {
      s.on('error', resolve);
      s.on('close', () => resolve(null));
      s.resume();
    });
    expect(err).toBeInstanceOf(FlowControlError);
    await raw.next((f) => f.cmd === Cmd.CLOSE && f.dstPort === 80);
  });

  it("frames from another address than the one the ACK names are not the stream's", async () => {
    const { node, raw } = rawLink({ heartbeatInterval: 0 });
    nodes.push(node);
    const dialled = node.dial('bob:80');
    dialled.catch(() => {});
    const P = (await raw.next((f) => f.cmd === Cmd.OPEN)).srcPort;
    raw.send(Cmd.DATA, 1, P, 4, 80, text('forged'));
    raw.send(Cmd.DATA, 1, P, 3, 81, text('forged'));
    raw.send(Cmd.OPEN_ACK, 1, P, 3, 80, encodeOpenAck({ window: 0 }));
    raw.send(Cmd.DATA, 1, P, 3, 80, text('real'));
    raw.send(Cmd.CLOSE, 1, P, 3, 80);
    expect(await readAll(await dialled)).toBe('real');
  });

  // Regression: the frames kept for a waiting dial come from the address of the first one. When
  // another address sent first (a late frame of an earlier stream from the same port, a forger),
  // the acceptor's own data and close were refused, and the stream its ACK made ran without them:
  // here 'greeting' was lost, and the stream delivered 'rest' and ended cleanly. Now it fails,
  // saying why.
  it('a stream whose early frames were refused for another address fails instead of missing them', async () => {
    const { node, raw } = rawLink({ heartbeatInterval: 0 });
    nodes.push(node);
    const dialled = node.dial('bob:80');
    dialled.catch(() => {});
    const P = (await raw.next((f) => f.cmd === Cmd.OPEN)).srcPort;
    raw.send(Cmd.DATA, 1, P, 4, 80, text('stale'));
    raw.send(Cmd.DATA, 1, P, 3, 80, text('greeting'));
    raw.send(Cmd.OPEN_ACK, 1, P, 3, 80, encodeOpenAck({ window: 0 }));
    const s = await dialled;
    const outcome = new Promise<Error | null>((resolve) => {
      s.on('error', resolve);
      s.on('close', () => resolve(null));
      s.resume();
    });
    // A stream that missed nothing would stay open: the close after this ends it either way.
    raw.send(Cmd.DATA, 1, P, 3, 80, text('rest'));
    raw.send(Cmd.CLOSE, 1, P, 3, 80);
    const err = await outcome;
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err?.message).toContain('4:80 had sent to port');
  });
});
