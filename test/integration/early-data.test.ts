import { afterEach, describe, expect, it } from 'vitest';
import {
  ConfigError,
  DialRefusedError,
  DialTimeoutError,
  type FlexStream,
  Node,
  type NodeOptions,
  ProtocolError,
  ResetCode,
  validateNodeOptions,
} from '../../src/index.js';
import { memoryPair } from '../../src/transport/memory.js';
import { Caps, Cmd, SWITCHER_IP } from '../../src/wire/constants.js';
import type { Frame } from '../../src/wire/frame.js';
import { encodeOpenAck } from '../../src/wire/open.js';
import { decodeReset } from '../../src/wire/reset.js';
import { type RawPeer, rawLink } from '../helpers/raw.js';
import { once, readAll } from '../helpers/streams.js';
import { Tap } from '../helpers/tap.js';

/**
 * Early data (caps bit 10, docs/protocol.md "Early data"): with `earlyData`, once a domain dial's
 * ACK has come from the peer itself (src IP 0xFFFF: no switcher rewrote it) carrying the bit, later
 * dials resolve at once and their data follows the OpenStream without waiting for its ACK.
 */

const nodes: Node[] = [];
afterEach(() => {
  for (const n of nodes.splice(0)) n.destroy();
});

function pair(aOptions: NodeOptions = {}): { a: Node; b: Node; ta: Tap; tb: Tap } {
  const [x, y] = memoryPair();
  const ta = new Tap(x);
  const tb = new Tap(y);
  const a = new Node(ta, { domain: 'alice', ip: 1, ...aOptions });
  const b = new Node(tb, { domain: 'bob', ip: 2 });
  nodes.push(a, b);
  return { a, b, ta, tb };
}

/** bob answers every stream on port 9 with `got <request>` and ends it. */
function serveReplies(b: Node): void {
  b.listen(9).on('stream', (peer: FlexStream) => {
    const parts: Buffer[] = [];
    peer.on('data', (d: Buffer) => parts.push(d));
    peer.on('end', () => peer.end(Buffer.concat([Buffer.from('got '), ...parts])));
  });
}

async function ask(a: Node, question: string): Promise<string> {
  const s = await a.dial('bob:9');
  s.end(question);
  return (await readAll(s)).toString();
}

