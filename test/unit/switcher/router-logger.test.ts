import { afterEach, describe, expect, it } from 'vitest';
import { Switcher } from '../../../src/switcher/switcher.js';
import { Cmd, LOCAL_IP, SWITCHER_IP } from '../../../src/wire/constants.js';
import { makeFrame } from '../../../src/wire/frame.js';
import { decodeOpenAck, encodeOpen } from '../../../src/wire/open.js';
import { captureLogger } from '../../helpers/faulty-log.js';
import { join, PASSWORD } from './helpers.js';

/**
 * The router logs every frame it drops or refuses at debug. A logger that throws there (pino to a
 * closed pipe, or a debug level writing to a terminal that hung up) escaped the router into the
 * switcher's guard for a bug of ours: the sender was dropped for `error`, as if its frame had
 * broken the switcher, and the refusal the line came before was never sent.
 */

const switchers: Switcher[] = [];
afterEach(async () => {
  await Promise.all(switchers.splice(0).map((s) => s.close({ timeout: 500 })));
});

function make() {
  const log = captureLogger();
  const debug = (): void => {
    throw Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
  };
  const sw = new Switcher({ password: PASSWORD, logger: { ...log, debug } });
  switchers.push(sw);
  const errors: Error[] = [];
  sw.on('error', (e) => errors.push(e));
  const left: string[] = [];
  sw.on('clientLeft', (c, reason) => left.push(`${c.domain}:${reason}`));
  return { sw, errors, left };
}

describe("a logger that throws on the router's lines", () => {
  it('a dropped frame is dropped and counted, and its sender stays', async () => {
    const { sw, errors, left } = make();
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
    const { sw, errors, left } = make();
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
