import { afterEach, describe, expect, it, vi } from 'vitest';
import { SwitcherClient } from '../../../src/switcher/client.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { Caps, Cmd, SWITCHER_IP } from '../../../src/wire/constants.js';
import { type Frame, makeFrame } from '../../../src/wire/frame.js';
import { decodeOpenAck, encodeOpen, encodeOpenAck } from '../../../src/wire/open.js';
import { decodeReset } from '../../../src/wire/reset.js';
import { captureLogger } from '../../helpers/faulty-log.js';
import { join, PASSWORD, type Raw, text } from './helpers.js';

/**
 * Switcher.setAccess ending the streams the new dial rules forbid (src/switcher/revoke.ts), frame
 * by frame: what each end gets, and what becomes of the frames that still come after.
 */

const switchers: Switcher[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(switchers.splice(0).map((s) => s.close({ timeout: 500 })));
});

function make(logger = captureLogger()): Switcher {
  const sw = new Switcher({ password: PASSWORD, access: { dial: [{ from: 'web', to: 'db' }] }, logger });
  switchers.push(sw);
  return sw;
}

/** web dials db from `port` to 5432 offering `caps`; db accepts with `caps`. */
async function stream(web: Raw, db: Raw, port: number, caps: number): Promise<void> {
  web.send(makeFrame(Cmd.OPEN, SWITCHER_IP, 5432, web.ip, port, encodeOpen({ domain: 'db', caps })));
  const open = await db.next((f) => f.cmd === Cmd.OPEN);
  db.send(makeFrame(Cmd.OPEN_ACK, web.ip, port, db.ip, open.dstPort, encodeOpenAck({ window: 0, caps })));
  await web.next((f) => f.cmd === Cmd.OPEN_ACK);
}

const ends = (f: Frame): [string, number, number, number, number] => [
  f.cmd === Cmd.RESET ? 'reset' : f.cmd === Cmd.CLOSE ? 'close' : `cmd ${f.cmd}`,
  f.dstIP,
  f.dstPort,
  f.srcIP,
  f.srcPort,
];

