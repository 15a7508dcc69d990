import { afterEach, describe, expect, it, vi } from 'vitest';
import { Switcher } from '../../../src/switcher/switcher.js';
import { Cmd, SWITCHER_IP } from '../../../src/wire/constants.js';
import { makeFrame } from '../../../src/wire/frame.js';
import { encodeOpen, rewriteOpenDomain } from '../../../src/wire/open.js';
import { captureLogger } from '../../helpers/faulty-log.js';
import { join, PASSWORD } from './helpers.js';

/**
 * The switcher writes the dialer's own domain into an OpenStream it forwards (3.4). A payload
 * that would grow past the frame limit so is the dialer's to lose: dropped. Anything else that
 * throws there is a bug of ours, and was taken for that drop all the same: counted against the
 * dialer with a wrong reason, and never logged. It is a routing failure now.
 */

vi.mock('../../../src/wire/open.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/wire/open.js')>();
  return { ...real, rewriteOpenDomain: vi.fn(real.rewriteOpenDomain) };
});

const switchers: Switcher[] = [];
afterEach(async () => {
  await Promise.all(switchers.splice(0).map((s) => s.close({ timeout: 200 })));
});

describe("a bug of ours as the dialer's domain is written into its open", () => {
  it('is a routing failure, not a drop of the dialer', async () => {
    const log = captureLogger();
    const sw = new Switcher({ password: PASSWORD, logger: log });
    switchers.push(sw);
    const errors: Error[] = [];
    sw.on('error', (e) => errors.push(e));
    const alice = await join(sw, 'alice');
    await join(sw, 'bob');
    const left = new Promise<string>((resolve) => sw.once('clientLeft', (_info, reason) => resolve(reason)));
    const bug = new TypeError('flexmux bug');
    vi.mocked(rewriteOpenDomain).mockImplementationOnce(() => {
      throw bug;
    });
    alice.send(makeFrame(Cmd.OPEN, SWITCHER_IP, 80, alice.ip, 1000, encodeOpen({ domain: 'bob' })));
    // Answered (no fault: the open dropped), or cut off as the switcher drops alice.
    await alice.barrier().catch(() => {});
    expect(errors).toEqual([bug]);
    expect(await left).toBe('error');
    const [line] = log.find('routing failed; dropping the client');
    expect(line).toMatchObject({ level: 'error', fields: { domain: 'alice', err: 'flexmux bug' } });
  });

  it('leaves the drop of a payload that would grow too long as it was', async () => {
    const sw = new Switcher({ password: PASSWORD });
    switchers.push(sw);
    const errors: Error[] = [];
    sw.on('error', (e) => errors.push(e));
    const alice = await join(sw, 'alice-with-a-longer-name');
    const bob = await join(sw, 'bob');
    // 'bob', NUL, a window and the rest up to the limit: the dialer's longer name cannot fit.
    const payload = new Uint8Array(65_535);
    payload.set(new TextEncoder().encode('bob'));
    alice.send(makeFrame(Cmd.OPEN, SWITCHER_IP, 80, alice.ip, 1000, payload));
    await alice.barrier();
    await bob.barrier();
    expect(bob.inbox.filter((f) => f.cmd === Cmd.OPEN)).toEqual([]);
    expect(sw.client('alice-with-a-longer-name')?.dropped).toBe(1);
    expect(errors).toEqual([]);
  });
});
