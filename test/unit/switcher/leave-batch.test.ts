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

/** `n` streams dial:1..n -> acc:80 by IP, with `caps` negotiated. */
async function streams(sw: Switcher, dial: Raw, acc: Raw, n: number, caps: number): Promise<void> {
  const open = encodeOpen({ domain: '', caps });
  for (let p = 1; p <= n; p++) dial.send(makeFrame(Cmd.OPEN, acc.ip, 80, dial.ip, p, open));
  await expect.poll(() => acc.inbox.length).toBe(n);
  acc.inbox.length = 0;
  const ack = encodeOpenAck({ window: 0, caps });
  for (let p = 1; p <= n; p++) acc.send(makeFrame(Cmd.OPEN_ACK, dial.ip, p, acc.ip, 80, ack));
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
});
