import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConnectionClosedError } from '../../../src/errors.js';
import { Scheduler } from '../../../src/scheduler.js';
import { SwitcherClient } from '../../../src/switcher/client.js';
import type { RefusalInfo } from '../../../src/switcher/gatekeeper.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { memoryPair } from '../../../src/transport/memory.js';
import type { TransportHandlers } from '../../../src/transport/types.js';
import { sealRequest } from '../../../src/wire/admission/index.js';
import { Cmd, SWITCHER_IP } from '../../../src/wire/constants.js';
import { FrameDecoder } from '../../../src/wire/decoder.js';
import { encodeFrame, makeFrame } from '../../../src/wire/frame.js';
import { captureLogger } from '../../helpers/faulty-log.js';
import { admitRaw, connectRaw, join, PASSWORD, Raw } from './helpers.js';

/**
 * A bug of ours that throws while the switcher reads or hands on a node's frames, outside the
 * router's own guard, is the switcher's fault: logged at error with its stack, the node dropped
 * as for a routing failure. It was taken for the node's malformed frame ('undecodable frame'):
 * the node left for `protocol`, and before admission it was refused as `malformed` and charged
 * to its host's failure budget.
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
  const refused: RefusalInfo[] = [];
  sw.on('refused', (r) => refused.push(r));
  return { sw, log, errors, refused };
}

/** Makes the client's bookkeeping of a command it sends for the first time throw. */
function breakClients(bug: Error): void {
  vi.spyOn(SwitcherClient.prototype as unknown as { seen: (cmd: number) => void }, 'seen').mockImplementation(
    () => {
      throw bug;
    },
  );
}

