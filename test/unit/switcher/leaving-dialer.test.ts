import { afterEach, describe, expect, it } from 'vitest';
import { Switcher } from '../../../src/switcher/switcher.js';
import { Caps, Cmd } from '../../../src/wire/constants.js';
import { makeFrame } from '../../../src/wire/frame.js';
import { encodeOpen, encodeOpenAck } from '../../../src/wire/open.js';
import { decodeReset } from '../../../src/wire/reset.js';
import { join, PASSWORD } from './helpers.js';

/**
 * A dialer that leaves before its dial is answered: the ACK comes for nobody, and the stream the
 * acceptor opened for it would hang half-alive (PROTOCOL.md 12.2). The switcher ends it as if
 * from the dialer, as it ends the survivor's end of a linked stream (router.ts endAccepted).
 */

const switchers: Switcher[] = [];
afterEach(async () => {
  await Promise.all(switchers.splice(0).map((s) => s.close({ timeout: 200 })));
});

describe('an acceptor whose dialer left before the ACK', () => {
  it.each([
    ['plain v3: a CloseStream', undefined],
    ['RESET: a reset, code 4', Caps.RESET],
  ])('gets its accepted stream ended (%s)', async (_, caps) => {
    const sw = new Switcher({ password: PASSWORD });
    switchers.push(sw);
    const acc = await join(sw, 'acc');
    const dial = await join(sw, 'dial');
    dial.send(makeFrame(Cmd.OPEN, acc.ip, 80, dial.ip, 1000, encodeOpen({ domain: '', caps })));
    await acc.next((f) => f.cmd === Cmd.OPEN);
    dial.t.destroy();
    await expect.poll(() => sw.client('dial')).toBeUndefined();
    acc.send(makeFrame(Cmd.OPEN_ACK, dial.ip, 1000, acc.ip, 80, encodeOpenAck({ window: 0, caps })));
    const end = await acc.next((f) => f.cmd === Cmd.CLOSE || f.cmd === Cmd.RESET, 1_000);
    expect([end.srcIP, end.srcPort, end.dstIP, end.dstPort]).toEqual([dial.ip, 1000, acc.ip, 80]);
    if (caps === undefined) expect(end.cmd).toBe(Cmd.CLOSE);
    else expect([end.cmd, decodeReset(end.payload).code]).toEqual([Cmd.RESET, 4]);
  });

  it('gets the CloseStream behind what the dialer sent first while its connection is ending', async () => {
    const sw = new Switcher({ password: PASSWORD });
    switchers.push(sw);
    const acc = await join(sw, 'acc');
    const dial = await join(sw, 'dial');
    // The acceptor reads slowly: the open and the data the dialer sends behind it queue here.
    acc.t.pauseReading();
    dial.send(makeFrame(Cmd.OPEN, acc.ip, 80, dial.ip, 1000, encodeOpen({ domain: '' })));
    const frames = 64; // 1 MiB, above the memory transport's 256 KiB in flight
    for (let i = 0; i < frames; i++) {
      dial.send(makeFrame(Cmd.DATA, acc.ip, 80, dial.ip, 1000, new Uint8Array(16 * 1024).fill(i)));
    }
    await expect.poll(() => sw.client('dial')!.framesIn).toBeGreaterThanOrEqual(frames + 1);
    // The dialer's link goes dark and it is kicked: it is leaving, its connection not ended.
    (dial.t as unknown as { blackhole(): void }).blackhole();
    expect(sw.kick('dial')).toBe(true);
    const before = sw.client('acc')!.framesIn;
    acc.send(makeFrame(Cmd.OPEN_ACK, dial.ip, 1000, acc.ip, 80, encodeOpenAck({ window: 0 })));
    await expect.poll(() => sw.client('acc')!.framesIn).toBe(before + 1);
    acc.t.resumeReading();
    let data = 0;
    for (;;) {
      const f = await acc.next((x) => x.cmd === Cmd.DATA || x.cmd === Cmd.CLOSE, 5_000);
      if (f.cmd === Cmd.CLOSE) break;
      data++;
    }
    expect(data).toBe(frames);
  });
});
