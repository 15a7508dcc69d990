import { afterEach, describe, expect, it } from 'vitest';
import { DialRefusedError, type FlexStream, Node, type NodeOptions, ProtocolError } from '../../src/index.js';
import { admit } from '../../src/node/admit.js';
import type { SwitcherClient } from '../../src/switcher/client.js';
import type { Registry } from '../../src/switcher/registry.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { memoryPair } from '../../src/transport/memory.js';
import type { Transport } from '../../src/transport/types.js';
import { ALL_CAPS, Cmd } from '../../src/wire/constants.js';
import { makeFrame } from '../../src/wire/frame.js';
import { encodeOpen, encodeOpenAck } from '../../src/wire/open.js';
import { once, readAll } from '../helpers/streams.js';
import { join as joinRaw } from '../unit/switcher/helpers.js';

/**
 * PROTOCOL.md 14: extension frames are "never sent to a peer that did not ask for them". A dialer
 * with `earlyData` remembers per domain that its holder takes early data; when the domain passes
 * to another node (a reconnect, a takeover), the next dial still sends its data, and its FIN
 * (0x0C), behind the open. The switcher holds such frames until the new holder's ACK shows that
 * it takes early data: a Go node never sees them, and the dialer, whose ACK is not marked
 * EARLY_ROUTED, fails that one stream; a flexmux node gets them right after its ACK.
 */

const PASSWORD = 'flex-test';
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function join(sw: Switcher, domain: string, options: NodeOptions = {}): Promise<Node> {
  const [mine, theirs] = memoryPair();
  sw.handle(theirs);
  const { ip, transport } = await admit(mine as Transport, { password: PASSWORD, domain });
  const node = new Node(transport, { ...options, domain, ip });
  cleanup.push(() => node.destroy());
  return node;
}

/** The switcher's own record of a client (its info() does not show what these tests check). */
function inner(sw: Switcher, domain: string): SwitcherClient | undefined {
  return (sw as unknown as { registry: Registry<SwitcherClient> }).registry.byDomain(domain);
}

function serveReplies(n: Node, port: number, got: string[] = []): void {
  n.listen(port).on('stream', (s: FlexStream) => {
    const parts: Buffer[] = [];
    s.on('error', () => {});
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('end', () => {
      got.push(Buffer.concat(parts).toString());
      s.end(Buffer.concat([Buffer.from('got '), ...parts]));
    });
  });
}

async function ask(n: Node, address: string, question: string): Promise<string> {
  const s = await n.dial(address);
  s.end(question);
  return (await readAll(s)).toString();
}

/** A switcher, and alice (earlyData) after a first request to a flexmux bob, who then leaves. */
async function bobLeft(): Promise<{ sw: Switcher; alice: Node }> {
  const sw = new Switcher({ password: PASSWORD });
  cleanup.push(() => sw.close({ timeout: 1_000 }));
  const bob = await join(sw, 'bob');
  const alice = await join(sw, 'alice', { earlyData: true });
  serveReplies(bob, 9);
  expect(await ask(alice, 'bob:9', 'first')).toBe('got first');
  bob.destroy();
  await expect.poll(() => sw.client('bob')).toBeUndefined();
  return { sw, alice };
}

