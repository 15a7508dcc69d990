import { afterEach, describe, expect, it } from 'vitest';
import {
  DialRefusedError,
  DialTimeoutError,
  type FlexStream,
  Node,
  type NodeOptions,
  ProtocolError,
} from '../../src/index.js';
import { admit } from '../../src/node/admit.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { memoryPair } from '../../src/transport/memory.js';
import type { Transport } from '../../src/transport/types.js';
import { Caps } from '../../src/wire/constants.js';
import { once, readAll } from '../helpers/streams.js';
import { Tap } from '../helpers/tap.js';

/**
 * Early data through a flexmux switcher (docs/protocol.md "Early data"): the switcher keeps a
 * route for each domain dial that offers EARLY_DATA, sends the dialer's frames to FFFF from that
 * port where the open went, and marks the ACK EARLY_ROUTED. A dialer with `earlyData` that has
 * seen such an ACK for a domain sends its next dials' data to FFFF behind the open, and moves to
 * the acceptor's IP once the ACK names it.
 */

const PASSWORD = 'early-pw';
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function switcher(): Switcher {
  const sw = new Switcher({ password: PASSWORD });
  cleanup.push(() => sw.close({ timeout: 1_000 }));
  return sw;
}

/** A node admitted to `sw` over a memory link; `tap` sees (and can hold) what the switcher sends it. */
async function join(
  sw: Switcher,
  domain: string,
  options: NodeOptions = {},
): Promise<{ node: Node; tap: Tap }> {
  const [mine, theirs] = memoryPair();
  const tap = new Tap(theirs);
  sw.handle(tap);
  const { ip, transport } = await admit(mine as Transport, { password: PASSWORD, domain });
  const node = new Node(transport, { ...options, domain, ip });
  cleanup.push(() => node.destroy());
  return { node, tap };
}

function serveReplies(n: Node, port: number): void {
  n.listen(port).on('stream', (s: FlexStream) => {
    const parts: Buffer[] = [];
    s.on('error', () => {});
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('end', () => s.end(Buffer.concat([Buffer.from('got '), ...parts])));
  });
}

