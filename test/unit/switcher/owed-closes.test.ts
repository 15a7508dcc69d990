import { afterEach, describe, expect, it } from 'vitest';
import { BaseNode, FlexStream, Session } from '../../../src/index.js';
import { SwitcherClient } from '../../../src/switcher/client.js';
import type { Registry } from '../../../src/switcher/registry.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { memoryPair } from '../../../src/transport/memory.js';
import { Cmd } from '../../../src/wire/constants.js';
import { type Frame, makeFrame } from '../../../src/wire/frame.js';
import { encodeOpen, encodeOpenAck } from '../../../src/wire/open.js';
import { join, PASSWORD, type Raw } from './helpers.js';

/**
 * A v3 close of a linked stream that passed the switcher leaves the stream forgotten there, but
 * its close-ACK owed: the closer keeps the close (SwitcherClient.closing) until the ACK passes, so
 * that an access reload that keeps the two nodes apart can answer it in the peer's place. When
 * either end leaves, the switcher forgets what the departed client took part in: a closer keeps
 * no close a departed peer owed it, and no later reload answers for a client that is gone. A peer
 * that leaves owing the close-ACK never sends it: the switcher answers in its place at the leave,
 * or the closer waited out its close timeout (2 s by default, Go's too), its stream and port held.
 */

const switchers: Switcher[] = [];
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await Promise.all(switchers.splice(0).map((s) => s.close({ timeout: 200 })));
});

function makeSwitcher(): Switcher {
  const sw = new Switcher({ password: PASSWORD, access: { dial: [{ from: 'web', to: ['db', 'cache'] }] } });
  switchers.push(sw);
  return sw;
}

/** The switcher's own record of a client. */
function inner(s: Switcher, domain: string): SwitcherClient {
  const c = (s as unknown as { registry: Registry<SwitcherClient> }).registry.byDomain(domain);
  if (c === undefined) throw new Error(`no client ${domain}`);
  return c;
}

/** `dial` -> `acc`:80 by IP from `port`, plain v3, linked at the switcher. */
async function stream(dial: Raw, acc: Raw, port = 1000): Promise<void> {
  dial.send(makeFrame(Cmd.OPEN, acc.ip, 80, dial.ip, port, encodeOpen({ domain: '' })));
  await acc.next((f) => f.cmd === Cmd.OPEN && f.srcPort === port);
  acc.send(makeFrame(Cmd.OPEN_ACK, dial.ip, port, acc.ip, 80, encodeOpenAck({ window: 0 })));
  await dial.next((f) => f.cmd === Cmd.OPEN_ACK && f.dstPort === port);
}

/** `from` closes its stream from `port` to `to`:80; the close reaches `to`, unanswered. */
async function close(from: Raw, to: Raw, port = 1000): Promise<void> {
  from.send(makeFrame(Cmd.CLOSE, to.ip, 80, from.ip, port));
  await to.next((f) => f.cmd === Cmd.CLOSE && f.srcPort === port);
}

const isCloseAck = (f: Frame): boolean => f.cmd === Cmd.CLOSE_ACK;

/** The close-ACKs `raw` received so far, taken out of its inbox. */
function closeAcks(raw: Raw): Frame[] {
  const acks = raw.inbox.filter(isCloseAck);
  raw.inbox.splice(0, raw.inbox.length, ...raw.inbox.filter((f) => !isCloseAck(f)));
  return acks;
}

/** How many sources `domain`'s outbox keeps a queue for (Outbox.sources). */
function queues(s: Switcher, domain: string): number {
  return (inner(s, domain) as unknown as { outbox: { sources: number } }).outbox.sources;
}

describe('a v3 close kept for its close-ACK', () => {
  it('keeps both ends from trimming their queues until the close-ACK passes', async () => {
    const sw = makeSwitcher();
    const web = await join(sw, 'web');
    const db = await join(sw, 'db');
    await stream(web, db);
    const linked = [queues(sw, 'web'), queues(sw, 'db')];
    expect(linked).toEqual([1, 1]);

    // The close leaves neither end idle: web keeps the close, db owes its ACK. A trim scheduled
    // as the stream was forgotten, before the close was kept, let go of both queues here.
    await close(web, db);
    await web.barrier();
    await db.barrier();
    expect([inner(sw, 'web').closing.size, inner(sw, 'db').owes.size]).toEqual([1, 1]);
    expect([queues(sw, 'web'), queues(sw, 'db')]).toEqual(linked);

    // Its ACK passes: both ends are idle now, and let go of their queues.
    db.send(makeFrame(Cmd.CLOSE_ACK, web.ip, 1000, db.ip, 80));
    await web.next(isCloseAck);
    await web.barrier();
    await db.barrier();
    expect([inner(sw, 'web').closing.size, inner(sw, 'db').owes.size]).toEqual([0, 0]);
    expect([queues(sw, 'web'), queues(sw, 'db')]).toEqual([0, 0]);
  });
});

