import { afterEach, describe, expect, it, vi } from 'vitest';
import { SwitcherClient } from '../../../src/switcher/client.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { IdIndex } from '../../../src/util/id-index.js';
import { sealRequest } from '../../../src/wire/admission/index.js';
import { Cmd, SWITCHER_IP } from '../../../src/wire/constants.js';
import { makeFrame } from '../../../src/wire/frame.js';
import { captureLogger } from '../../helpers/faulty-log.js';
import { connectRaw, join, PASSWORD } from './helpers.js';

/**
 * A bug of ours while a client leaves or is torn down (its connection ended, a kick, a routing
 * failure) threw out of the transport's handler: an uncaught exception, which ends the process
 * of a switcher serving thousands, and the rest of the teardown skipped (the client kept in the
 * registry, its IP and domain never freed, a kicked client's connection never closed). It is
 * logged with its stack and reported as the switcher's 'error' now, and the teardown goes on.
 */

const switchers: Switcher[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(switchers.splice(0).map((s) => s.close({ timeout: 500 })));
});

function make() {
  const log = captureLogger();
  const sw = new Switcher({ password: PASSWORD, logger: log });
  switchers.push(sw);
  const errors: Error[] = [];
  sw.on('error', (e) => errors.push(e));
  const left: string[] = [];
  sw.on('clientLeft', (info, reason) => left.push(`${info.domain}:${reason}`));
  return { sw, log, errors, left };
}

/** Makes the next unroute() of a client (its leave, or its teardown) throw `bug`. */
function breakUnroute(bug: Error): void {
  vi.spyOn(SwitcherClient.prototype as unknown as { unroute: () => void }, 'unroute').mockImplementationOnce(
    () => {
      throw bug;
    },
  );
}

describe('a bug of ours while a client is torn down', () => {
  it('as its connection ends: logged, and the client is gone all the same', async () => {
    const { sw, log, errors, left } = make();
    const alice = await join(sw, 'alice');
    const bug = new TypeError('flexmux bug');
    breakUnroute(bug);
    alice.t.close();
    await alice.closed;
    await expect.poll(() => left).toEqual(['alice:closed']);
    expect(errors).toEqual([bug]);
    const [line] = log.find('client teardown failed');
    expect(line).toMatchObject({ level: 'error', fields: { domain: 'alice', err: 'flexmux bug' } });
    expect(line?.fields.stack).toContain('TypeError: flexmux bug');
    // Out of the registry: its domain and IP are free, and nothing holds the close back.
    expect(sw.clients()).toEqual([]);
    await join(sw, 'alice');
    expect(sw.stats().clients).toBe(1);
  });

  it('as it is kicked: the kick does not throw, and its connection is closed', async () => {
    const { sw, log, errors, left } = make();
    const alice = await join(sw, 'alice');
    const bug = new TypeError('flexmux bug');
    breakUnroute(bug);
    expect(sw.kick('alice')).toBe(true);
    await alice.closed;
    await expect.poll(() => left).toEqual(['alice:kicked']);
    expect(errors).toEqual([bug]);
    expect(log.find('client teardown failed')).toHaveLength(1);
    expect(sw.clients()).toEqual([]);
  });

  it('as a routing failure drops it: nothing escapes the handler of its frames', async () => {
    const { sw, errors, left } = make();
    const alice = await join(sw, 'alice');
    const inRouting = new TypeError('flexmux bug in routing');
    vi.spyOn(
      SwitcherClient.prototype as unknown as { seen: (cmd: number) => void },
      'seen',
    ).mockImplementation(() => {
      throw inRouting;
    });
    const inTeardown = new TypeError('flexmux bug in teardown');
    breakUnroute(inTeardown);
    expect(() => alice.send(makeFrame(Cmd.PING, SWITCHER_IP, 0, alice.ip, 7))).not.toThrow();
    await alice.closed;
    await expect.poll(() => left).toEqual(['alice:error']);
    expect(errors).toEqual([inTeardown, inRouting]);
    expect(sw.clients()).toEqual([]);
  });
});

describe("a logger that throws on a client's 'client left' line", () => {
  it('neither escapes the close handler nor keeps clientLeft and close() waiting', async () => {
    const log = captureLogger();
    const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
    const info = (obj: object, msg?: string): void => {
      if (msg === 'client left') throw epipe;
      log.info(obj, msg);
    };
    const sw = new Switcher({ password: PASSWORD, logger: { ...log, info } });
    switchers.push(sw);
    const left: string[] = [];
    sw.on('clientLeft', (c, reason) => left.push(`${c.domain}:${reason}`));
    const alice = await join(sw, 'alice');
    alice.t.close();
    await alice.closed;
    await expect.poll(() => left).toEqual(['alice:closed']);
    // Settled: the close does not wait out its timeout for a client that has left.
    const t0 = Date.now();
    await sw.close({ timeout: 5_000 });
    expect(Date.now() - t0).toBeLessThan(2_000);
  });
});

