import { afterEach, describe, expect, it } from 'vitest';
import { Switcher } from '../../../src/switcher/switcher.js';
import { Cmd, LOCAL_IP, SWITCHER_IP } from '../../../src/wire/constants.js';
import { makeFrame } from '../../../src/wire/frame.js';
import { decodeOpenAck, encodeOpen } from '../../../src/wire/open.js';
import { captureLogger } from '../../helpers/faulty-log.js';
import { join, PASSWORD } from './helpers.js';

/**
 * A logger that throws (pino to a closed pipe, EPIPE) on the switcher's lines. Outside a client's
 * frames (a takeover's eviction, close()) it failed the newcomer's admission as a bug of ours, and
 * made close() throw with the shutdown never begun. On the router's debug lines for every frame it
 * drops or refuses, it escaped into the switcher's guard for a bug of ours: the sender was dropped
 * for `error`, as if its frame had broken the switcher, and the refusal the line came before was
 * never sent.
 */

const switchers: Switcher[] = [];
afterEach(async () => {
  await Promise.all(switchers.splice(0).map((s) => s.close({ timeout: 500 }).catch(() => {})));
});

function make(levels: ('debug' | 'info' | 'warn')[], livenessTimeout = 3_000) {
  const log = captureLogger();
  const logger = { ...log };
  for (const level of levels) {
    logger[level] = () => {
      throw Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
    };
  }
  const sw = new Switcher({ password: PASSWORD, logger, livenessTimeout });
  switchers.push(sw);
  const errors: Error[] = [];
  sw.on('error', (e) => errors.push(e));
  const left: string[] = [];
  sw.on('clientLeft', (c, reason) => left.push(`${c.domain}:${reason}`));
  return { sw, errors, left };
}

describe("a logger that throws on the switcher's own lines", () => {
  it('a silent holder is evicted and the newcomer admitted, with no fault of ours', async () => {
    const { sw, errors, left } = make(['warn'], 50);
    const holder = await join(sw, 'alice');
    const newcomer = await join(sw, 'alice');
    await holder.closed;
    expect(left).toEqual(['alice:evicted']);
    expect(sw.client('alice')?.ip).toBe(newcomer.ip);
    expect(errors).toEqual([]);
  });

  it('close() closes the switcher and its clients', async () => {
    const { sw, left } = make(['info', 'warn']);
    const alice = await join(sw, 'alice');
    const closed = new Promise<void>((resolve) => sw.once('close', () => resolve()));
    await sw.close({ timeout: 1_000 });
    await closed;
    await alice.closed;
    expect(sw.state).toBe('closed');
    expect(left).toEqual(['alice:shutdown']);
  });
});

describe("a logger that throws on the router's lines", () => {
  it('a dropped frame is dropped and counted, and its sender stays', async () => {
    const { sw, errors, left } = make(['debug']);
    const alice = await join(sw, 'alice');
    // To an IP nobody holds: dropped, with a debug line.
    alice.send(makeFrame(Cmd.DATA, 0x7777, 1, alice.ip, 2, new Uint8Array([1])));
    await alice.barrier();
    expect(sw.stats().dropped).toBe(1);
    expect(errors).toEqual([]);
    expect(left).toEqual([]);
    expect(sw.clients().map((c) => c.domain)).toEqual(['alice']);
  });

  it('a refused dial is answered, and the dialer stays', async () => {
    const { sw, errors, left } = make(['debug']);
    const alice = await join(sw, 'alice');
    alice.send(
      makeFrame(Cmd.OPEN, SWITCHER_IP, 0, alice.ip, 9, encodeOpen({ domain: 'nobody', window: 65536 })),
    );
    const ack = await alice.next((f) => f.cmd === Cmd.OPEN_ACK && f.dstPort === 9);
    expect(ack.srcIP).toBe(LOCAL_IP);
    expect(decodeOpenAck(ack.payload).ok).toBe(false);
    await alice.barrier();
    expect(errors).toEqual([]);
    expect(left).toEqual([]);
  });
});