/** Lets every queued microtask and memory-transport delivery run. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('early data between two nodes', () => {
  it('sends a later dial’s data and FIN with its open, before any ACK comes back', async () => {
    const { a, b, ta, tb } = pair({ earlyData: true });
    serveReplies(b);
    expect(await ask(a, 'first')).toBe('got first');
    ta.sent.length = 0;
    // bob's frames (its ACK among them) are held: only early data can reach him now.
    tb.hold();
    const s = await a.dial('bob:9');
    expect(s.core.caps).toBe(0x1f);
    const reply = readAll(s);
    s.end('second');
    await settle();
    expect(ta.sent).toEqual(['open', 'data', 'fin']);
    expect(b.stats.streamsAccepted).toBe(2);
    tb.release();
    expect((await reply).toString()).toBe('got second');
  });

  it('keeps the dial waiting for its ACK without the option', async () => {
    const { a, b, tb } = pair();
    serveReplies(b);
    expect(await ask(a, 'first')).toBe('got first');
    tb.hold();
    let resolved = false;
    const dialing = a.dial('bob:9').then((s) => {
      resolved = true;
      return s;
    });
    await settle();
    expect(b.stats.streamsAccepted).toBe(2); // the open arrived and was answered ...
    expect(resolved).toBe(false); // ... but the answer is held
    tb.release();
    const s = await dialing;
    s.end('second');
    expect((await readAll(s)).toString()).toBe('got second');
  });

  it('fails the stream, not the dial, when a later open is refused', async () => {
    const { a, b } = pair({ earlyData: true });
    serveReplies(b);
    expect(await ask(a, 'first')).toBe('got first');
    const s = await a.dial('bob:10'); // nobody listens on 10
    const failed = once<Error>(s, 'error');
    const closed = once(s, 'close');
    s.write('lost');
    const err = await failed;
    expect(err).toBeInstanceOf(DialRefusedError);
    expect(err.message).toContain('listener not found');
    await closed;
    expect(b.stats.openRefused).toBe(1);
    expect(b.stats.dropped).toBeGreaterThanOrEqual(1); // the data behind the refused open
    // The link still works, early.
    expect(await ask(a, 'third')).toBe('got third');
  });

  it('waits for the ACK of a dial that offers another window than the one learned', async () => {
    const { a, b, tb } = pair({ earlyData: true });
    serveReplies(b);
    expect(await ask(a, 'first')).toBe('got first');
    tb.hold();
    let resolved = false;
    const dialing = a.dial('bob:9', { window: 4096 }).then((s) => {
      resolved = true;
      return s;
    });
    await settle();
    expect(b.stats.streamsAccepted).toBe(2);
    expect(resolved).toBe(false);
    tb.release();
    const s = await dialing;
    expect(s.core.window).toBe(4096);
    s.end('small');
    expect((await readAll(s)).toString()).toBe('got small');
  });

  it('fails an early stream whose ACK does not come within the dial timeout, and resets it at the peer', async () => {
    const { a, b, ta, tb } = pair({ earlyData: true });
    serveReplies(b);
    expect(await ask(a, 'first')).toBe('got first');
    tb.hold();
    ta.sent.length = 0;
    const s = await a.dial('bob:9', { timeout: 50 });
    s.write('early');
    const err = await once<Error>(s, 'error');
    expect(err).toBeInstanceOf(DialTimeoutError);
    // bob accepted the stream when its open came: he hears that it is gone.
    expect(ta.sent).toEqual(['open', 'data', 'reset']);
    await expect.poll(() => b.streamCount).toBe(0);
    // His ACK, late, is answered with a close (which he answers for a stream he forgot).
    tb.release();
    await expect.poll(() => ta.sent).toEqual(['open', 'data', 'reset', 'close']);
    await expect.poll(() => tb.sent.slice(-2)).toEqual(['open.ack', 'close.ack']);
    expect(a.streamCount).toBe(0);
  });
});

/** Answers the next OpenStream the raw peer receives; returns that open. */
async function ackNext(raw: RawPeer, srcIP: number, window: number, caps: number): Promise<Frame> {
  const open = await raw.next((f) => f.cmd === Cmd.OPEN);
  raw.send(Cmd.OPEN_ACK, open.srcIP, open.srcPort, srcIP, open.dstPort, encodeOpenAck({ window, caps }));
  return open;
}

/** A node (earlyData) on a raw link after one dial of bob:9, answered from `srcIP` with `caps`. */
async function taughtBy(srcIP: number, caps: number): Promise<{ node: Node; raw: RawPeer }> {
  const { node, raw } = rawLink({ earlyData: true });
  nodes.push(node);
  const first = node.dial('bob:9');
  await ackNext(raw, srcIP, 0, caps);
  await first;
  return { node, raw };
}

/** Dials bob:9 and reports whether the dial resolved once its open reached the raw peer. */
async function dialResolvesBeforeAck(node: Node, raw: RawPeer): Promise<boolean> {
  let resolved = false;
  node.dial('bob:9').then(
    () => {
      resolved = true;
    },
    () => {}, // the node is destroyed after the test with this dial pending
  );
  await raw.next((f) => f.cmd === Cmd.OPEN);
  await settle();
  return resolved;
}