describe("a logger that throws on a client's 'client admitted' line", () => {
  it('leaves the client served, and its leave heard', async () => {
    // The throw skipped the handoff: the door cut the connection as its own failure, and the
    // client, registered, had nobody to hear its end: its domain and IP held for good.
    const log = captureLogger();
    const info = (obj: object, msg?: string): void => {
      if (msg === 'client admitted') throw new Error('write EPIPE');
      log.info(obj, msg);
    };
    const sw = new Switcher({ password: PASSWORD, logger: { ...log, info } });
    switchers.push(sw);
    const left: string[] = [];
    sw.on('clientLeft', (c, reason) => left.push(`${c.domain}:${reason}`));
    const alice = await join(sw, 'alice');
    await alice.barrier();
    alice.t.close();
    await alice.closed;
    await expect.poll(() => left).toEqual(['alice:closed']);
    expect(sw.clients()).toEqual([]);
  });
});

describe("a logger that throws on a silent client's 'closing client' line", () => {
  it('does not escape the idle timer, and the client is closed all the same', async () => {
    const log = captureLogger();
    const warn = (obj: object, msg?: string): void => {
      if (msg === 'closing client') throw new Error('write EPIPE');
      log.warn(obj, msg);
    };
    const sw = new Switcher({ password: PASSWORD, logger: { ...log, warn }, idleTimeout: 100 });
    switchers.push(sw);
    const left: string[] = [];
    sw.on('clientLeft', (c, reason) => left.push(`${c.domain}:${reason}`));
    const alice = await join(sw, 'alice');
    await alice.closed;
    await expect.poll(() => left).toEqual(['alice:idle']);
  });
});

describe("a logger that throws on the 'kicking client' line", () => {
  it('does not make the kick throw, and the client is kicked', async () => {
    const log = captureLogger();
    const info = (obj: object, msg?: string): void => {
      if (msg === 'kicking client') throw new Error('write EPIPE');
      log.info(obj, msg);
    };
    const sw = new Switcher({ password: PASSWORD, logger: { ...log, info } });
    switchers.push(sw);
    const left: string[] = [];
    sw.on('clientLeft', (c, reason) => left.push(`${c.domain}:${reason}`));
    const alice = await join(sw, 'alice');
    expect(() => sw.kick('alice')).not.toThrow();
    await alice.closed;
    await expect.poll(() => left).toEqual(['alice:kicked']);
  });
});

describe('a bug of ours as a client is enrolled', () => {
  it('leaves no dead client registered once the door cuts its connection', async () => {
    const { sw, log, errors } = make();
    const bug = new TypeError('flexmux bug');
    vi.spyOn(IdIndex.prototype, 'push').mockImplementationOnce(() => {
      throw bug;
    });
    const raw = connectRaw(sw);
    const req = await sealRequest(PASSWORD, { domain: 'alice', timestamp: BigInt(Date.now()) * 1_000_000n });
    raw.send(req);
    await raw.closed;
    await expect.poll(() => errors).toEqual([bug]);
    expect(log.find('admission failed inside the switcher')).toHaveLength(1);
    // Its domain and IP are free again.
    await expect.poll(() => sw.stats().clients).toBe(0);
    await join(sw, 'alice');
  });
});

describe('a bug of ours as a client is made', () => {
  it('leaves its domain and IP claimed by nobody', async () => {
    const log = captureLogger();
    const sw = new Switcher({ password: PASSWORD, logger: log, idleTimeout: 60_000 });
    switchers.push(sw);
    const errors: Error[] = [];
    sw.on('error', (e) => errors.push(e));
    const bug = new TypeError('flexmux bug');
    // Made client by client (SwitcherClient's constructor), before the claim is committed.
    vi.spyOn(
      SwitcherClient.prototype as unknown as { armIdle: () => void },
      'armIdle',
    ).mockImplementationOnce(() => {
      throw bug;
    });
    const raw = connectRaw(sw);
    const req = await sealRequest(PASSWORD, { domain: 'alice', timestamp: BigInt(Date.now()) * 1_000_000n });
    raw.send(req);
    await raw.closed;
    await expect.poll(() => errors).toEqual([bug]);
    expect(log.find('admission failed inside the switcher')).toHaveLength(1);
    // The domain was left claimed for good: every later admission of it refused as busy.
    await join(sw, 'alice');
    expect(sw.clients().map((c) => c.domain)).toEqual(['alice']);
  });
});
