import { afterEach, describe, expect, it } from 'vitest';
import type { SwitcherClient } from '../../../src/switcher/client.js';
import type { SwitcherOptions } from '../../../src/switcher/config.js';
import type { Registry } from '../../../src/switcher/registry.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { Caps, Cmd, SWITCHER_IP } from '../../../src/wire/constants.js';
import { encodeFrame, type Frame, makeFrame } from '../../../src/wire/frame.js';
import { encodeOpen, encodeOpenAck, encodeOpenError } from '../../../src/wire/open.js';
import { join, PASSWORD, type Raw } from './helpers.js';

/**
 * A client with nothing in flight through the switcher (no stream, dial, kept close or owed
 * close-ACK) lets go of the empty queues other nodes' frames to it went through (Outbox.trimSoon).
 * Here: the dials that end without a stream, and a client that is busy again by the time its
 * deferred trim runs. (owed-closes.test.ts has closes and leaves.)
 */

const switchers: Switcher[] = [];
afterEach(async () => {
  await Promise.all(switchers.splice(0).map((s) => s.close({ timeout: 200 })));
});

function makeSwitcher(o: Partial<SwitcherOptions> = {}): Switcher {
  const sw = new Switcher({ password: PASSWORD, ...o });
  switchers.push(sw);
  return sw;
}

/** The switcher's own record of a client. */
function inner(s: Switcher, domain: string): SwitcherClient {
  const c = (s as unknown as { registry: Registry<SwitcherClient> }).registry.byDomain(domain);
  if (c === undefined) throw new Error(`no client ${domain}`);
  return c;
}

/** How many sources `domain`'s outbox keeps a queue for (Outbox.sources). */
function queues(s: Switcher, domain: string): number {
  return (inner(s, domain) as unknown as { outbox: { sources: number } }).outbox.sources;
}

const ALL = Caps.HALF_CLOSE | Caps.RESET | Caps.FIN_RELEASE | Caps.PROMPT_CREDIT | Caps.EARLY_DATA;
const REFUSED = encodeOpenError('refused');
const RESET = new Uint8Array([0, 0, 0, 0]);
const isOpen = (port: number) => (f: Frame) => f.cmd === Cmd.OPEN && f.srcPort === port;
const isAck = (port: number) => (f: Frame) => f.cmd === Cmd.OPEN_ACK && f.dstPort === port;

/** `dial` -> `acc`:80 by IP from `port`, plain v3, linked at the switcher. */
async function stream(dial: Raw, acc: Raw, port: number): Promise<void> {
  dial.send(makeFrame(Cmd.OPEN, acc.ip, 80, dial.ip, port, encodeOpen({ domain: '' })));
  await acc.next(isOpen(port));
  acc.send(makeFrame(Cmd.OPEN_ACK, dial.ip, port, acc.ip, 80, encodeOpenAck({ window: 0 })));
  await dial.next(isAck(port));
}

/** A stream `dial` -> `acc` from `port`, opened, closed by `dial`, and its close-ACK passed. */
async function openAndClose(dial: Raw, acc: Raw, port: number): Promise<void> {
  await stream(dial, acc, port);
  dial.send(makeFrame(Cmd.CLOSE, acc.ip, 80, dial.ip, port));
  await acc.next((f) => f.cmd === Cmd.CLOSE && f.srcPort === port);
  acc.send(makeFrame(Cmd.CLOSE_ACK, dial.ip, port, acc.ip, 80));
  await dial.next((f) => f.cmd === Cmd.CLOSE_ACK && f.dstPort === port);
}

/** web dials db:80 by IP from 1000 (no early data); db has the open, unanswered. */
async function dialByIp(web: Raw, db: Raw): Promise<void> {
  web.send(makeFrame(Cmd.OPEN, db.ip, 80, web.ip, 1000, encodeOpen({ domain: '' })));
  await db.next(isOpen(1000));
}