describe('a stream opened again on the addresses of a kept close', () => {
  it('drops the kept close without trimming the queues of its now busy ends', async () => {
    const sw = makeSwitcher();
    const web = await join(sw, 'web');
    const db = await join(sw, 'db');
    await stream(web, db);
    await close(web, db);
    expect(inner(sw, 'web').closing.size).toBe(1);

    // The close-ACK is lost; web dials again from the same port, db accepts.
    await stream(web, db);
    await web.barrier();
    await db.barrier();
    expect([inner(sw, 'web').closing.size, inner(sw, 'db').owes.size]).toEqual([0, 0]);
    expect(sw.client('web')?.streams).toBe(1);
    expect([queues(sw, 'web'), queues(sw, 'db')]).toEqual([1, 1]);
  });
});

describe('SwitcherClient.noteClose', () => {
  // link() clears a key's kept close before the key can be closed again, so these do not happen
  // through the router: noteClose stays sound all the same.
  it('replaces a close already kept under the key: its peer owes one close-ACK, answered once', async () => {
    const sw = makeSwitcher();
    const web = await join(sw, 'web');
    const db = await join(sw, 'db');
    const [w, d] = [inner(sw, 'web'), inner(sw, 'db')];
    SwitcherClient.noteClose(w, d, 'k', makeFrame(Cmd.CLOSE, db.ip, 80, web.ip, 1000));
    SwitcherClient.noteClose(w, d, 'k', makeFrame(Cmd.CLOSE, db.ip, 80, web.ip, 1001));
    expect([w.closing.size, d.owes.size]).toEqual([1, 1]);
    expect([...d.owes]).toEqual([w.closing.get('k')]);

    // db leaves owing it: the newer close is answered in its place, the replaced one is not.
    expect(sw.kick('db')).toBe(true);
    await db.closed;
    await web.barrier();
    expect(closeAcks(web).map((f) => f.dstPort)).toEqual([1001]);
    expect(w.closing.size).toBe(0);
  });

  it('replaces a close kept with another peer: that peer owes nothing any more', async () => {
    const sw = makeSwitcher();
    const web = await join(sw, 'web');
    const db = await join(sw, 'db');
    const cache = await join(sw, 'cache');
    const [w, d, c] = [inner(sw, 'web'), inner(sw, 'db'), inner(sw, 'cache')];
    SwitcherClient.noteClose(w, d, 'k', makeFrame(Cmd.CLOSE, db.ip, 80, web.ip, 1000));
    SwitcherClient.noteClose(w, c, 'k', makeFrame(Cmd.CLOSE, cache.ip, 80, web.ip, 1000));
    expect([w.closing.size, d.owes.size, c.owes.size]).toEqual([1, 0, 1]);

    // Its close-ACK passes: nothing is kept at any end.
    SwitcherClient.dropClose(w, 'k');
    expect([w.closing.size, d.owes.size, c.owes.size]).toEqual([0, 0, 0]);
  });
});

