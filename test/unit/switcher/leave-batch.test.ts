import { afterEach, describe, expect, it, vi } from 'vitest';
import { Scheduler } from '../../../src/scheduler.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { Caps, Cmd } from '../../../src/wire/constants.js';
import { makeFrame } from '../../../src/wire/frame.js';
import { encodeOpen, encodeOpenAck } from '../../../src/wire/open.js';
import { join, PASSWORD, type Raw } from './helpers.js';

/**
 * A client that leaves with many streams open ends them all in one turn (SwitcherClient.unroute):
 * its survivor's resets are made and queued in one batch (orphans.ts resetPlan, Outbox.requeue,
 * Scheduler.pushAll), not frame by frame, and still go in the order the streams opened.
 */

const switchers: Switcher[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(switchers.splice(0).map((s) => s.close({ timeout: 500 })));
});

/** `n` streams dial:1..n -> acc:80 by IP, with `caps` (or `caps(port)`) negotiated. */
async function streams(
  sw: Switcher,
  dial: Raw,
  acc: Raw,
  n: number,
  caps: number | ((port: number) => number | undefined),
): Promise<void> {
  const capsOf = typeof caps === 'number' ? () => caps : caps;
  for (let p = 1; p <= n; p++) {
    dial.send(makeFrame(Cmd.OPEN, acc.ip, 80, dial.ip, p, encodeOpen({ domain: '', caps: capsOf(p) })));
  }
  await expect.poll(() => acc.inbox.length).toBe(n);
  acc.inbox.length = 0;
  for (let p = 1; p <= n; p++) {
    const ack = encodeOpenAck({ window: 0, caps: capsOf(p) });
    acc.send(makeFrame(Cmd.OPEN_ACK, dial.ip, p, acc.ip, 80, ack));
  }
  await expect.poll(() => dial.inbox.length).toBe(n);
  dial.inbox.length = 0;
  expect(sw.client('dial')?.streams).toBe(n);
}

describe('a client that leaves with many streams', () => {
  it("has its survivor's resets queued in one batch, in the order the streams opened", async () => {
    const sw = new Switcher({ password: PASSWORD });
    switchers.push(sw);
    const dial = await join(sw, 'dial');
    const acc = await join(sw, 'acc');
    const n = 2_000;
    await streams(sw, dial, acc, n, Caps.RESET);
    const one = vi.spyOn(Scheduler.prototype, 'pushOrdered');
    acc.t.destroy();
    await expect.poll(() => dial.inbox.length).toBe(n);
    expect(dial.inbox.every((f) => f.cmd === Cmd.RESET && f.srcIP === acc.ip && f.srcPort === 80)).toBe(true);
    expect(dial.inbox.map((f) => f.dstPort)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    // Not one frame at a time.
    expect(one).not.toHaveBeenCalled();
    expect(sw.client('dial')?.streams).toBe(0);
    expect(sw.client('dial')?.framesOut).toBe(2 * n);
  });

  it("has its survivor's plain v3 closes queued in one batch too, in the order the streams opened", async () => {
    const sw = new Switcher({ password: PASSWORD });
    switchers.push(sw);
    const dial = await join(sw, 'dial');
    const acc = await join(sw, 'acc');
    const n = 2_000;
    // No caps byte: plain v3 streams, ended with a CloseStream.
    await streams(sw, dial, acc, n, () => undefined);
    const one = vi.spyOn(Scheduler.prototype, 'pushOrdered');
    const batch = vi.spyOn(Scheduler.prototype, 'pushAll');
    acc.t.destroy();
    await expect.poll(() => dial.inbox.length).toBe(n);
    expect(dial.inbox.every((f) => f.cmd === Cmd.CLOSE && f.srcIP === acc.ip && f.srcPort === 80)).toBe(true);
    expect(dial.inbox.map((f) => f.dstPort)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(one).not.toHaveBeenCalled();
    expect(batch).toHaveBeenCalledTimes(1);
    expect(sw.client('dial')?.streams).toBe(0);
    expect(sw.client('dial')?.framesOut).toBe(2 * n);
    // The closes are the switcher's own frames: no drop, nothing forwarded.
    expect(sw.stats().dropped).toBe(0);
  });

  it('with streams of both kinds, queues their ends in one batch: resets first, then closes', async () => {
    const sw = new Switcher({ password: PASSWORD });
    switchers.push(sw);
    const dial = await join(sw, 'dial');
    const acc = await join(sw, 'acc');
    const n = 1_000;
    // Odd ports negotiate reset, even ones are plain v3.
    await streams(sw, dial, acc, n, (p) => (p % 2 === 1 ? Caps.RESET : undefined));
    const batch = vi.spyOn(Scheduler.prototype, 'pushAll');
    acc.t.destroy();
    await expect.poll(() => dial.inbox.length).toBe(n);
    const odd = Array.from({ length: n / 2 }, (_, i) => 2 * i + 1);
    expect(dial.inbox.map((f) => [f.cmd, f.dstPort])).toEqual([
      ...odd.map((p) => [Cmd.RESET, p]),
      ...odd.map((p) => [Cmd.CLOSE, p + 1]),
    ]);
    expect(batch).toHaveBeenCalledTimes(1);
    expect(sw.client('dial')?.framesOut).toBe(2 * n);
  });
});
