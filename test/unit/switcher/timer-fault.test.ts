import { afterEach, describe, expect, it, vi } from 'vitest';
import { type ClientHost, SwitcherClient } from '../../../src/switcher/client.js';
import { validateSwitcherOptions } from '../../../src/switcher/config.js';
import { memoryPair } from '../../../src/transport/memory.js';
import { silentLogger } from '../../../src/util/logger.js';
import { PASSWORD } from './helpers.js';

/**
 * A bug of ours around a client's timers: in the constructor after a timer was armed, the timer
 * ran on an orphan client.
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