describe('early data and a domain that changed hands', () => {
  it('sends no frame of an unnegotiated extension to a Go node that took the domain', async () => {
    const { sw, alice } = await bobLeft();
    const goBob = await joinRaw(sw, 'bob');
    const s = await alice.dial('bob:9');
    // Early: the dial resolved before any ACK, and the stream is addressed to FFFF.
    expect(s.core.remoteIP).toBe(0xffff);
    const failed = once<Error>(s, 'error');
    s.end('request');
    const open = await goBob.next((f) => f.cmd === Cmd.OPEN);
    goBob.send(makeFrame(Cmd.OPEN_ACK, open.srcIP, open.srcPort, goBob.ip, 9, encodeOpenAck({ window: 0 })));
    // The ACK is not marked EARLY_ROUTED: the request did not reach bob, and the stream says so.
    expect(await failed).toBeInstanceOf(ProtocolError);
    // alice closes the stream at the Go node; her earlier frames passed the switcher before it.
    await goBob.next((f) => f.cmd === Cmd.CLOSE && f.dstPort === 9 && f.srcPort === open.srcPort);
    const seen = goBob.inbox.filter((f) => f.srcPort === open.srcPort).map((f) => f.cmd);
    expect(seen).not.toContain(Cmd.FIN);
    expect(seen).not.toContain(Cmd.DATA);
    expect(inner(sw, 'alice')?.heldEarly).toBe(0);
    // Early data is off for the domain now: the next dial waits for the Go node's ACK.
    const next = alice.dial('bob:9');
    const open2 = await goBob.next((f) => f.cmd === Cmd.OPEN);
    goBob.send(
      makeFrame(Cmd.OPEN_ACK, open2.srcIP, open2.srcPort, goBob.ip, 9, encodeOpenAck({ window: 0 })),
    );
    const s2 = await next;
    expect(s2.core.remoteIP).toBe(goBob.ip);
    s2.write('again');
    const data = await goBob.next((f) => f.cmd === Cmd.DATA && f.srcPort === open2.srcPort);
    expect(Buffer.from(data.payload).toString()).toBe('again');
  });

  it('keeps a stream accepted on its port when the early dial ACK names it too (12.3)', async () => {
    // A simultaneous open: alice listens on the port her early dial waits on, and bob opens to
    // it from the port she dialled. Her dial's ACK then names the stream she accepted.
    const { sw, alice } = await bobLeft();
    const bob = await joinRaw(sw, 'bob');
    const assumed = (
      alice as unknown as { earlyDomains: Map<string, { window: number; caps: number }> }
    ).earlyDomains.get('bob');
    if (assumed === undefined) throw new Error('alice did not learn early data for bob');
    const s = await alice.dial('bob:9');
    expect(s.core.remoteIP).toBe(0xffff);
    const failed = once<Error>(s, 'error');
    const open = await bob.next((f) => f.cmd === Cmd.OPEN);
    const accepting = alice.listen(open.srcPort).accept();
    bob.send(makeFrame(Cmd.OPEN, alice.ip, open.srcPort, bob.ip, 9, encodeOpen({ domain: '', window: 0 })));
    await bob.next((f) => f.cmd === Cmd.OPEN_ACK && f.dstPort === 9);
    const accepted = await accepting;
    const ack = encodeOpenAck({ window: assumed.window, caps: assumed.caps });
    bob.send(makeFrame(Cmd.OPEN_ACK, alice.ip, open.srcPort, bob.ip, 9, ack));
    const err = await failed;
    expect(err).toBeInstanceOf(DialRefusedError);
    expect((err as DialRefusedError).remoteText).toBe('sid is attached');
    const got = new Promise<string>((resolve) => accepted.once('data', (b: Buffer) => resolve(String(b))));
    bob.send(makeFrame(Cmd.DATA, alice.ip, open.srcPort, bob.ip, 9, new TextEncoder().encode('hello')));
    expect(await got).toBe('hello');
  });

  it('delivers early data to a flexmux node that took the domain, right after its ACK', async () => {
    const { sw, alice } = await bobLeft();
    const got: string[] = [];
    serveReplies(await join(sw, 'bob'), 9, got);
    const s = await alice.dial('bob:9');
    expect(s.core.remoteIP).toBe(0xffff);
    s.end('second');
    expect((await readAll(s)).toString()).toBe('got second');
    expect(got).toEqual(['second']);
    // The new holder has shown it takes early data: the next early dial is not held.
    expect(inner(sw, 'bob')?.takesEarly).toBe(true);
    expect(await ask(alice, 'bob:9', 'third')).toBe('got third');
    expect(got).toEqual(['second', 'third']);
    expect(inner(sw, 'alice')?.heldEarly).toBe(0);
  });

  it('drops, and fails the stream, past the held-bytes limit; the new holder sees none of it', async () => {
    const { sw, alice } = await bobLeft();
    // The new holder, as raw frames: it answers like a flexmux node, but only when told to.
    const bob2 = await joinRaw(sw, 'bob');
    const s = await alice.dial('bob:9');
    expect(s.core.remoteIP).toBe(0xffff);
    const failed = once<Error>(s, 'error');
    // More than the switcher holds for one dialer (1 MiB), within the 2 MiB window.
    s.end(Buffer.alloc(1536 * 1024, 7));
    const open = await bob2.next((f) => f.cmd === Cmd.OPEN);
    // Past the limit everything held for this dial is dropped, and what follows too.
    await expect.poll(() => sw.stats().dropped).toBeGreaterThanOrEqual(25);
    expect(inner(sw, 'alice')?.heldEarly).toBe(0);
    const caps = ALL_CAPS;
    bob2.send(
      makeFrame(
        Cmd.OPEN_ACK,
        open.srcIP,
        open.srcPort,
        bob2.ip,
        9,
        encodeOpenAck({ window: 2 * 1024 * 1024, caps }),
      ),
    );
    // Without EARLY_ROUTED on its ACK the dialer knows its data did not all arrive.
    expect(await failed).toBeInstanceOf(ProtocolError);
    // The ACK took RESET, so the acceptor's stream is reset, not closed (an abortive end).
    await bob2.next((f) => f.cmd === Cmd.RESET && f.srcPort === open.srcPort);
    expect(bob2.inbox.filter((f) => f.srcPort === open.srcPort && f.cmd === Cmd.DATA)).toEqual([]);
  });
});