describe('a v3 close whose peer leaves before answering', () => {
  it('is forgotten at the leave: a reload later sends nothing for the departed peer', async () => {
    const sw = makeSwitcher();
    const web = await join(sw, 'web');
    const db = await join(sw, 'db');
    await stream(web, db);
    await close(web, db);
    expect(inner(sw, 'web').closing.size).toBe(1);

    // db leaves without answering; a new db takes the domain (and may talk to web, for now).
    expect(sw.kick('db')).toBe(true);
    await db.closed;
    const db2 = await join(sw, 'db');
    await web.barrier();
    const kept = inner(sw, 'web').closing.size;
    const atLeave = closeAcks(web);

    // A reload that keeps web and db apart answered that close, as if from the old db.
    sw.setAccess({ dial: [] });
    await web.barrier();
    expect(closeAcks(web)).toEqual([]);
    // The close kept its departed peer (transport and all) reachable from web's record.
    expect(kept).toBe(0);
    // The departed db's answer came once, at its leave, from the address the close went to.
    expect(atLeave.map((f) => [f.dstIP, f.dstPort, f.srcIP, f.srcPort])).toEqual([[web.ip, 1000, db.ip, 80]]);
    expect(inner(sw, 'db').owes.size).toBe(0);
    expect(db2.ended).toBe(false);
  });

  it('keeps nothing at the peer once the closer leaves, or the close is answered', async () => {
    const sw = makeSwitcher();
    const web = await join(sw, 'web');
    const db = await join(sw, 'db');
    await stream(web, db, 1000);
    await stream(web, db, 1001);
    await close(web, db, 1000);
    await close(web, db, 1001);
    expect(inner(sw, 'db').owes.size).toBe(2);

    // The close-ACK of one passes: neither end keeps it.
    db.send(makeFrame(Cmd.CLOSE_ACK, web.ip, 1000, db.ip, 80));
    await web.next(isCloseAck);
    expect([inner(sw, 'web').closing.size, inner(sw, 'db').owes.size]).toEqual([1, 1]);

    // The closer leaves with the other one unanswered: db keeps no record of the departed web.
    web.t.destroy();
    await web.closed;
    await db.barrier();
    expect(inner(sw, 'db').owes.size).toBe(0);
  });

  it('stays bounded at both ends when a closer keeps more closes than it may', async () => {
    const sw = makeSwitcher();
    const web = await join(sw, 'web');
    const db = await join(sw, 'db');
    const n = 1030; // past MAX_CLOSING (1024): the oldest are forgotten
    for (let i = 0; i < n; i++)
      web.send(makeFrame(Cmd.OPEN, db.ip, 80, web.ip, 1000 + i, encodeOpen({ domain: '' })));
    await web.barrier();
    for (let i = 0; i < n; i++)
      db.send(makeFrame(Cmd.OPEN_ACK, web.ip, 1000 + i, db.ip, 80, encodeOpenAck({ window: 0 })));
    await db.barrier();
    for (let i = 0; i < n; i++) web.send(makeFrame(Cmd.CLOSE, db.ip, 80, web.ip, 1000 + i));
    await web.barrier();
    expect(inner(sw, 'web').closing.size).toBe(1024);
    expect(inner(sw, 'db').owes.size).toBe(1024);
    web.inbox.length = 0;

    db.t.destroy();
    await db.closed;
    await web.barrier();
    expect(inner(sw, 'web').closing.size).toBe(0);
    // Each close it still kept is answered; those forgotten past the bound wait out their timeout.
    const acks = closeAcks(web).map((f) => f.dstPort);
    expect(acks).toHaveLength(1024);
    expect(new Set(acks)).toEqual(new Set(Array.from({ length: 1024 }, (_, i) => 1000 + n - 1024 + i)));
  });

  it('is answered when the peer is kicked, not when its dead connection ends', async () => {
    const sw = makeSwitcher();
    const web = await join(sw, 'web');
    const db = await join(sw, 'db');
    await stream(web, db);
    // db sends on the stream, then goes dark with web's close in hand.
    db.send(makeFrame(Cmd.DATA, web.ip, 1000, db.ip, 80, new Uint8Array([1, 2, 3])));
    await close(web, db);
    (db.t as unknown as { blackhole(): void }).blackhole();
    expect(sw.kick('db')).toBe(true);
    const ack = await web.next(isCloseAck, 1_000);
    expect([ack.dstIP, ack.dstPort, ack.srcIP, ack.srcPort]).toEqual([web.ip, 1000, db.ip, 80]);
    // Behind what db sent first, as db's own answer would have come.
    expect(web.inbox.filter((f) => f.cmd === Cmd.DATA)).toHaveLength(1);
    expect(db.ended).toBe(false);
    expect(inner(sw, 'web').closing.size).toBe(0);
  });

  it("ends a flexmux closer's close at the leave, long before its close-ACK timeout", async () => {
    const sw = makeSwitcher();
    const web = new Session<FlexStream>({
      connector: async () => {
        const [ours, theirs] = memoryPair();
        sw.handle(theirs);
        return ours;
      },
      makeNode: (t, o) => new BaseNode(t, o, (core) => new FlexStream(core)),
      password: PASSWORD,
      domain: 'web',
      reconnect: false,
      heartbeatInterval: 0,
      caps: 0,
      // A close that waits for its ACK outlasts the test's bound by far.
      closeAckTimeout: 60_000,
    });
    cleanups.push(() => web.close());
    await web.ready({ timeout: 5_000 });
    const db = await join(sw, 'db');

    const dialled = web.dial('db:7', { timeout: 5_000 });
    const open = await db.next((f) => f.cmd === Cmd.OPEN && f.dstPort === 7);
    db.send(makeFrame(Cmd.OPEN_ACK, open.srcIP, open.srcPort, db.ip, 7, encodeOpenAck({ window: 0 })));
    const s = await dialled;
    cleanups.push(() => s.destroy());
    const closed = new Promise<'clean end' | Error>((resolve) => {
      s.on('error', (e: Error) => resolve(e));
      s.on('close', () => resolve('clean end'));
      s.resume();
    });
    s.end();
    await db.next((f) => f.cmd === Cmd.CLOSE && f.srcPort === open.srcPort);

    // db leaves without answering.
    const left = Date.now();
    expect(sw.kick('db')).toBe(true);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<'still open'>((resolve) => {
      timer = setTimeout(() => resolve('still open'), 3_000);
    });
    expect(await Promise.race([closed, bound])).toBe('clean end');
    clearTimeout(timer);
    expect(Date.now() - left).toBeLessThan(1_000);
    expect(inner(sw, 'web').closing.size).toBe(0);
  });

  it('is not answered when the switcher shuts down: the closer loses its connection with it', async () => {
    const sw = makeSwitcher();
    const web = await join(sw, 'web');
    const db = await join(sw, 'db');
    await stream(web, db);
    await close(web, db);
    await sw.close({ timeout: 500 });
    await web.closed;
    expect(web.inbox.filter(isCloseAck)).toEqual([]);
  });
});