describe('early data is only learned from the peer itself', () => {
  it('is not used when a switcher answered for the peer (ACK from its IP)', async () => {
    const { node, raw } = await taughtBy(7, 0x1f); // a switcher puts the acceptor's IP (7) in the ACK
    expect(await dialResolvesBeforeAck(node, raw)).toBe(false);
  });

  it('is not used with a peer that does not offer the bit', async () => {
    const { node, raw } = await taughtBy(SWITCHER_IP, 0x1f & ~Caps.EARLY_DATA);
    expect(await dialResolvesBeforeAck(node, raw)).toBe(false);
  });

  it('fails the stream, and resets the peer’s, when a later ACK disagrees', async () => {
    const { node, raw } = await taughtBy(SWITCHER_IP, 0x1f);
    const s = await node.dial('bob:9');
    s.write('early');
    const failed = once<Error>(s, 'error');
    const open = await ackNext(raw, SWITCHER_IP, 4096, 0x1f); // another window than before
    expect((await failed) instanceof ProtocolError).toBe(true);
    // An abortive end: a reset (code 1, protocol), as the ACK took RESET; no close.
    const reset = await raw.next((f) => f.cmd === Cmd.RESET);
    expect([reset.dstPort, reset.srcPort]).toEqual([9, open.srcPort]);
    expect(decodeReset(reset.payload).code).toBe(ResetCode.PROTOCOL);
    expect(raw.frames.some((f) => f.cmd === Cmd.CLOSE)).toBe(false);
    // The data went out behind the open, before the ACK was read.
    const data = await raw.next((f) => f.cmd === Cmd.DATA);
    expect(new TextDecoder().decode(data.payload)).toBe('early');
    // Early data is off for this link from now on.
    expect(await dialResolvesBeforeAck(node, raw)).toBe(false);
  });
});

describe('an acceptor that grants more window than offered', () => {
  it('has its early dials confirmed with the offer holding, as its other dials are', async () => {
    // The offer holds for a dial whose ACK grants more (node.grantedWindow), and that is what was
    // learned; the early dial's ACK, which grants more again, was compared raw with it, so every
    // early dial to such a peer failed with ProtocolError (and early data went off, to be learned
    // again by the next dial, whose successor failed in turn).
    const { node, raw } = rawLink({ earlyData: true, window: 65_536 });
    nodes.push(node);
    const first = node.dial('bob:9');
    await ackNext(raw, SWITCHER_IP, 131_072, 0x1f);
    (await first).destroy();
    const s = await node.dial('bob:9');
    const errors: Error[] = [];
    s.on('error', (e) => errors.push(e));
    s.write('early');
    await ackNext(raw, SWITCHER_IP, 131_072, 0x1f);
    const data = await raw.next((f) => f.cmd === Cmd.DATA);
    expect(new TextDecoder().decode(data.payload)).toBe('early');
    // The node answers the ping behind whatever it made of the ACK.
    raw.send(Cmd.PING, 1, 0, SWITCHER_IP, 7, new Uint8Array(0));
    await raw.next((f) => f.cmd === Cmd.PING_ACK);
    expect(errors).toEqual([]);
    expect(s.core.state).toBe('open');
    expect(s.core.window).toBe(65_536);
    expect(raw.frames.some((f) => f.cmd === Cmd.RESET && f.srcPort === s.core.localPort)).toBe(false);
    expect(await dialResolvesBeforeAck(node, raw)).toBe(true);
  });
});

describe('early data through a switcher, as a node sees it', () => {
  it('remembers at most 1,024 domains, forgetting the oldest first', async () => {
    const { node, raw } = rawLink({ earlyData: true, maxPendingDials: 4096 });
    nodes.push(node);
    const marked = 0x1f | Caps.EARLY_ROUTED;
    // 1,025 domains, each answered once through a "switcher" that routes early data (IP 7).
    for (let i = 0; i <= 1024; i++) {
      const dial = node.dial(`d${i}:9`);
      await ackNext(raw, 7, 0, marked);
      (await dial).destroy();
    }
    // The newest domain is dialled early: the dial resolves before any ACK.
    const early = await node.dial('d1024:9');
    expect(early.core.remoteIP).toBe(SWITCHER_IP);
    early.destroy();
    // The oldest one was forgotten: its dial waits for the ACK.
    let resolved = false;
    node.dial('d0:9').then(
      () => {
        resolved = true;
      },
      () => {},
    );
    for (let i = 0; i < 3; i++) await settle();
    expect(resolved).toBe(false);
  });
});

describe('the earlyData option', () => {
  it('is off by default and must be a boolean', () => {
    expect(validateNodeOptions({}).earlyData).toBe(false);
    expect(validateNodeOptions({ earlyData: true }).earlyData).toBe(true);
    expect(() => validateNodeOptions({ earlyData: 'yes' as unknown as boolean })).toThrow(ConfigError);
  });
});