describe('Switcher.setAccess: streams the new rules forbid', () => {
  it('ends each at both ends as if from the other (reset where negotiated, else close)', async () => {
    const sw = make();
    const web = await join(sw, 'web');
    const db = await join(sw, 'db');
    await stream(web, db, 1000, Caps.RESET);
    await stream(web, db, 1001, 0);
    expect(sw.client('web')?.streams).toBe(2);

    sw.setAccess({ dial: [] });
    expect([sw.client('web')?.streams, sw.client('db')?.streams]).toEqual([0, 0]);
    const atWeb = [await web.next(), await web.next()];
    const atDb = [await db.next(), await db.next()];
    expect(atWeb.map(ends)).toEqual([
      ['reset', web.ip, 1000, db.ip, 5432],
      ['close', web.ip, 1001, db.ip, 5432],
    ]);
    expect(atDb.map(ends)).toEqual([
      ['reset', db.ip, 5432, web.ip, 1000],
      ['close', db.ip, 5432, web.ip, 1001],
    ]);
    expect(decodeReset(atWeb[0]!.payload)).toEqual({
      code: 4,
      message: 'the access rules no longer allow this stream',
    });

    // What still comes of them (data sent meanwhile, the v3 close's answer) is dropped and
    // counted, and brings no stream back.
    web.send(makeFrame(Cmd.DATA, db.ip, 5432, web.ip, 1000, text('late')));
    db.send(makeFrame(Cmd.CLOSE_ACK, web.ip, 1001, db.ip, 5432));
    await web.barrier();
    await db.barrier();
    expect(db.inbox).toEqual([]);
    expect(web.inbox).toEqual([]);
    expect([sw.client('web')?.dropped, sw.client('db')?.dropped]).toEqual([1, 1]);
    expect([sw.client('web')?.streams, sw.client('db')?.streams]).toEqual([0, 0]);
  });

  it('leaves alone the streams the rules still allow (a rule in either direction)', async () => {
    const sw = make();
    const web = await join(sw, 'web');
    const db = await join(sw, 'db');
    await stream(web, db, 1000, Caps.RESET);
    sw.setAccess({ dial: [{ from: 'db', to: 'web' }] });
    await web.barrier();
    expect(web.inbox).toEqual([]);
    expect(sw.client('web')?.streams).toBe(1);
  });

  it('lets a dial in flight complete when the rules still let its two nodes talk', async () => {
    // db may no longer dial web, but web may dial db: frames between them still pass, so a
    // refused dial's late ACK would reach db unasked, and web's stream would stay open for good.
    const sw = new Switcher({
      password: PASSWORD,
      access: { dial: [{ from: ['web', 'db'], to: ['web', 'db'] }] },
      logger: captureLogger(),
    });
    switchers.push(sw);
    const web = await join(sw, 'web');
    const db = await join(sw, 'db');
    db.send(
      makeFrame(Cmd.OPEN, SWITCHER_IP, 80, db.ip, 2000, encodeOpen({ domain: 'web', caps: Caps.RESET })),
    );
    await web.next((f) => f.cmd === Cmd.OPEN);

    sw.setAccess({ dial: [{ from: 'web', to: 'db' }] });
    web.send(
      makeFrame(Cmd.OPEN_ACK, db.ip, 2000, web.ip, 80, encodeOpenAck({ window: 0, caps: Caps.RESET })),
    );
    const answer = await db.next();
    expect([answer.cmd, decodeOpenAck(answer.payload).ok]).toEqual([Cmd.OPEN_ACK, true]);
    await web.barrier();
    expect(web.inbox).toEqual([]);
    expect([sw.client('web')?.streams, sw.client('db')?.streams]).toEqual([1, 1]);
  });

  it('refuses the dials in flight they forbid, and ends the stream their late ACK opens', async () => {
    const logger = captureLogger();
    const sw = make(logger);
    const web = await join(sw, 'web');
    const db = await join(sw, 'db');
    // Two dials db has not answered yet: by domain (RESET offered) and by IP (plain v3).
    web.send(
      makeFrame(Cmd.OPEN, SWITCHER_IP, 5432, web.ip, 1000, encodeOpen({ domain: 'db', caps: Caps.RESET })),
    );
    web.send(makeFrame(Cmd.OPEN, db.ip, 5433, web.ip, 1001, encodeOpen({ domain: '' })));
    await db.next((f) => f.cmd === Cmd.OPEN && f.dstPort === 5432);
    await db.next((f) => f.cmd === Cmd.OPEN && f.dstPort === 5433);

    sw.setAccess({ dial: [] });
    // The dialer hears at once, as a dial refused by the rules (not at its dial timeout).
    const refusals = [await web.next(), await web.next()];
    expect(refusals.map((f) => [f.cmd, f.dstPort, f.srcIP, f.srcPort, decodeOpenAck(f.payload)])).toEqual([
      [Cmd.OPEN_ACK, 1000, 0, 5432, { ok: false, error: 'dial not allowed' }],
      [Cmd.OPEN_ACK, 1001, db.ip, 5433, { ok: false, error: 'dial not allowed' }],
    ]);
    expect(logger.find('access rules replaced')[0]?.fields).toMatchObject({
      streamsEnded: 0,
      dialsRefused: 2,
    });

    // The acceptor's answers come after: dropped, and the streams they opened ended there.
    db.send(
      makeFrame(Cmd.OPEN_ACK, web.ip, 1000, db.ip, 5432, encodeOpenAck({ window: 0, caps: Caps.RESET })),
    );
    db.send(makeFrame(Cmd.OPEN_ACK, web.ip, 1001, db.ip, 5433, encodeOpenAck({ window: 0 })));
    const atDb = [await db.next(), await db.next()];
    expect(atDb.map(ends)).toEqual([
      ['reset', db.ip, 5432, web.ip, 1000],
      ['close', db.ip, 5433, web.ip, 1001],
    ]);
    await web.barrier();
    expect(web.inbox).toEqual([]);
    expect([sw.client('web')?.streams, sw.client('db')?.streams]).toEqual([0, 0]);
    expect(sw.client('db')?.dropped).toBe(2);
  });

  it('keeps a copy of the rules: changing the object given later changes neither options nor logs', async () => {
    const logger = captureLogger();
    const sw = make(logger);
    const access = {
      passwords: [{ password: 'team-password', domains: ['team-*'] }],
      dial: [{ from: 'web', to: ['db'] }],
    };
    sw.setAccess(access);
    const kept = structuredClone(access);
    access.passwords[0]?.domains.push('*');
    access.dial[0]?.to.push('cache');
    access.dial.push({ from: 'db', to: ['web'] });
    expect(sw.options.access).toEqual(kept);
    // The rules in use are still those given: web may dial db, not cache.
    const web = await join(sw, 'web');
    await join(sw, 'cache');
    web.send(makeFrame(Cmd.OPEN, SWITCHER_IP, 80, web.ip, 1000, encodeOpen({ domain: 'cache' })));
    const refusal = await web.next();
    expect(decodeOpenAck(refusal.payload)).toEqual({ ok: false, error: 'dial not allowed' });
    // The next change is logged against the rules in use, not against the object as changed.
    logger.clear();
    sw.setAccess({ dial: [{ from: 'web', to: 'db' }] });
    expect(logger.find('access rules replaced')[0]?.fields).toMatchObject({
      dialRules: { before: 1, after: 1 },
      removed: [],
      added: [],
      passwords: { before: 1, after: 0 },
    });
  });

  it('says which extra passwords changed, by place and domains, never the passwords', () => {
    const logger = captureLogger();
    const sw = make(logger);
    sw.setAccess({
      passwords: [
        { password: 'team-secret', domains: ['team-*'] },
        { password: 'ops-secret', domains: 'ops-*' },
        { password: 'ci-secret', domains: ['ci-*'] },
      ],
    });
    logger.clear();
    // team: one more pattern; ops: the password rotated; ci: gone; bots: new.
    sw.setAccess({
      passwords: [
        { password: 'team-secret', domains: ['team-*', 'lab-*'] },
        { password: 'ops-secret-2', domains: 'ops-*' },
        { password: 'bot-secret', domains: ['bot-?'] },
      ],
    });
    const [line] = logger.find('access rules replaced');
    expect(line?.fields.passwords).toEqual({
      before: 3,
      after: 3,
      removed: [
        { index: 1, domains: ['ops-*'] },
        { index: 2, domains: ['ci-*'] },
      ],
      added: [
        { index: 1, domains: ['ops-*'] },
        { index: 2, domains: ['bot-?'] },
      ],
      domainsChanged: [{ index: 0, domains: ['team-*', 'lab-*'], was: ['team-*'] }],
    });
    expect(JSON.stringify(logger.entries)).not.toMatch(/secret/);
  });

  it('keeps a copy of the rules given at construction too', () => {
    const access = { dial: [{ from: 'web', to: ['db'] }] };
    const sw = new Switcher({ password: PASSWORD, access, logger: captureLogger() });
    switchers.push(sw);
    access.dial[0]?.to.push('cache');
    access.dial.push({ from: 'db', to: ['web'] });
    expect(sw.options.access).toEqual({ dial: [{ from: 'web', to: ['db'] }] });
  });

  it('applies the rules even when its log line cannot be written (a closed pipe)', () => {
    let broken = false;
    const write = (): void => {
      if (broken) throw new Error('write EPIPE');
    };
    const logger = { debug: write, info: write, warn: write, error: write };
    const sw = new Switcher({ password: PASSWORD, access: { dial: [{ from: 'web', to: 'db' }] }, logger });
    switchers.push(sw);
    broken = true;
    // A throw here made the CLI's reload say it kept the old rules, which were in use already.
    expect(() => sw.setAccess({ dial: [{ from: 'db', to: 'web' }] })).not.toThrow();
    broken = false;
    expect(sw.options.access).toEqual({ dial: [{ from: 'db', to: 'web' }] });
  });
});

describe('Switcher.setAccess: a bug of ours ending what the new rules forbid', () => {
  it('is reported as the switcher’s error, not thrown: the new rules are in use', async () => {
    const log = captureLogger();
    const sw = make(log);
    const errors: Error[] = [];
    sw.on('error', (e) => errors.push(e));
    const web = await join(sw, 'web');
    const db = await join(sw, 'db');
    await stream(web, db, 1000, 0);
    const bug = new TypeError('flexmux bug');
    vi.spyOn(SwitcherClient.prototype, 'endOrphans').mockImplementationOnce(() => {
      throw bug;
    });
    // Thrown, the caller (the CLI's reload) reported the old rules kept, and went on comparing
    // the next reload with them, while the switcher enforced the new ones.
    expect(() => sw.setAccess({ dial: [] })).not.toThrow();
    expect(sw.options.access).toEqual({ dial: [] });
    expect(errors).toEqual([bug]);
    const [line] = log.find('ending what the new access rules forbid failed');
    expect(line).toMatchObject({ level: 'error', fields: { err: 'flexmux bug' } });
    expect(line?.fields.stack).toContain('TypeError: flexmux bug');
    expect(log.find('access rules replaced')).toHaveLength(1);
  });
});