describe('a bug of ours while a frame is handled', () => {
  it("after admission: the client is dropped for the switcher's fault, not for a protocol error", async () => {
    const { sw, log, errors } = make();
    const alice = await join(sw, 'alice');
    const left = new Promise<string>((resolve) => sw.once('clientLeft', (_info, reason) => resolve(reason)));
    const bug = new TypeError('flexmux bug');
    breakClients(bug);
    void alice.barrier().catch(() => {});
    expect(await left).toBe('error');
    await alice.closed;
    expect(errors).toEqual([bug]);
    const [line] = log.find('routing failed; dropping the client');
    expect(line).toMatchObject({ level: 'error', fields: { domain: 'alice', err: 'flexmux bug' } });
    expect(line?.fields.stack).toContain('TypeError: flexmux bug');
  });

  it('on a frame sent behind the admission frame: the same', async () => {
    const { sw, log, errors } = make();
    const bug = new TypeError('flexmux bug');
    breakClients(bug);
    const left = new Promise<string>((resolve) => sw.once('clientLeft', (_info, reason) => resolve(reason)));
    const raw = connectRaw(sw);
    const req = await sealRequest(PASSWORD, { domain: 'bob', timestamp: BigInt(Date.now()) * 1_000_000n });
    const ping = encodeFrame(makeFrame(Cmd.PING, SWITCHER_IP, 0, 0, 7));
    const both = new Uint8Array(req.length + ping.length);
    both.set(req);
    both.set(ping, req.length);
    raw.send(both);
    expect(await left).toBe('error');
    await raw.closed;
    expect(errors).toEqual([bug]);
    expect(log.find('routing failed; dropping the client')).toHaveLength(1);
    expect(log.find('admission failed inside the switcher')).toEqual([]);
  });

  it('before admission: no malformed refusal charged to the host, but the fault of the switcher', async () => {
    const { sw, log, errors, refused } = make();
    const bug = new TypeError('flexmux bug');
    // The switcher's reader is the only decoder fed next: the raw peer has been sent nothing.
    vi.spyOn(FrameDecoder.prototype, 'push').mockImplementationOnce(() => {
      throw bug;
    });
    const raw = connectRaw(sw);
    raw.send(new Uint8Array(64));
    await raw.closed;
    await expect.poll(() => errors).toEqual([bug]);
    expect(refused).toEqual([]);
    const [line] = log.find('admission failed inside the switcher');
    expect(line).toMatchObject({ level: 'error', fields: { err: 'flexmux bug' } });
    expect(line?.fields.stack).toContain('TypeError: flexmux bug');
  });

  it('after the admission frame was read, before the reply: the same', async () => {
    const { sw, log, errors, refused } = make();
    const bug = new TypeError('flexmux bug');
    const real = FrameDecoder.prototype.push;
    // The admission frame is read; then the reader fails while the request is checked.
    vi.spyOn(FrameDecoder.prototype, 'push').mockImplementationOnce(function (this: FrameDecoder, chunk) {
      real.call(this, chunk);
      throw bug;
    });
    const raw = connectRaw(sw);
    raw.send(await sealRequest(PASSWORD, { domain: 'carol', timestamp: BigInt(Date.now()) * 1_000_000n }));
    await raw.closed;
    await expect.poll(() => errors).toEqual([bug]);
    expect(refused).toEqual([]);
    expect(log.find('admission failed inside the switcher')).toHaveLength(1);
    expect(sw.clients()).toEqual([]);
  });

  it('before the reply, on a transport that tells of its end later: not admitted', async () => {
    const { sw, log, errors, refused } = make();
    const bug = new TypeError('flexmux bug');
    const real = FrameDecoder.prototype.push;
    vi.spyOn(FrameDecoder.prototype, 'push').mockImplementationOnce(function (this: FrameDecoder, chunk) {
      real.call(this, chunk);
      throw bug;
    });
    const [a, b] = memoryPair({ framing: 'stream', remoteAddresses: ['switcher:7000', '10.9.9.9:4000'] });
    // Its end is not reported until the test says: the admission goes on meanwhile.
    const destroy = b.destroy.bind(b);
    const held: (Error | undefined)[] = [];
    vi.spyOn(b, 'destroy').mockImplementation((err) => {
      held.push(err);
    });
    sw.handle(b);
    const raw = new Raw(a);
    raw.send(await sealRequest(PASSWORD, { domain: 'dave', timestamp: BigInt(Date.now()) * 1_000_000n }));
    await expect.poll(() => errors).toEqual([bug]);
    expect(log.find('client admitted')).toEqual([]);
    expect(sw.clients()).toEqual([]);
    expect(refused).toEqual([]);
    expect(held[0]).toBeInstanceOf(ConnectionClosedError);
    destroy(held[0]);
    await raw.closed;
  });

  it("as the connection ends after admission: the switcher's fault, not the node's cut frame", async () => {
    const { sw, log, errors } = make();
    const alice = await join(sw, 'alice');
    const left = new Promise<string>((resolve) => sw.once('clientLeft', (_info, reason) => resolve(reason)));
    const bug = new TypeError('flexmux bug');
    vi.spyOn(FrameDecoder.prototype, 'end').mockImplementationOnce(() => {
      throw bug;
    });
    alice.t.close();
    expect(await left).toBe('error');
    expect(errors).toEqual([bug]);
    expect(log.find('routing failed; dropping the client')[0]?.fields.stack).toContain(
      'TypeError: flexmux bug',
    );
  });

  it('as the connection ends before admission: not refused as malformed nor charged', async () => {
    const { sw, log, errors, refused } = make();
    const bug = new TypeError('flexmux bug');
    vi.spyOn(FrameDecoder.prototype, 'end').mockImplementationOnce(() => {
      throw bug;
    });
    const raw = connectRaw(sw);
    // Part of a header: the connection ends inside a frame, where end() is asked.
    raw.send(new Uint8Array(5));
    raw.t.close();
    await expect.poll(() => errors).toEqual([bug]);
    expect(refused).toEqual([]);
    expect(log.find('admission failed inside the switcher')[0]?.fields.stack).toContain(
      'TypeError: flexmux bug',
    );
  });

  it('with a logger that throws: the client is dropped all the same, and nothing escapes', async () => {
    // Inside the transport's handler: the logger's throw (a closed pipe) escaped it as an
    // uncaught exception, which ends the process, and the client stayed connected and routed.
    const log = captureLogger();
    const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
    const logger = {
      ...log,
      error: () => {
        throw epipe;
      },
    };
    const sw = new Switcher({ password: PASSWORD, logger });
    switchers.push(sw);
    const errors: Error[] = [];
    sw.on('error', (e) => errors.push(e));
    const alice = await join(sw, 'alice');
    const left = new Promise<string>((resolve) => sw.once('clientLeft', (_info, reason) => resolve(reason)));
    const bug = new TypeError('flexmux bug');
    breakClients(bug);
    expect(() => alice.send(makeFrame(Cmd.PING, SWITCHER_IP, 0, alice.ip, 7))).not.toThrow();
    expect(await left).toBe('error');
    await alice.closed;
    expect(errors).toEqual([bug]);
    expect(sw.clients()).toEqual([]);
  });

  it('before admission, with a logger that throws: no unhandled rejection, the fault still reported', async () => {
    // The door's catch logged first: the logger's throw rejected its chain with nobody to hear
    // it, an unhandled rejection that ends the process, and the 'error' event was skipped.
    const log = captureLogger();
    const logger = {
      ...log,
      error: () => {
        throw new Error('write EPIPE');
      },
    };
    const sw = new Switcher({ password: PASSWORD, logger });
    switchers.push(sw);
    const errors: Error[] = [];
    sw.on('error', (e) => errors.push(e));
    const bug = new TypeError('flexmux bug');
    vi.spyOn(FrameDecoder.prototype, 'push').mockImplementationOnce(() => {
      throw bug;
    });
    const raw = connectRaw(sw);
    raw.send(new Uint8Array(64));
    await raw.closed;
    await expect.poll(() => errors).toEqual([bug]);
    await expect.poll(() => sw.stats().pendingAdmissions).toBe(0);
  });

  it("as the client's transport drains: the switcher's fault, and nothing escapes the handler", async () => {
    const { sw, log, errors } = make();
    const [a, b] = memoryPair({ framing: 'stream', remoteAddresses: ['switcher:7000', '10.9.9.7:4000'] });
    let handlers: TransportHandlers | undefined;
    const attach = b.attach.bind(b);
    vi.spyOn(b, 'attach').mockImplementation((h) => {
      handlers = h;
      attach(h);
    });
    sw.handle(b);
    const raw = new Raw(a);
    expect((await admitRaw(raw, 'erin')).errCode).toBe(0);
    const left = new Promise<string>((resolve) => sw.once('clientLeft', (_info, reason) => resolve(reason)));
    const bug = new TypeError('flexmux bug');
    vi.spyOn(Scheduler.prototype, 'drain').mockImplementationOnce(() => {
      throw bug;
    });
    // What the transport does once its buffer has room again.
    expect(() => handlers!.drain()).not.toThrow();
    expect(await left).toBe('error');
    expect(errors).toEqual([bug]);
    expect(log.find('routing failed; dropping the client')[0]?.fields.stack).toContain(
      'TypeError: flexmux bug',
    );
    await raw.closed;
  });
});
