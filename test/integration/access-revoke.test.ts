import { afterEach, describe, expect, it } from 'vitest';
import { DialRefusedError, StreamResetError } from '../../src/errors.js';
import { FlexStream, type Listener, type NodeOptions } from '../../src/index.js';
import { BaseNode } from '../../src/node/node.js';
import { Session } from '../../src/node/session.js';
import type { AccessOptions } from '../../src/switcher/access.js';
import type { SwitcherClient } from '../../src/switcher/client.js';
import type { Registry } from '../../src/switcher/registry.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { memoryPair } from '../../src/transport/memory.js';
import { captureLogger } from '../helpers/faulty-log.js';
import { once } from '../helpers/streams.js';

/**
 * Switcher.setAccess (a SIGHUP's reload of switcher.access) with streams open that the new dial
 * rules no longer allow: they are ended at both ends at once, and the switcher forgets them.
 * Before, the router dropped their frames without a word: both ends stalled, and each stream
 * kept its slot of maxStreamsPerClient at both clients until one of them left.
 */

const PASSWORD = 'access-revoke';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function makeSwitcher(access: AccessOptions): { sw: Switcher; logger: ReturnType<typeof captureLogger> } {
  const logger = captureLogger();
  const sw = new Switcher({ password: PASSWORD, access, logger });
  cleanups.push(() => sw.close({ timeout: 500 }));
  return { sw, logger };
}

/** A node of `sw` over an in-memory link, admitted once (no reconnect), heartbeat off. */
async function nodeOf(sw: Switcher, domain: string, options: NodeOptions = {}): Promise<Session<FlexStream>> {
  const s = new Session<FlexStream>({
    connector: async () => {
      const [ours, theirs] = memoryPair();
      sw.handle(theirs);
      return ours;
    },
    makeNode: (t, o) => new BaseNode(t, o, (core) => new FlexStream(core)),
    password: PASSWORD,
    domain,
    reconnect: false,
    heartbeatInterval: 0,
    ...options,
  });
  cleanups.push(() => s.close());
  await s.ready({ timeout: 5_000 });
  return s;
}

/**
 * How stream `s` ends: its error, or 'clean end'; 'still open' if it has not ended 5 s after
 * `ended()` begins to wait (a stream that stalls, as before, fails the test instead of hanging it).
 */
function outcome(s: FlexStream): { settle(): void; result: Promise<Error | 'clean end' | 'still open'> } {
  let settle = (): void => {};
  const result = new Promise<Error | 'clean end' | 'still open'>((resolve) => {
    s.on('error', (e: Error) => resolve(e));
    s.on('close', () => resolve('clean end'));
    s.resume();
    settle = () => {
      const t = setTimeout(() => resolve('still open'), 5_000);
      void result.then(() => clearTimeout(t));
    };
  });
  return { settle, result };
}

/** Waits for the outcomes of `ends`, allowing each a bounded time from now. */
function ended(ends: ReturnType<typeof outcome>[]): Promise<(Error | 'clean end' | 'still open')[]> {
  for (const e of ends) e.settle();
  return Promise.all(ends.map((e) => e.result));
}

/** A stream from `from` to `target`'s port 7 (`port`, its listener) and its accepted end. */
async function open(
  from: Session<FlexStream>,
  port: Listener<FlexStream>,
  target: string,
): Promise<{ dialled: FlexStream; accepted: FlexStream }> {
  const acceptedP = port.accept();
  const dialled = await from.dial(`${target}:7`, { timeout: 5_000 });
  return { dialled, accepted: await acceptedP };
}

/** Sends `text` from the dialled end of a stream and returns what the accepted end read. */
async function passes(dialled: FlexStream, accepted: FlexStream, text: string): Promise<string> {
  const got = once<Buffer>(accepted, 'data');
  dialled.write(text);
  return (await got).toString();
}

const streamsOf = (sw: Switcher, domain: string): number | undefined => sw.client(domain)?.streams;