/** web dials "db":80 through the switcher from 1000, offering early data; db has the open. */
async function dialEarly(web: Raw, db: Raw): Promise<void> {
  web.send(makeFrame(Cmd.OPEN, SWITCHER_IP, 80, web.ip, 1000, encodeOpen({ domain: 'db', caps: ALL })));
  await db.next(isOpen(1000));
}

interface Case {
  options?: Partial<SwitcherOptions>;
  /** Puts web's dial from 1000 to db in flight. */
  dial(web: Raw, db: Raw, sw: Switcher): Promise<void>;
  /** Ends that dial without a stream at the switcher, after web's stream with cache is over. */
  end(web: Raw, db: Raw, sw: Switcher, cache: Raw): Promise<void>;
  /** Whether db has something in flight still (it keeps its queues then). */
  dbBusy?: boolean;
}

/** The ways a dial ends with its route and no stream. */
const cases: Record<string, Case> = {
  // Router.track: an error ACK answers a dial without early data.
  'refused by its acceptor': {
    dial: dialByIp,
    async end(web, db) {
      db.send(makeFrame(Cmd.OPEN_ACK, web.ip, 1000, db.ip, 80, REFUSED));
      await web.next(isAck(1000));
    },
  },
  // Router.track: an error ACK answers a dial that offered early data.
  'refused by its acceptor, with early data offered': {
    dial: dialEarly,
    async end(web, db) {
      db.send(makeFrame(Cmd.OPEN_ACK, web.ip, 1000, db.ip, 80, REFUSED));
      await web.next(isAck(1000));
    },
  },
  // Router.track: web reset the dial before its ACK, which refuses it.
  'given up by web with a reset, then refused': {
    dial: dialByIp,
    async end(web, db) {
      web.send(makeFrame(Cmd.RESET, db.ip, 80, web.ip, 1000, RESET));
      await db.next((f) => f.cmd === Cmd.RESET && f.srcPort === 1000);
      db.send(makeFrame(Cmd.OPEN_ACK, web.ip, 1000, db.ip, 80, REFUSED));
      await web.next(isAck(1000));
    },
  },
  // Router.track: web closed an early-data dial before its ACK; the accepting ACK links nothing.
  'closed by web before its ACK, then accepted': {
    async dial(web, db) {
      // db shows it takes early data (answers an early dial with caps), so web's close follows
      // the open at once rather than waiting for the ACK.
      web.send(makeFrame(Cmd.OPEN, SWITCHER_IP, 80, web.ip, 999, encodeOpen({ domain: 'db', caps: ALL })));
      await db.next(isOpen(999));
      db.send(makeFrame(Cmd.OPEN_ACK, web.ip, 999, db.ip, 80, encodeOpenAck({ window: 0, caps: ALL })));
      await web.next(isAck(999));
      db.send(makeFrame(Cmd.RESET, web.ip, 999, db.ip, 80, RESET));
      await web.next((f) => f.cmd === Cmd.RESET);
      await dialEarly(web, db);
    },
    async end(web, db) {
      web.send(makeFrame(Cmd.CLOSE, SWITCHER_IP, 80, web.ip, 1000));
      await db.next((f) => f.cmd === Cmd.CLOSE && f.srcPort === 1000);
      db.send(makeFrame(Cmd.OPEN_ACK, web.ip, 1000, db.ip, 80, encodeOpenAck({ window: 0, caps: ALL })));
      await web.next(isAck(1000));
    },
  },
  // Router.refuseAck: db accepts, but has as many streams as it may by then (cache's).
  'refused as one stream too many': {
    options: { maxStreamsPerClient: 1 },
    dial: dialByIp,
    async end(web, db, _sw, cache) {
      await stream(cache, db, 3000);
      db.send(makeFrame(Cmd.OPEN_ACK, web.ip, 1000, db.ip, 80, encodeOpenAck({ window: 0 })));
      await web.next(isAck(1000));
    },
    dbBusy: true,
  },
  // Router.route: web dials again from the same port (it gave the dial up), which ends the
  // dial's route; the new dial is refused at once (no node has the name), so nothing is in flight.
  'superseded by a dial from its port that the switcher refuses': {
    dial: dialByIp,
    async end(web) {
      web.send(makeFrame(Cmd.OPEN, SWITCHER_IP, 80, web.ip, 1000, encodeOpen({ domain: 'nobody' })));
      await web.next(isAck(1000));
    },
  },
  // revoke.ts refuseForbiddenDials: new access rules keep web and db apart.
  'forbidden by an access reload': {
    dial: dialByIp,
    async end(web, _db, sw) {
      sw.setAccess({ dial: [{ from: 'web', to: 'cache' }] });
      await web.next(isAck(1000));
    },
  },
};

