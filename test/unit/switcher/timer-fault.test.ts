import { afterEach, describe, expect, it, vi } from 'vitest';
import { type ClientHost, SwitcherClient } from '../../../src/switcher/client.js';
import { validateSwitcherOptions } from '../../../src/switcher/config.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { memoryPair } from '../../../src/transport/memory.js';
import { silentLogger } from '../../../src/util/logger.js';
import { Cmd, SWITCHER_IP } from '../../../src/wire/constants.js';
import { type Frame, makeFrame } from '../../../src/wire/frame.js';
import { captureLogger } from '../../helpers/faulty-log.js';
import { join, PASSWORD } from './helpers.js';

/**
 * A bug of ours around a client's timers: in the constructor after a timer was armed (the timer
 * ran on an orphan client); in a tick of its pings (thrown out of the timer, which ends the
 * process, and its `inFlight` left set, so that the client was never pinged again); and in its
 * idle check (never checked again).
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  vi.useRealTimers();
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Private = { startPings: (ms: number) => void };

describe('a SwitcherClient whose constructor throws', () => {
  it('leaves no timer running: the idle check it armed first is cleared', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    const host = {
      options: validateSwitcherOptions({ password: PASSWORD, idleTimeout: 60_000, pingInterval: 1_000 }),
      logger: silentLogger,
    } as unknown as ClientHost;
    const init = { id: 1, ip: 2, domain: 'orphan', mac: '', connectedAt: 0 };
    const [a] = memoryPair();
    cleanups.push(() => a.destroy());
    // Both timers armed by a client made as it should be.
    new SwitcherClient(host, a, init);
    expect(vi.getTimerCount()).toBe(2);
    vi.clearAllTimers();
    const bug = new TypeError('flexmux bug');
    vi.spyOn(SwitcherClient.prototype as unknown as Private, 'startPings').mockImplementationOnce(() => {
      throw bug;
    });
    const [b] = memoryPair();
    cleanups.push(() => b.destroy());
    expect(() => new SwitcherClient(host, b, init)).toThrow(bug);
    // The idle timer (armed before the pings) checked, and then closed, a client nobody holds.
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('a bug of ours in a ping of the switcher', () => {
  function make() {
    const log = captureLogger();
    const sw = new Switcher({ password: PASSWORD, logger: log, pingInterval: 20 });
    cleanups.push(() => sw.close({ timeout: 500 }));
    const errors: Error[] = [];
    sw.on('error', (e) => errors.push(e));
    return { sw, log, errors };
  }

  /** A frame from `c` every 5 ms, so that a ping that goes unanswered never closes it. */
  function keepSending(c: { ip: number; send(f: Frame): void }): void {
    let n = 0;
    const traffic = setInterval(() => c.send(makeFrame(Cmd.PING, SWITCHER_IP, 0, c.ip, ++n)), 5);
    cleanups.push(() => clearInterval(traffic));
  }

  it.for([
    ['thrown from the tick', () => {}],
    ['failing the ping', () => Promise.reject(new TypeError('flexmux bug'))],
  ] as const)('%s: logged and counted, and the client is pinged again', async ([, how]) => {
    const { sw, log, errors } = make();
    const bug = new TypeError('flexmux bug');
    vi.spyOn(SwitcherClient.prototype, 'probe').mockImplementationOnce(() => {
      const failing = how();
      if (failing === undefined) throw bug;
      return failing;
    });
    const alice = await join(sw, 'alice');
    keepSending(alice);
    await expect.poll(() => errors.length, { timeout: 5_000 }).toBe(1);
    expect(errors[0]).toMatchObject({ name: 'TypeError', message: 'flexmux bug' });
    const [line] = log.find('client timer failed');
    expect(line).toMatchObject({
      level: 'error',
      fields: { domain: 'alice', timer: 'ping', err: 'flexmux bug' },
    });
    expect(line?.fields.stack).toContain('TypeError: flexmux bug');
    // Pinged again after the fault: its `inFlight` stayed set, and no ping went out for good.
    alice.inbox.length = 0;
    await alice.next((f) => f.cmd === Cmd.PING && f.srcIP === SWITCHER_IP, 3_000);
    expect(sw.client('alice')).toBeDefined();
  });
});

describe('a bug of ours in the idle check of the switcher', () => {
  it('is logged and counted, and the client is checked again, and closed when idle', async () => {
    const log = captureLogger();
    const sw = new Switcher({ password: PASSWORD, logger: log, idleTimeout: 50 });
    cleanups.push(() => sw.close({ timeout: 500 }));
    const errors: Error[] = [];
    sw.on('error', (e) => errors.push(e));
    const left: string[] = [];
    sw.on('clientLeft', (info, reason) => left.push(`${info.domain}:${reason}`));
    const bug = new TypeError('flexmux bug');
    vi.spyOn(SwitcherClient.prototype, 'close').mockImplementationOnce(() => {
      throw bug;
    });
    await join(sw, 'alice'); // sends nothing after its admission
    await expect.poll(() => errors, { timeout: 5_000 }).toEqual([bug]);
    expect(log.find('client timer failed')[0]).toMatchObject({
      level: 'error',
      fields: { domain: 'alice', timer: 'idle check', err: 'flexmux bug' },
    });
    // Checked again: the check that threw was its last one, and the silent client stayed for good.
    await expect.poll(() => left, { timeout: 5_000 }).toEqual(['alice:idle']);
  });
});