/** How many of `domain`'s v3 closes the switcher keeps, awaiting their close-ACK. */
const closingOf = (sw: Switcher, domain: string): number | undefined =>
  (sw as unknown as { registry: Registry<SwitcherClient> }).registry.byDomain(domain)?.closing.size;

describe('Switcher.setAccess with streams open that the new rules forbid', () => {
  it('resets them at both ends (code 4), frees both clients, refuses new dials, spares other pairs', async () => {
    const { sw, logger } = makeSwitcher({
      dial: [
        { from: 'web', to: 'db' },
        { from: 'app', to: 'cache' },
      ],
    });
    const web = await nodeOf(sw, 'web');
    const db = await nodeOf(sw, 'db');
    const app = await nodeOf(sw, 'app');
    const cache = await nodeOf(sw, 'cache');
    const dbPort = db.listen(7);
    const cachePort = cache.listen(7);
    const revoked = [await open(web, dbPort, 'db'), await open(web, dbPort, 'db')];
    const kept = await open(app, cachePort, 'cache');
    expect(await passes(revoked[0]!.dialled, revoked[0]!.accepted, 'before')).toBe('before');
    expect([streamsOf(sw, 'web'), streamsOf(sw, 'db'), streamsOf(sw, 'cache')]).toEqual([2, 2, 1]);
    const ends = revoked.flatMap((r) => [outcome(r.dialled), outcome(r.accepted)]);

    // The reload removes web -> db; app -> cache stays.
    sw.setAccess({ dial: [{ from: 'app', to: 'cache' }] });

    // Both ends of both streams fail at once with the switcher's reset and its reason.
    const all = await ended(ends);
    for (const e of all) {
      expect(e).toBeInstanceOf(StreamResetError);
      expect(e).toMatchObject({ resetCode: 4, remote: true });
      expect((e as Error).message).toMatch(/access rules no longer allow this stream/);
    }
    // Freed at the switcher at once: the slots of maxStreamsPerClient are back.
    expect([streamsOf(sw, 'web'), streamsOf(sw, 'db')]).toEqual([0, 0]);
    expect(sw.streams()?.map((s) => [s.dialer.domain, s.acceptor.domain])).toEqual([['app', 'cache']]);
    // One line for the reload, with the count and the change.
    const [line] = logger.find('access rules replaced');
    expect(line?.level).toBe('warn');
    expect(line?.fields).toMatchObject({
      streamsEnded: 2,
      nodePairs: 1,
      removed: ['web -> db'],
      added: [],
      dialRules: { before: 2, after: 1 },
    });

    // A new dial is refused; the pair still allowed goes on on the stream it had, and opens more.
    const refused = await web.dial('db:7', { timeout: 5_000 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DialRefusedError);
    expect(String(refused)).toMatch(/dial not allowed/);
    expect(await passes(kept.dialled, kept.accepted, 'after')).toBe('after');
    const more = await open(app, cachePort, 'cache');
    expect(await passes(more.dialled, more.accepted, 'new')).toBe('new');
    expect(streamsOf(sw, 'cache')).toBe(2);
    expect([web.state, db.state]).toEqual(['ready', 'ready']);
  });

  it('closes a plain v3 stream at both ends (a Go node knows no reset) and counts one line', async () => {
    const { sw, logger } = makeSwitcher({ dial: [{ from: 'web', to: 'db' }] });
    const web = await nodeOf(sw, 'web', { caps: 0 });
    const db = await nodeOf(sw, 'db', { caps: 0 });
    const { dialled, accepted } = await open(web, db.listen(7), 'db');
    const ends = [outcome(dialled), outcome(accepted)];
    expect(streamsOf(sw, 'web')).toBe(1);

    sw.setAccess({ dial: [] });

    // A CloseStream is all a plain v3 end understands: the stream ends, it does not stall.
    expect(await ended(ends)).toEqual(['clean end', 'clean end']);
    expect([streamsOf(sw, 'web'), streamsOf(sw, 'db')]).toEqual([0, 0]);
    expect(logger.find('access rules replaced')[0]?.fields).toMatchObject({ streamsEnded: 1 });
  });

  it('ends nothing, and says so at info, when the new rules still allow every stream', async () => {
    const { sw, logger } = makeSwitcher({ dial: [{ from: 'web', to: 'db' }] });
    const web = await nodeOf(sw, 'web');
    const db = await nodeOf(sw, 'db');
    const { dialled, accepted } = await open(web, db.listen(7), 'db');
    sw.setAccess({ dial: [{ from: 'db', to: 'web' }] });
    // Frames between them need a rule in either direction: this stream goes on.
    expect(await passes(dialled, accepted, 'still')).toBe('still');
    const [line] = logger.find('access rules replaced');
    expect(line?.level).toBe('info');
    expect(line?.fields).toMatchObject({ streamsEnded: 0, removed: ['web -> db'], added: ['db -> web'] });
    expect(streamsOf(sw, 'web')).toBe(1);
  });
});

describe('Switcher.setAccess while a stream is closing', () => {
  it("completes a v3 close whose ACK the new rules would drop, without the closer's timeout", async () => {
    const { sw, logger } = makeSwitcher({ dial: [{ from: 'web', to: 'db' }] });
    // A long close-ACK timeout: a close that waits for it outlasts the test's bound by far.
    const web = await nodeOf(sw, 'web', { caps: 0, closeAckTimeout: 60_000 });
    // db's frames to the switcher pass through a gate the test holds shut while it reloads.
    let holding = false;
    const held: (() => void)[] = [];
    let heldOne = (): void => {};
    const someHeld = new Promise<void>((resolve) => {
      heldOne = resolve;
    });
    const db = new Session<FlexStream>({
      connector: async () => {
        const [ours, theirs] = memoryPair();
        sw.handle(theirs);
        const send = ours.send.bind(ours);
        ours.send = (parts, onReleased) => {
          if (!holding) return send(parts, onReleased);
          held.push(() => send(parts, onReleased));
          heldOne();
          return true;
        };
        return ours;
      },
      makeNode: (t, o) => new BaseNode(t, o, (core) => new FlexStream(core)),
      password: PASSWORD,
      domain: 'db',
      reconnect: false,
      heartbeatInterval: 0,
      caps: 0,
    });
    cleanups.push(() => db.close());
    await db.ready({ timeout: 5_000 });
    const { dialled, accepted } = await open(web, db.listen(7), 'db');
    // A close left waiting must not hold the sessions' close past the test.
    cleanups.push(() => dialled.destroy());
    const ends = [outcome(dialled), outcome(accepted)];

    // web closes (plain v3: its CloseStream); db gets it through the switcher and answers, but
    // its close-ACK is held until the reload has kept web and db apart.
    holding = true;
    dialled.end();
    expect(await ends[1]!.result).toBe('clean end');
    await someHeld;
    sw.setAccess({ dial: [] });
    holding = false;
    for (const h of held.splice(0)) h();

    // The closer's close completes now, not after its close-ACK timeout.
    expect(await ended(ends)).toEqual(['clean end', 'clean end']);
    expect(closingOf(sw, 'web')).toBe(0);
    expect(logger.find('access rules replaced')[0]?.fields).toMatchObject({ closesAnswered: 1 });
  });

  it('forgets a close once its close-ACK passes; a reload then sends nothing for it', async () => {
    const { sw } = makeSwitcher({ dial: [{ from: 'web', to: 'db' }] });
    const web = await nodeOf(sw, 'web', { caps: 0 });
    const db = await nodeOf(sw, 'db', { caps: 0 });
    const { dialled, accepted } = await open(web, db.listen(7), 'db');
    const ends = [outcome(dialled), outcome(accepted)];
    dialled.end();
    expect(await ended(ends)).toEqual(['clean end', 'clean end']);
    expect(closingOf(sw, 'web')).toBe(0);
    sw.setAccess({ dial: [] });
    expect([streamsOf(sw, 'web'), streamsOf(sw, 'db')]).toEqual([0, 0]);
  });
});