describe('a dial that ends without a stream', () => {
  it.each(Object.keys(cases))('lets its idle ends go of their empty queues: %s', async (name) => {
    const c = cases[name];
    const sw = makeSwitcher(c.options);
    const web = await join(sw, 'web');
    const db = await join(sw, 'db');
    const cache = await join(sw, 'cache');
    await c.dial(web, db, sw);
    // A stream with cache, over: web, busy with its dial, keeps cache's queue.
    await openAndClose(web, cache, 2000);
    await web.barrier();
    expect(inner(sw, 'web').opening.size).toBe(1);
    expect(queues(sw, 'web')).toBeGreaterThan(0);

    await c.end(web, db, sw, cache);
    await web.barrier();
    await db.barrier();
    const w = inner(sw, 'web');
    expect([w.streams.size, w.opening.size, w.closing.size, w.owes.size]).toEqual([0, 0, 0, 0]);
    expect(queues(sw, 'web')).toBe(0);
    // db took web's open through a queue of web's, and has nothing in flight either (unless its
    // stream with cache): it lets go of it too.
    if (c.dbBusy !== true) expect(queues(sw, 'db')).toBe(0);
    expect(sw.client('web')?.streams).toBe(0);
  });
});

describe('a client busy again before its deferred trim runs', () => {
  /** What web sends in one chunk to end its stream with db, then dial db again from 1001. */
  const ends = {
    'a reset': (web: Raw, db: Raw) => makeFrame(Cmd.RESET, db.ip, 80, web.ip, 1000, RESET),
    // db closed the stream: the close-ACK web owed is its last thing in flight.
    'the close-ACK it owed': (web: Raw, db: Raw) => makeFrame(Cmd.CLOSE_ACK, db.ip, 80, web.ip, 1000),
  };

  it.each(Object.keys(ends) as (keyof typeof ends)[])(
    'keeps its queues when %s and a new dial come in one chunk',
    async (what) => {
      const sw = makeSwitcher();
      const web = await join(sw, 'web');
      const db = await join(sw, 'db');
      await stream(web, db, 1000);
      if (what === 'the close-ACK it owed') {
        db.send(makeFrame(Cmd.CLOSE, web.ip, 1000, db.ip, 80));
        await web.next((f) => f.cmd === Cmd.CLOSE && f.dstPort === 1000);
      }
      await web.barrier();
      expect(queues(sw, 'web')).toBe(1);

      // The end leaves web idle for a moment, and defers a trim; the dial makes it busy again.
      const dial = makeFrame(Cmd.OPEN, db.ip, 80, web.ip, 1001, encodeOpen({ domain: '' }));
      web.t.send([encodeFrame(ends[what](web, db)), encodeFrame(dial)]);
      await db.next(isOpen(1001));
      await web.barrier();
      expect(inner(sw, 'web').opening.size).toBe(1);
      // db's queue, which the dial's answer takes, is kept.
      expect(queues(sw, 'web')).toBe(1);

      db.send(makeFrame(Cmd.OPEN_ACK, web.ip, 1001, db.ip, 80, encodeOpenAck({ window: 0 })));
      await web.next(isAck(1001));
      expect(sw.client('web')?.streams).toBe(1);

      // The trim it skipped does not stand in the way of the next: idle again, web lets go.
      web.send(makeFrame(Cmd.RESET, db.ip, 80, web.ip, 1001, RESET));
      await db.next((f) => f.cmd === Cmd.RESET && f.srcPort === 1001);
      await web.barrier();
      expect(queues(sw, 'web')).toBe(0);
    },
  );
});