async function ask(n: Node, address: string, question: string): Promise<string> {
  const s = await n.dial(address);
  s.end(question);
  return (await readAll(s)).toString();
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A switcher, bob answering on port 9, and alice (earlyData) after her first request to bob. */
async function taught(): Promise<{
  sw: Switcher;
  bob: { node: Node; tap: Tap };
  alice: { node: Node; tap: Tap };
}> {
  const sw = switcher();
  const bob = await join(sw, 'bob');
  const alice = await join(sw, 'alice', { earlyData: true });
  serveReplies(bob.node, 9);
  expect(await ask(alice.node, 'bob:9', 'first')).toBe('got first');
  return { sw, bob, alice };
}

describe('early data through a flexmux switcher', () => {
  it('sends a later dial’s data to FFFF with its open; the switcher delivers it where the open went', async () => {
    const { sw, bob, alice } = await taught();
    // Hold what the switcher sends alice (bob's ACKs among it): only early data reaches bob now.
    alice.tap.hold();
    const s = await alice.node.dial('bob:9');
    expect(s.core.remoteIP).toBe(0xffff);
    const closed = once(s, 'close');
    const reply = readAll(s);
    s.end('second');
    for (let i = 0; i < 20 && bob.node.stats.streamsAccepted < 2; i++) await settle();
    await settle();
    expect(bob.node.stats.streamsAccepted).toBe(2);
    expect(alice.tap.sent.filter((c) => c === 'open.ack')).toHaveLength(1);
    alice.tap.release();
    expect((await reply).toString()).toBe('got second');
    // Once the ACK came, the stream is addressed to bob's IP.
    expect(s.core.remoteIP).toBe(bob.node.ip);
    expect(s.core.caps & Caps.EARLY_ROUTED).toBe(0);
    await closed;
    // The switcher forgot the streams (both ends sent FIN).
    for (let i = 0; i < 20 && (sw.streams('alice')?.length ?? 0) > 0; i++) await settle();
    expect(sw.streams('alice')).toEqual([]);
  });

  it("keeps a stream in the admin's pages once its ACK moves it to the acceptor's IP", async () => {
    const { bob, alice } = await taught();
    const s = await alice.node.dial('bob:9');
    s.on('error', () => {});
    expect(s.core.remoteIP).toBe(0xffff);
    for (let i = 0; i < 20 && s.core.remoteIP !== bob.node.ip; i++) await settle();
    expect(s.core.remoteIP).toBe(bob.node.ip);
    // Its key changed with its address (the node's map holds it under the new one): the pages
    // of GET /api/v1/streams, by serial, list it still.
    expect(alice.node.streamPage(0, 0, 10)).toEqual([s.core]);
    s.destroy();
  });

  it('carries bulk early data whole, and frames queued before the ACK after it', async () => {
    const { alice } = await taught();
    const body = Buffer.alloc(3 * 1024 * 1024 + 7);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
    const s = await alice.node.dial('bob:9');
    s.end(body);
    const got = await readAll(s);
    expect(got.subarray(0, 4).toString()).toBe('got ');
    expect(got.subarray(4).equals(body)).toBe(true);
  });

  it('fails the stream when the open is refused, and the switcher keeps no route', async () => {
    const { sw, alice } = await taught();
    const s = await alice.node.dial('bob:10');
    const failed = once<Error>(s, 'error');
    s.write('lost');
    expect(await failed).toBeInstanceOf(DialRefusedError);
    expect(await ask(alice.node, 'bob:9', 'third')).toBe('got third');
    expect(sw.streams('alice')).toEqual([]);
  });

  it('resets an early stream whose ACK does not come in time: the route goes, and the late ACK is closed', async () => {
    const { sw, bob, alice } = await taught();
    // What the switcher sends bob waits: his ACK cannot come within the dial timeout.
    bob.tap.hold();
    const before = bob.tap.sent.length;
    const s = await alice.node.dial('bob:9', { timeout: 50 });
    expect(s.core.remoteIP).toBe(0xffff);
    const failed = once<Error>(s, 'error');
    s.write('early');
    await expect.poll(() => sw.client('alice')?.earlyRoutes).toBe(1);
    expect(await failed).toBeInstanceOf(DialTimeoutError);
    // alice's reset reached the switcher: the route is gone although bob never answered.
    await expect.poll(() => sw.client('alice')?.earlyRoutes).toBe(0);
    // bob gets the open, the data and the reset; his late ACK is answered with a close.
    bob.tap.release();
    await expect.poll(() => bob.tap.sent.slice(before)).toEqual(['open', 'data', 'reset', 'close']);
    await expect.poll(() => sw.streams('alice')).toEqual([]);
    expect(bob.node.streamCount).toBe(0);
    expect(alice.node.streamCount).toBe(0);
    // The domain still takes early data.
    expect(await ask(alice.node, 'bob:9', 'again')).toBe('got again');
  });

  it('fails the stream, not another node, when the domain moved to a node that answers differently', async () => {
    const { sw, bob, alice } = await taught();
    // bob leaves; a new bob with another window takes the domain (and a new IP).
    bob.node.destroy();
    for (let i = 0; i < 50 && sw.client('bob') !== undefined; i++) await settle();
    const bob2 = (await join(sw, 'bob', { window: 65_536 })).node;
    const got: string[] = [];
    bob2.listen(9).on('stream', (st: FlexStream) => {
      st.on('error', () => {});
      st.on('data', (d: Buffer) => got.push(d.toString()));
    });
    const s = await alice.node.dial('bob:9');
    const failed = once<Error>(s, 'error');
    s.write('early');
    expect(await failed).toBeInstanceOf(ProtocolError);
    // The early data went where the open went: the domain's holder, nobody else.
    expect(got.join('')).toBe('early');
    // Early data is off for that domain now: the next dial waits for its ACK and works.
    const s2 = await alice.node.dial('bob:9');
    expect(s2.core.remoteIP).toBe(bob2.ip);
  });

  it('is not used for a domain whose ACKs did not come marked by the switcher', async () => {
    const { sw, alice } = await taught();
    // A domain never dialled: the first dial waits for its ACK.
    const carol = await join(sw, 'carol');
    serveReplies(carol.node, 9);
    alice.tap.hold();
    let resolved = false;
    alice.node.dial('carol:9').then(
      () => {
        resolved = true;
      },
      () => {},
    );
    for (let i = 0; i < 20 && carol.node.stats.streamsAccepted < 1; i++) await settle();
    expect(carol.node.stats.streamsAccepted).toBe(1);
    expect(resolved).toBe(false);
    alice.tap.release();
  });

  it('refuses at once a v3-closed early dial whose acceptor leaves before answering', async () => {
    // Plain v3 streams (no RESET, no HALF_CLOSE): end() runs the v3 close, which waits for the
    // ACK. The switcher noted the close on the route and, when bob left, refused nothing: alice
    // waited out her dial timeout.
    const sw = switcher();
    const bob = await join(sw, 'bob');
    const alice = await join(sw, 'alice', { earlyData: true, caps: Caps.EARLY_DATA });
    bob.node.listen(9);
    // One answered dial teaches alice that the switcher routes early data to bob.
    (await alice.node.dial('bob:9')).destroy();
    bob.tap.hold(); // bob never sees the open: he cannot answer it
    const closes = sw.client('alice')?.framesByCmd.close ?? 0;
    const s = await alice.node.dial('bob:9', { timeout: 20_000 });
    expect(s.core.remoteIP).toBe(0xffff);
    expect(s.core.caps & Caps.RESET).toBe(0);
    const failed = once<Error>(s, 'error', 5_000);
    s.resume();
    s.end('request');
    await expect.poll(() => sw.client('alice')?.framesByCmd.close ?? 0).toBe(closes + 1);
    const bobGone = expect.poll(() => sw.client('bob')).toBeUndefined();
    bob.node.destroy();
    await bobGone;
    const err = await failed;
    expect(err).toBeInstanceOf(DialRefusedError);
    expect(err.message).toMatch(/resolve domain failed/);
    await expect.poll(() => alice.node.streamCount).toBe(0);
    expect(sw.client('alice')?.earlyRoutes).toBe(0);
    // The next early dial (nobody holds the domain now) is refused as any is.
    const next = await alice.node.dial('bob:9');
    expect(await once<Error>(next, 'error', 5_000)).toBeInstanceOf(DialRefusedError);
  });
});
