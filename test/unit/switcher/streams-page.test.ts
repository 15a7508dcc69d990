import { afterEach, describe, expect, it, vi } from 'vitest';
import { SwitcherClient } from '../../../src/switcher/client.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { Cmd } from '../../../src/wire/constants.js';
import { makeFrame } from '../../../src/wire/frame.js';
import { encodeOpen, encodeOpenAck } from '../../../src/wire/open.js';
import { join, PASSWORD, type Raw } from './helpers.js';

/**
 * `Switcher.streams()` without a domain lists every stream of the switcher (millions, at 65,536
 * per client): a page of them built a record of each and cut the page out of that list.
 */

const open: Switcher[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const sw of open.splice(0)) await sw.close({ timeout: 500 });
});

/** Opens one stream from `a` to `b` on port `port` of `b` (`b` accepts it). */
async function openStream(a: Raw, b: Raw, port: number): Promise<void> {
  a.send(makeFrame(Cmd.OPEN, b.ip, port, a.ip, port, encodeOpen({ domain: '' })));
  await b.next((f) => f.cmd === Cmd.OPEN && f.dstPort === port);
  b.send(makeFrame(Cmd.OPEN_ACK, a.ip, port, b.ip, port, encodeOpenAck({ window: 0 })));
  await a.next((f) => f.cmd === Cmd.OPEN_ACK && f.srcPort === port);
}

describe('Switcher.streams() pages', () => {
  it('builds records of the page only, skipping whole clients before it', async () => {
    const sw = new Switcher({ password: PASSWORD });
    open.push(sw);
    const [x, first, second, third] = [
      await join(sw, 'x'),
      await join(sw, 'first'),
      await join(sw, 'second'),
      await join(sw, 'third'),
    ];
    // Accepted by first: ports 1-10; by second: 11-60; by third: 61-70 (x accepts none).
    for (let port = 1; port <= 10; port++) await openStream(x, first, port);
    for (let port = 11; port <= 60; port++) await openStream(x, second, port);
    for (let port = 61; port <= 70; port++) await openStream(x, third, port);
    const all = sw.streams() ?? [];
    expect(all.map((s) => s.acceptor.port)).toEqual(Array.from({ length: 70 }, (_, i) => i + 1));

    let built = 0;
    const real = SwitcherClient.prototype.streamInfos;
    vi.spyOn(SwitcherClient.prototype, 'streamInfos').mockImplementation(function (
      this: SwitcherClient,
      ...args: Parameters<SwitcherClient['streamInfos']>
    ) {
      const list = real.apply(this, args);
      built += list.length;
      return list;
    });
    const page = sw.streams(undefined, { offset: 15, limit: 5 }) ?? [];
    expect(page).toEqual(all.slice(15, 20));
    expect(built).toBe(5);
    built = 0;
    // A page across two clients, and one past the end.
    expect(sw.streams(undefined, { offset: 58, limit: 4 })).toEqual(all.slice(58, 62));
    expect(built).toBe(4);
    expect(sw.streams(undefined, { offset: 70, limit: 4 })).toEqual([]);
    expect(sw.streams(undefined, { offset: -3, limit: 2 })).toEqual(all.slice(0, 2));
    expect(sw.streams(undefined, { limit: 0 })).toEqual([]);
  });
});