describe('a survivor kept busy only by the node that left', () => {
  /** What keeps web busy with db until db leaves. */
  const busy = {
    // web closed a stream to db, which owes its close-ACK.
    'a close db owes': async (web: Raw, db: Raw) => {
      await stream(web, db);
      await close(web, db);
    },
    // db closed a stream to web, which owes its close-ACK.
    'a close web owes': async (web: Raw, db: Raw) => {
      await stream(web, db);
      db.send(makeFrame(Cmd.CLOSE, web.ip, 1000, db.ip, 80));
      await web.next((f) => f.cmd === Cmd.CLOSE && f.dstPort === 1000);
    },
    'an open stream': async (web: Raw, db: Raw) => {
      await stream(web, db);
    },
    // web dialled db, which has not answered.
    'a dial': async (web: Raw, db: Raw) => {
      web.send(makeFrame(Cmd.OPEN, db.ip, 80, web.ip, 1000, encodeOpen({ domain: '' })));
      await db.next((f) => f.cmd === Cmd.OPEN);
    },
  };

  it.each(Object.keys(busy) as (keyof typeof busy)[])(
    'lets go of its empty queues once the leaver takes %s with it',
    async (what) => {
      const sw = makeSwitcher();
      const web = await join(sw, 'web');
      const db = await join(sw, 'db');
      const cache = await join(sw, 'cache');
      await busy[what](web, db);
      // A stream with cache, opened and closed: web, still busy with db, keeps cache's queue.
      await stream(web, cache, 2000);
      await close(web, cache, 2000);
      cache.send(makeFrame(Cmd.CLOSE_ACK, web.ip, 2000, cache.ip, 80));
      await web.next((f) => isCloseAck(f) && f.dstPort === 2000);
      await web.barrier();
      expect(queues(sw, 'web')).toBeGreaterThan(0);

      // db leaves: web has nothing in flight, and lets go of every queue, not only db's.
      expect(sw.kick('db')).toBe(true);
      await db.closed;
      await web.barrier();
      const w = inner(sw, 'web');
      expect([w.streams.size, w.opening.size, w.closing.size, w.owes.size]).toEqual([0, 0, 0, 0]);
      expect(queues(sw, 'web')).toBe(0);
    },
  );
});
